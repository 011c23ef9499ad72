"""`python -m bot.ops.probe`: the container's health check, exit 0 when /livez answers.

It asks this container's own process on the metrics port (RALLYBOT_METRICS_PORT, else
PORT) on localhost; the standard library only, so it costs a few milliseconds."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def livez_url() -> str:
    port = os.environ.get("RALLYBOT_METRICS_PORT") or os.environ.get("PORT") or "3000"
    return f"http://127.0.0.1:{port.strip()}/livez"


def main() -> int:
    url = livez_url()
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            return 0 if answer.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"rallybot probe: {url} did not answer ({error})", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""Links people share: refused when they hide where they go, held for a lead when unsure.

Every link that can reach responders (attack links, the target's own post) goes through
`normalise` when it is parsed and through `assess` when an alert is raised. Whatever
passes is shown everywhere in one form: an internationalised host in its punycode
(`xn--…`) form, so a look-alike address shows where it really goes.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from bot.core.errors import BadInput

# Names that only mean something on the sender's own network.
_LOCAL_SUFFIXES = ("localhost", "local", "internal", "lan", "home.arpa", "localdomain", "intranet")
_ASCII_HOST = re.compile(r"^[a-z0-9_.-]+$")
# Scripts that legitimately share one label (Japanese, Korean, Chinese writing).
_SCRIPT_FAMILY = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK", "IDEOGRAPHIC": "CJK"}

SHORTENER = "shortener"
MIXED_SCRIPT = "mixed_script"


@dataclass(frozen=True)
class LinkRules:
    """Host lists from config/links.toml: each host matches itself and its subdomains."""

    shorteners: frozenset[str] = frozenset()  # hide where they lead: held for a lead
    trackers: frozenset[str] = frozenset()  # IP loggers and trackers: refused

    @classmethod
    def from_lists(cls, shorteners: Iterable[str], trackers: Iterable[str]) -> LinkRules:
        return cls(
            frozenset(h.strip().lower().rstrip(".") for h in shorteners if h.strip()),
            frozenset(h.strip().lower().rstrip(".") for h in trackers if h.strip()),
        )


@dataclass(frozen=True)
class Held:
    """A link a lead looks at before anyone is sent there, and why."""

    link: str
    reason: str  # SHORTENER or MIXED_SCRIPT


def normalise(url: str) -> str:
    """The link as everyone will see it (punycode host), or BadInput saying why it can't be
    used: a user name before the host (`https://x.com@evil.example/`), an address on a
    private network, link-local, loopback or `localhost`, or a host that can't be encoded."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise BadInput("error.link_userinfo", link=url[:80])
    raw = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        raise BadInput("error.bad_link", link=url[:80]) from None
    if "%" in raw or "\\" in raw:
        raise BadInput("error.bad_link", link=url[:80])
    try:
        ip = _ip(raw)
    except ValueError:
        raise BadInput("error.bad_link", link=url[:80]) from None
    if ip is not None:
        if not ip.is_global or ip.is_multicast:
            raise BadInput("error.link_private", link=url[:80])
        host = f"[{ip.compressed}]" if ip.version == 6 else ip.compressed
    else:
        host = _punycode(raw, url)
        bare = host.rstrip(".")
        if "." not in bare or any(bare == s or bare.endswith("." + s) for s in _LOCAL_SUFFIXES):
            raise BadInput("error.link_private", link=url[:80])
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


def assess(url: str, rules: LinkRules) -> Held | None:
    """Refuse a tracker (BadInput); say why a lead should look at a link first, if at all."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    if _listed(host, rules.trackers):
        raise BadInput("error.link_tracker", link=url[:80])
    if _listed(host, rules.shorteners):
        return Held(url, SHORTENER)
    if any(_mixed_script(label) for label in _unicode(host).split(".")):
        return Held(url, MIXED_SCRIPT)
    return None


def assess_all(urls: Iterable[str], rules: LinkRules) -> list[Held]:
    return [held for url in urls if (held := assess(url, rules)) is not None]


def _listed(host: str, hosts: frozenset[str]) -> bool:
    return any(host == h or host.endswith("." + h) for h in hosts)


def _punycode(host: str, url: str) -> str:
    if _ASCII_HOST.match(host):
        return host
    try:
        encoded = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise BadInput("error.bad_link", link=url[:80]) from None
    if not _ASCII_HOST.match(encoded):
        raise BadInput("error.bad_link", link=url[:80])
    return encoded


def _unicode(host: str) -> str:
    try:
        return host.encode("ascii").decode("idna")
    except UnicodeError:
        return host


def _mixed_script(label: str) -> bool:
    """Letters of more than one script in one label (a Cyrillic "a" among Latin letters)."""
    scripts = set()
    for ch in label:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        script = name.split(" ")[0] if name else "UNKNOWN"
        scripts.add(_SCRIPT_FAMILY.get(script, script))
    return len(scripts) > 1


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names, read the way browsers read it (so `0x7f.1`, `2130706433`
    and `::ffff:127.0.0.1` are all loopback)."""
    if not host:
        return None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return _ipv4_number(host)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _ipv4_number(host: str) -> ipaddress.IPv4Address | None:
    parts = host.rstrip(".").split(".")
    if _number(parts[-1]) is None:
        return None  # a name, not a number
    # A host ending in a number is an IPv4 address to a browser, or no address at all.
    values = [_number(part) for part in parts]
    if len(values) > 4 or any(v is None or v > 255 for v in values[:-1]):
        raise ValueError(host)
    last = values[-1]
    assert last is not None
    if last >= 256 ** (5 - len(values)):
        raise ValueError(host)
    number = last
    for i, v in enumerate(values[:-1]):
        number += (v or 0) * 256 ** (3 - i)
    return ipaddress.IPv4Address(number)


def _number(part: str) -> int | None:
    try:
        if part.lower().startswith("0x"):
            return int(part[2:] or "0", 16)
        if len(part) > 1 and part.startswith("0"):
            return int(part, 8)
        return int(part, 10) if part.isdigit() else None
    except ValueError:
        return None

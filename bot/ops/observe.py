"""/livez, /readyz and /metrics: is the process alive, can it do its job, how is delivery going.

/livez never touches the database or the outbox, so an orchestrator restarts only a process
that is stuck. /readyz says ok or not and which check failed, never a figure. /metrics (alert
counts by kind and severity) is served on a public port only to a bearer token.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from statistics import median

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.bootstrap import Runtime
from bot.delivery.outbox import Dispatcher
from bot.inbox.worker import InboxWorker
from bot.ops.platform import Platform
from bot.store import stats
from bot.store.inbox import count_waiting as inbox_waiting

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Observer:
    runtime: Runtime
    dispatcher: Dispatcher | None = None
    platforms: Sequence[Platform] = field(default_factory=list)
    max_lag: timedelta | None = None  # default: the outbox_lag_alarm setting
    inbox: InboxWorker | None = None  # this process's inbox worker, if it works the inbox
    _warned: bool = field(default=False, init=False, repr=False)

    async def health(self) -> tuple[bool, dict[str, object]]:
        """Healthy: the database answers, every platform is connected, the outbox keeps up."""
        checks: dict[str, object] = {}
        try:
            await stats.ping(self.runtime.engine)
            checks["database"] = "ok"
        except Exception as error:  # reported, not raised: a health check never crashes
            checks["database"] = f"unreachable ({type(error).__name__})"
        for platform in self.platforms:
            state = platform.health()
            checks[f"platform:{platform.chat.platform}"] = (
                "connected"
                if state.connected
                else f"not connected: {state.problem}"
                if state.problem
                else "disconnected"
            )
        if checks["database"] == "ok":
            figures = await stats.figures(self.runtime.engine, self.runtime.clock.now())
            lag = self._lag(figures)
            checks["outbox_pending"] = figures.outbox_pending
            checks["outbox_lag_seconds"] = round(lag.total_seconds(), 1)
            alarm = self.max_lag or timedelta(seconds=self.runtime.settings.outbox_lag_alarm)
            checks["outbox"] = "ok" if lag <= alarm else "lagging"
        healthy = all(
            v in ("ok", "connected")
            for k, v in checks.items()
            if k in ("database", "outbox") or k.startswith("platform:")
        )
        return healthy, checks

    def _lag(self, figures: stats.Figures) -> timedelta:
        if figures.outbox_oldest_due is None:
            return timedelta(0)
        return max(timedelta(0), self.runtime.clock.now() - figures.outbox_oldest_due)

    async def metrics(self) -> bytes:
        figures = await stats.figures(self.runtime.engine, self.runtime.clock.now())
        registry = CollectorRegistry(auto_describe=False)
        waiting = await inbox_waiting(self.runtime.engine)
        registry.register(
            _Snapshot(figures, self._lag(figures), self.dispatcher, self.inbox, waiting)
        )
        return generate_latest(registry)

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        """Ready or not, and each check as ok or what is wrong: no figures (they would tell
        anyone how much the collectives are attacked)."""
        healthy, checks = await self.health()
        shown = {
            name: "ok" if value in ("ok", "connected") else str(value)
            for name, value in checks.items()
            if name in ("database", "outbox") or name.startswith("platform:")
        }
        return healthy, shown

    async def livez(self, request: web.Request) -> web.Response:
        return web.json_response({"alive": True})

    async def readyz(self, request: web.Request) -> web.Response:
        ready, checks = await self.readiness()
        failed = sorted(name for name, value in checks.items() if value != "ok")
        body = {"ready": ready, "failed": failed, "checks": checks}
        return web.json_response(body, status=200 if ready else 503)

    async def healthz(self, request: web.Request) -> web.Response:
        """/readyz under its old name, for one release."""
        if not self._warned:
            self._warned = True
            log.warning("/healthz is deprecated and goes in the next release: use /readyz")
        response = await self.readyz(request)
        response.headers["Deprecation"] = "true"
        response.headers["Link"] = '</readyz>; rel="successor-version"'
        return response

    async def serve_metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=await self.metrics(), headers={"Content-Type": CONTENT_TYPE})

    async def guarded_metrics(self, request: web.Request) -> web.Response:
        """/metrics on a public port: 404 with no RALLYBOT_METRICS_TOKEN set, 401 without it."""
        token = self.runtime.settings.metrics_token
        if token is None:
            raise web.HTTPNotFound()
        expected = f"Bearer {token.get_secret_value()}".encode()
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return await self.serve_metrics(request)

    def add_routes(self, app: web.Application, private: bool = False) -> None:
        """The health and metrics routes; `private`: the metrics port, where /metrics needs no
        token (it listens on localhost unless RALLYBOT_METRICS_HOST says otherwise)."""
        app.router.add_get("/livez", self.livez)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.serve_metrics if private else self.guarded_metrics)


class _Snapshot(Collector):
    """One scrape's figures; labels are platforms, kinds, severities and states, never people."""

    def __init__(
        self,
        f: stats.Figures,
        lag: timedelta,
        d: Dispatcher | None,
        inbox: InboxWorker | None = None,
        inbox_waiting: int = 0,
    ) -> None:
        self.f, self.lag, self.d = f, lag, d
        self.inbox, self.inbox_waiting = inbox, inbox_waiting

    def collect(self) -> Iterator[Metric]:
        f = self.f
        alerts = CounterMetricFamily(
            "rallybot_alerts", "Alerts ever raised, by severity", labels=["severity"]
        )
        for severity, n in sorted(f.alerts_by_severity.items()):
            alerts.add_metric([severity], n)
        yield alerts
        by_status = GaugeMetricFamily(
            "rallybot_alerts_by_status", "Alerts now, by status", labels=["status"]
        )
        for status, n in sorted(f.alerts_by_status.items()):
            by_status.add_metric([status], n)
        yield by_status
        kinds = GaugeMetricFamily(
            "rallybot_alerts_raised_30d",
            "Alerts raised in the last 30 days, by kind",
            labels=["kind"],
        )
        for kind, n in sorted(f.alerts_by_kind.items()):
            kinds.add_metric([kind], n)
        yield kinds
        yield CounterMetricFamily(
            "rallybot_escalations", "Escalation steps taken", value=f.escalations
        )
        waits = f.first_response_seconds
        first = GaugeMetricFamily(
            "rallybot_first_response_seconds",
            "Rally to first responder, alerts answered in the last 7 days",
            labels=["quantile"],
        )
        if waits:
            ordered = sorted(waits)
            first.add_metric(["0.5"], median(ordered))
            first.add_metric(["0.9"], ordered[max(0, -(-len(ordered) * 9 // 10) - 1)])
        yield first
        yield GaugeMetricFamily(
            "rallybot_outbox_pending", "Outbox rows waiting to be sent", value=f.outbox_pending
        )
        yield GaugeMetricFamily(
            "rallybot_outbox_lag_seconds",
            "Age of the oldest due outbox row",
            value=self.lag.total_seconds(),
        )
        rows = GaugeMetricFamily(
            "rallybot_outbox_rows",
            "Outbox rows by platform and status",
            labels=["platform", "status"],
        )
        for (platform, status), n in sorted(f.outbox_by_platform.items()):
            rows.add_metric([platform, status], n)
        yield rows
        yield GaugeMetricFamily(
            "rallybot_requests_waiting",
            "Acknowledged requests not answered yet (the inbox, every process)",
            value=self.inbox_waiting,
        )
        if self.inbox is not None:
            yield GaugeMetricFamily(
                "rallybot_requests_running",
                "Acknowledged requests this process is working",
                value=self.inbox.busy,
            )
            answered = CounterMetricFamily(
                "rallybot_requests",
                "Requests this process answered, by outcome",
                labels=["outcome"],
            )
            answered.add_metric(["answered"], self.inbox.answered - self.inbox.failed)
            answered.add_metric(["failed"], self.inbox.failed)
            yield answered
        if self.d is not None:
            sends = CounterMetricFamily(
                "rallybot_deliveries", "Sends by this process, by outcome", labels=["outcome"]
            )
            sends.add_metric(["sent"], self.d.sent)
            sends.add_metric(["parked"], self.d.failed)
            yield sends
            yield CounterMetricFamily(
                "rallybot_rate_limited",
                "429s this process met (and honoured)",
                value=self.d.rate_limited,
            )

"""The Prometheus exposition of /metrics: a per-app registry whose collector reads a Snapshot."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from ntrbot.irc.stats import REASONS
from ntrbot.stats import DELIVERY_BUCKETS, Histogram, Snapshot

__all__ = ["Exporter"]
WEBSOCKET_PATHS = ("/ws/announce", "/ws/public", "/ws/dashboard")


def _histogram(name: str, doc: str, hist: Histogram) -> HistogramMetricFamily:
    return HistogramMetricFamily(name, doc, buckets=hist.cumulative(), sum_value=hist.sum)


def _counter(name: str, doc: str, label: str, values: dict[str, int],
             known: tuple[str, ...] = ()) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=[label])
    for key in sorted({*known, *values}):
        family.add_metric([key], values.get(key, 0))
    return family


def _families(snap: Snapshot) -> Iterator[Metric]:
    announces = CounterMetricFamily(
        "ntrbot_announces", "Announce outputs that reached a final state, by output and state",
        labels=["kind", "output", "state"])
    for output, state, count in snap.deliveries:
        announces.add_metric([output.partition(":")[0], output, state], count)
    yield announces
    yield _histogram("ntrbot_announce_delivery_seconds",
                     "Seconds from an announce (its air time, with a delay) to the first IRC "
                     "channel's confirmation", Histogram(DELIVERY_BUCKETS, snap.delivery_seconds))
    yield GaugeMetricFamily("ntrbot_irc_connected", "1 while registered on the IRC server",
                            value=int(snap.irc_connected))
    yield _counter("ntrbot_irc_reconnects", "IRC reconnects, by why the link or connect ended",
                   "reason", snap.reconnects, REASONS)
    yield CounterMetricFamily("ntrbot_irc_dead_links",
                              "IRC links dropped as dead (a line unconfirmed, or a ping timeout)",
                              value=snap.dead_links)
    yield _counter("ntrbot_irc_join_refusals", "JOINs the server refused, by numeric",
                   "numeric", snap.join_refusals)
    yield _counter("ntrbot_polls", "SoundCloud polls, by result", "result", snap.polls,
                   ("ok", "error"))
    sockets = GaugeMetricFamily("ntrbot_websocket_connections", "Open WebSocket connections",
                                labels=["path"])
    for path in WEBSOCKET_PATHS:
        if path in snap.websockets:
            sockets.add_metric([path], snap.websockets[path])
    yield sockets
    yield _counter("ntrbot_login_failures", "Dashboard logins refused (wrong credentials, or "
                   "throttled)", "reason", snap.login_failures, ("invalid", "throttled"))
    yield _histogram("ntrbot_event_loop_lag_seconds",
                     "How late the event loop woke a sleeping probe task",
                     snap.loop_lag.histogram)
    yield GaugeMetricFamily("ntrbot_event_loop_lag_last_seconds",
                            "The event loop's lag at the latest probe",
                            value=snap.loop_lag.last)
    yield GaugeMetricFamily("ntrbot_asyncio_tasks", "asyncio tasks not yet done",
                            value=snap.tasks)
    yield GaugeMetricFamily("ntrbot_process_threads", "Threads of the process", value=snap.threads)


class _SnapshotCollector(Collector):
    """A prometheus-client collector: `collect` reports the Snapshot being rendered."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def collect(self) -> Iterator[Metric]:
        if self.snapshot is not None:
            yield from _families(self.snapshot)


class Exporter:
    """One app's registry (never the global default one): ntrbot's state and the process
    (RSS, open fds, CPU: `ntrbot_process_*`, from /proc on Linux)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._state = _SnapshotCollector()
        self.registry.register(self._state)
        ProcessCollector(namespace="ntrbot", registry=self.registry)

    def render(self, snapshot: Snapshot) -> bytes:
        """The Prometheus text format of `snapshot` and the process, now."""
        self._state.snapshot = snapshot
        try:
            return generate_latest(self.registry)
        finally:
            self._state.snapshot = None

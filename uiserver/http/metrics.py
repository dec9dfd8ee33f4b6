"""Prometheus metrics: request latency by route, layout cache hits/misses, 304s, degraded answers.

Each process keeps its own registry (with `--workers N` every worker reports for itself).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _StatsCollector(Collector):
    """Reads the service's plain counters at scrape time: zero cost on the hot path."""

    def __init__(self, stats: Callable[[], Mapping[str, int]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[CounterMetricFamily]:
        stats = self._stats()
        family = CounterMetricFamily(
            "uiserver_layout_cache", "Layout cache lookups by result", labels=["result"]
        )
        family.add_metric(["hit"], stats.get("hits", 0))
        family.add_metric(["miss"], stats.get("misses", 0))
        yield family
        yield CounterMetricFamily(
            "uiserver_degraded", "Layouts served without the store (base layout)",
            value=stats.get("degraded", 0),
        )


class Metrics:
    """One registry per app, so tests can build many apps in one process."""

    def __init__(self, stats: Callable[[], Mapping[str, int]]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_StatsCollector(stats))
        self.latency = Histogram(
            "uiserver_request_seconds", "Request latency by route", ["route", "method"],
            buckets=BUCKETS, registry=self.registry,
        )
        self.not_modified = Counter(
            "uiserver_not_modified", "304 answers to If-None-Match", registry=self.registry
        )
        self.store_up = Gauge(
            "uiserver_store_up", "1 when the store answered the last readiness check",
            registry=self.registry,
        )
        self.layout_latency = self.latency.labels("/v1/layouts/{page}", "GET")

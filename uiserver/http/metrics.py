"""Prometheus metrics: request latency by route, layout cache hits/misses, 304s, degraded answers,
unexpected errors (`uiserver_unexpected_errors_total{stage}`, counted by `http/failures.py`).

Each process keeps its own registry (with `--workers N` every worker reports for itself).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class LatencySeries:
    """One route's histogram: a bisect and two additions per request.

    prometheus_client's Histogram takes a lock and walks its buckets in Python on every
    observation, which is a sizeable share of a warm GET's budget; this keeps plain counts and
    leaves the cumulative sums to scrape time.
    """

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds


class RouteLatency(Collector):
    """`uiserver_request_seconds{route, method}`: request latency by route template."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str], LatencySeries] = {}

    def series(self, route: str, method: str) -> LatencySeries:
        key = (route, method)
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = LatencySeries()
        return found

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(
            "uiserver_request_seconds", "Request latency by route", labels=["route", "method"]
        )
        for (route, method), series in sorted(self._series.items()):
            running, buckets = 0, []
            for bound, count in zip((*BUCKETS, float("inf")), series.counts, strict=True):
                running += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
            family.add_metric([route, method], buckets, series.total)
        yield family


class _StatsCollector(Collector):
    """Reads the service's plain counters at scrape time: zero cost on the hot path."""

    def __init__(
        self,
        stats: Callable[[], Mapping[str, int]],
        sizes: Callable[[], Mapping[str, int]],
        served: Callable[[], Mapping[tuple[str, str], int]],
    ) -> None:
        self._stats = stats
        self._sizes = sizes
        self._served = served

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self._stats()
        family = CounterMetricFamily(
            "uiserver_layout_cache", "Layout cache lookups by result", labels=["result"]
        )
        family.add_metric(["hit"], stats.get("hits", 0))
        family.add_metric(["miss"], stats.get("misses", 0))
        yield family
        yield CounterMetricFamily(
            "uiserver_background_errors",
            "Background writes (served orders, activity) that failed with an unexpected error",
            value=stats.get("background_errors", 0),
        )
        yield CounterMetricFamily(
            "uiserver_degraded",
            "Layouts served without the store (base layout)",
            value=stats.get("degraded", 0),
        )
        sizes = GaugeMetricFamily(
            "uiserver_cache_entries", "Entries held by each bounded cache", labels=["cache"]
        )
        for name, size in sorted(self._sizes().items()):
            sizes.add_metric([name], size)
        yield sizes
        served = CounterMetricFamily(
            "uiserver_layouts_served",
            "Layouts served by page and template version (a staged rollout shows both)",
            labels=["page", "version"],
        )
        for (page, version), count in sorted(self._served().items()):
            served.add_metric([page, version], count)
        yield served


class Metrics:
    """One registry per app, so tests can build many apps in one process."""

    def __init__(
        self,
        stats: Callable[[], Mapping[str, int]],
        sizes: Callable[[], Mapping[str, int]] = dict,
        served: Callable[[], Mapping[tuple[str, str], int]] = dict,
    ) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_StatsCollector(stats, sizes, served))
        self.latency = RouteLatency()
        self.registry.register(self.latency)
        self.not_modified = Counter(
            "uiserver_not_modified", "304 answers to If-None-Match", registry=self.registry
        )
        self.store_up = Gauge(
            "uiserver_store_up",
            "1 when the store answered the last readiness check",
            registry=self.registry,
        )
        self.layout_latency = self.latency.series("/v1/layouts/{page}", "GET")
        self.unexpected_errors = Counter(
            "uiserver_unexpected_errors",
            "Unexpected errors (bugs) by when they struck: before_response (answered 500), "
            "during_response (the connection was aborted), after_response (a background task)",
            labelnames=["stage"],
            registry=self.registry,
        )

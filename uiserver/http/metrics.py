"""Prometheus metrics an operator can alert on; every label set is bounded.

- `uiserver_request_seconds{route, method}` (histogram) and `uiserver_requests_total{route,
  method, status_class}`: `route` is the route template (never the raw path), `method` one of
  `METHODS` or `other` (a made-up method never adds a series), `status_class` `2xx`..`5xx`;
  `uiserver_http_errors_total{status_class}` sums the 4xx and 5xx answers.
- layout cache hits/misses, 304s, degraded answers, bounded cache sizes;
  `uiserver_layouts_served_total{page, version}` for the versions served now (a staged rollout
  shows both; versions no longer served are dropped, so the series stay bounded by pages x 2);
- `uiserver_unexpected_errors_total{stage}` (counted by `http/failures.py`),
  `uiserver_store_errors_total{kind}` (`store.base.StoreUnavailable` by kind),
  `uiserver_invalidations_total{direction, kind}` (sent by this process's writes, received from
  other replicas), `uiserver_events_total{outcome, reason}` (what `POST /v1/me/events` stored and
  ignored);
- `uiserver_open_connections` (uvicorn: connections held by this worker),
  `uiserver_requests_in_flight`, and prometheus_client's process collector
  (`process_resident_memory_bytes`, `process_open_fds`, CPU seconds);
- the garbage collector: prometheus_client's `python_gc_collections_total{generation}` and
  `python_gc_objects_collected_total`, `uiserver_gc_threshold{generation}` and
  `uiserver_gc_frozen_objects` (`http/collector.py`, `--gc-thresholds`).

Each process keeps its own registry (with `--workers N` every worker reports for itself).
"""

from __future__ import annotations

import gc
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, GCCollector, ProcessCollector
from prometheus_client import metrics as prometheus_metrics
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Methods with a series of their own (RFC 9110 section 9.3 plus PATCH, RFC 5789); any other
# method a client makes up is counted as `other`.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


class LatencySeries:
    """One route's histogram: a bisect and two additions per request.

    prometheus_client's Histogram takes a lock and walks its buckets in Python on every
    observation, which is a sizeable share of a warm GET's budget; this keeps plain counts and
    leaves the cumulative sums to scrape time.
    """

    __slots__ = ("counts", "statuses", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0
        self.statuses = [0] * 6  # answers by status // 100 (index 0: none sent)

    def observe(self, seconds: float, status: int = 200) -> None:
        """One request: its latency in seconds and the status answered (0: none sent)."""
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds
        self.statuses[status // 100 if 100 <= status < 600 else 0] += 1


class RouteLatency(Collector):
    """`uiserver_request_seconds{route, method}` and `uiserver_requests_total{route, method,
    status_class}`: latency and answers by route template. `route` comes from the app's own
    routes (or `other`) and `method` from `METHODS` (or `other`), so the series are bounded."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str], LatencySeries] = {}
        self.in_flight = 0  # requests being answered now (`uiserver_requests_in_flight`)

    def series(self, route: str, method: str) -> LatencySeries:
        key = (route, method if method in METHODS else "other")
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = LatencySeries()
        return found

    def collect(self) -> Iterator[HistogramMetricFamily | CounterMetricFamily | GaugeMetricFamily]:
        family = HistogramMetricFamily(
            "uiserver_request_seconds", "Request latency by route", labels=["route", "method"]
        )
        answers = CounterMetricFamily(
            "uiserver_requests",
            "Requests by route, method and status class",
            labels=["route", "method", "status_class"],
        )
        errors = [0] * 6
        for (route, method), series in sorted(self._series.items()):
            running, buckets = 0, []
            for bound, count in zip((*BUCKETS, float("inf")), series.counts, strict=True):
                running += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
            family.add_metric([route, method], buckets, series.total)
            for index, count in enumerate(series.statuses):
                errors[index] += count
                if count:
                    label = STATUS_CLASSES[index - 1] if index else "none"
                    answers.add_metric([route, method, label], count)
        yield family
        yield answers
        http_errors = CounterMetricFamily(
            "uiserver_http_errors",
            "Answers with a 4xx (the caller's mistake) or 5xx (a bug or an outage) status",
            labels=["status_class"],
        )
        http_errors.add_metric(["4xx"], errors[4])
        http_errors.add_metric(["5xx"], errors[5])
        yield http_errors
        yield GaugeMetricFamily(
            "uiserver_requests_in_flight", "Requests being answered now", value=self.in_flight
        )


class _GarbageCollector(Collector):
    """The garbage collector's settings (`http/collector.py`): `uiserver_gc_threshold{generation}`
    and `uiserver_gc_frozen_objects`; prometheus_client's `python_gc_*` count its work."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        threshold = GaugeMetricFamily(
            "uiserver_gc_threshold",
            "The garbage collector's threshold of each generation (gc.get_threshold)",
            labels=["generation"],
        )
        for generation, value in enumerate(gc.get_threshold()):
            threshold.add_metric([str(generation)], value)
        yield threshold
        yield GaugeMetricFamily(
            "uiserver_gc_frozen_objects",
            "Objects moved to the permanent generation after start-up (gc.freeze)",
            value=gc.get_freeze_count(),
        )


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


class PlainCounter(Collector):
    """A counter without labels kept as a plain int (`count += 1`, no lock, no call), exposed
    at scrape time exactly as prometheus_client's `Counter` would be: `<name>_total` and, unless
    created series are disabled (`PROMETHEUS_DISABLE_CREATED_SERIES`), `<name>_created` (Unix
    seconds it was made). For counters a warm request bumps: `Counter.inc` takes a lock."""

    __slots__ = ("count", "created", "documentation", "name")

    def __init__(self, name: str, documentation: str) -> None:
        self.name = name
        self.documentation = documentation
        self.count = 0
        self.created = time.time() if prometheus_metrics._use_created else None

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(self.name, self.documentation, self.count, created=self.created)


@dataclass(frozen=True, slots=True)
class Family:
    """A metric family read at scrape time from plain counters the parts keep (no cost on the
    hot path): `read()` gives label values -> value; the labels must come from a fixed set."""

    name: str
    help: str
    labels: tuple[str, ...]
    read: Callable[[], Mapping[Any, float]]  # label values (a tuple of str) -> value
    gauge: bool = False


class _Families(Collector):
    def __init__(self, families: tuple[Family, ...]) -> None:
        self._families = families

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        for spec in self._families:
            kind = GaugeMetricFamily if spec.gauge else CounterMetricFamily
            family = kind(spec.name, spec.help, labels=list(spec.labels))
            for labels, value in sorted(spec.read().items()):
                family.add_metric(list(labels), value)
            yield family


class Metrics:
    """One registry per app, so tests can build many apps in one process."""

    def __init__(
        self,
        stats: Callable[[], Mapping[str, int]],
        sizes: Callable[[], Mapping[str, int]] = dict,
        served: Callable[[], Mapping[tuple[str, str], int]] = dict,
        families: tuple[Family, ...] = (),
    ) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_StatsCollector(stats, sizes, served))
        self.registry.register(_Families(families))
        ProcessCollector(registry=self.registry)  # memory, open files, CPU (Linux /proc)
        GCCollector(registry=self.registry)  # python_gc_collections_total{generation}, ...
        self.registry.register(_GarbageCollector())
        self.latency = RouteLatency()
        self.registry.register(self.latency)
        self.not_modified = PlainCounter("uiserver_not_modified", "304 answers to If-None-Match")
        self.registry.register(self.not_modified)
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

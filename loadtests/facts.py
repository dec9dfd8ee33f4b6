"""What a report must record beside its numbers: the machine, the versions, the server's own
counters (Prometheus `/metrics`, sampled while the load runs)."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

# `name{labels} value` lines of the Prometheus text format (comments skipped).
# Label values are quoted and may hold braces (route="/v1/layouts/{page}").
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[^"}]|"[^"]*")*\})?)\s+(\S+)$')


def machine_info() -> dict[str, Any]:
    cpuinfo = _read("/proc/cpuinfo")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    mem = re.search(r"^MemTotal:\s*(\d+) kB", _read("/proc/meminfo"), re.M)
    return {
        "cpu_model": model.group(1).strip() if model else platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gb": round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None,
        "kernel": platform.release(),
        "os": _os_name(),
    }


def _os_name() -> str:
    pretty = re.search(r'^PRETTY_NAME="?([^"\n]+)', _read("/etc/os-release"), re.M)
    return pretty.group(1) if pretty else platform.system()


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def busy_share(seconds: float = 2.0) -> float:
    """Share of all CPUs busy over the next `seconds` (from /proc/stat): taken while this run
    has nothing running, it is other tenants' work."""

    def sample() -> tuple[int, int]:
        values = [int(x) for x in _read("/proc/stat").splitlines()[0].split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        return sum(values), idle

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    spent = total1 - total0
    return 1 - (idle1 - idle0) / spent if spent else 0.0


def versions() -> dict[str, str]:
    found: dict[str, str] = {"python": sys.version.split()[0]}
    for package in (
        "uiserver",
        "uvicorn",
        "starlette",
        "uvloop",
        "httptools",
        "msgspec",
        "locust",
        "geventhttpclient",
    ):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    try:
        import uiserver

        found["uiserver source"] = str(Path(uiserver.__file__).resolve().parent.parent)
    except ImportError:
        found["uiserver source"] = "not importable"
    found["wrk"] = _tool_version(["wrk", "--version"], r"wrk ([^\s]+)")
    found["nginx"] = _tool_version(["nginx", "-v"], r"nginx/([^\s]+)")
    return found


def _tool_version(argv: list[str], pattern: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    match = re.search(pattern, done.stdout + done.stderr)
    return match.group(1) if match else "unknown"


def parse_metrics(text: str) -> dict[str, float]:
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = _SAMPLE.match(line.strip())
        if match:
            try:
                samples[match.group(1)] = float(match.group(2))
            except ValueError:
                continue
    return samples


HIT = 'uiserver_layout_cache_total{result="hit"}'
MISS = 'uiserver_layout_cache_total{result="miss"}'
NOT_MODIFIED = "uiserver_not_modified_total"


# The server's own latency histogram of the layout route (time inside the handler).
LAYOUT_BUCKET = re.compile(
    r'^uiserver_request_seconds_bucket\{(?=.*route="/v1/layouts/\{page\}")'
    r'(?=.*method="GET").*le="([^"]+)"'
)


def scrape(base_url: str) -> dict[str, float]:
    """The counters the report uses (0 when absent), and the layout latency buckets as
    `le:<seconds>` keys."""
    samples = parse_metrics(httpx.get(f"{base_url}/metrics", timeout=5).text)
    found = {
        "hits": samples.get(HIT, 0.0),
        "misses": samples.get(MISS, 0.0),
        "not_modified": samples.get(NOT_MODIFIED, 0.0),
    }
    for name, value in samples.items():
        match = LAYOUT_BUCKET.match(name)
        if match:
            found[f"le:{match.group(1)}"] = value
    return found


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    change = {key: after[key] - before.get(key, 0.0) for key in after}
    lookups = change["hits"] + change["misses"]
    change["hit_rate"] = change["hits"] / lookups if lookups else 0.0
    return change


def histogram_quantile(change: dict[str, float], q: float) -> float | None:
    """Upper bound (ms) of the bucket holding quantile `q` of the server-side layout latency
    (coarse, as Prometheus buckets are; None without data)."""
    buckets = sorted((float(k[3:]), v) for k, v in change.items() if k.startswith("le:"))
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    for bound, count in buckets:
        if count >= q * total:
            return bound * 1000
    return None


class MetricsSampler(threading.Thread):
    """Scrapes /metrics once a second while the load runs (for the cache hit-rate plot).

    With `--workers N` each scrape is answered by one worker and counts for that worker only,
    so samples are only comparable with one worker; the report says so.
    """

    def __init__(self, base_url: str, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.interval = interval
        self.samples: list[dict[str, float]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                sample = scrape(self.base_url)
                sample["t"] = time.time()
                self.samples.append(sample)
            except httpx.HTTPError:
                pass
            self._halt.wait(self.interval)

    def stop(self) -> list[dict[str, float]]:
        self._halt.set()
        self.join(timeout=10)
        return self.samples

"""One command that benchmarks uiserver honestly and writes a report you can read at a glance.

    python loadtests/run.py --users 200 --spawn-rate 50 --duration 30s --population 100000 \
        --workers 1 --out bench-out          # or: uiserver bench --users 200 ...

It seeds a population into a fresh store, starts `uiserver serve` as a real process, warms it,
measures warm-GET and 304 throughput with wrk, runs the locust model of launch traffic, then —
in the same run, with the same tool and settings — the bare Starlette route (our ceiling) and
nginx serving the same bytes (the physical limit), and the engine micro-benchmark. The server
and the load generators are pinned to separate cores when there are two. Ratios are the
headline; `report.md`, `stats.json` and PNG plots land in `--out`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# Benchmark the checkout this file sits in, whatever `pip install -e` last pointed at (and make
# `loadtests` importable when this runs as `python loadtests/run.py`).
if str(HERE.parent) not in sys.path[:1]:
    sys.path.insert(0, str(HERE.parent))

from loadtests.baselines import (  # noqa: E402
    Measurer,
    WarmSet,
    paired_ratio,
    start_baselines,
    summarize,
    uiserver_targets,
    warm_up,
)
from loadtests.facts import (  # noqa: E402
    MetricsSampler,
    busy_share,
    delta,
    histogram_quantile,
    machine_info,
    scrape,
    versions,
)
from loadtests.perfreport import perf_headline  # noqa: E402
from loadtests.population import (  # noqa: E402
    PERSONA_MIX,
    Member,
    build_population,
    mint_tokens,
    persona_counts,
    seed_store,
    write_population,
)
from loadtests.report import history, make_plots, read_csv, request_rows, write_report  # noqa: E402
from loadtests.servers import (  # noqa: E402
    ROOT,
    Pinning,
    Proc,
    choose_pinning,
    cpu_seconds,
    free_port,
    record_processes,
    server_env,
    stop_all,
)
from loadtests.servers import start_uiserver as _start_uiserver  # noqa: E402
from loadtests.servers import started as wait_started  # noqa: E402
from loadtests.wrkbench import wrk_available  # noqa: E402
from uiserver.config import DEFAULT_SERVER, SERVERS  # noqa: E402

TARGETS = {"get_vs_bare": 0.8, "not_modified_vs_bare": 0.9, "p99_ms": 25.0, "failures": 0}
# (headline name, numerator, denominator) of every throughput ratio, and the targets (DESIGN 7).
RATIOS = (
    ("warm GET / bare", "uiserver_get", "bare_get"),
    ("304 / bare", "uiserver_304", "bare_get"),
    ("304 / bare 304", "uiserver_304", "bare_304"),
    ("bare / nginx", "bare_get", "nginx_get"),
    ("warm GET / nginx", "uiserver_get", "nginx_get"),
)
RATIO_TARGETS = {
    "warm GET / bare": TARGETS["get_vs_bare"],
    "304 / bare": TARGETS["not_modified_vs_bare"],
}
LAYOUT = "/v1/layouts/[page]"
TOKEN_TTL = 6 * 3600


class Progress:
    """Timestamped phase lines on stdout, so a long run shows where it is; `phase(name)` adds
    the wall seconds spent in it to `seconds` (stats.json's `phase_seconds`, the console's
    last line), so a run's length is accounted for."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.seconds: dict[str, float] = {}
        started = process_age()
        if started is not None:  # the interpreter's and the imports' time before this
            self.seconds["start-up"] = round(started, 2)

    def __call__(self, message: str) -> None:
        elapsed = time.monotonic() - self.start
        print(f"[{time.strftime('%H:%M:%S')} +{elapsed:6.1f}s] {message}", flush=True)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            spent = self.seconds.get(name, 0.0) + time.monotonic() - started
            self.seconds[name] = round(spent, 2)

    def wall(self) -> float:
        """Seconds since the process started (since this object, where that is unknown)."""
        return self.seconds.get("start-up", 0.0) + time.monotonic() - self.start


def process_age() -> float | None:
    """Seconds since this process started (Linux /proc: its start time in clock ticks since
    boot against the uptime); None elsewhere."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0.0, uptime - ticks / os.sysconf("SC_CLK_TCK"))


def time_line(seconds_by_phase: dict[str, float], wall: float, duration: float) -> str:
    """`time: start-up 2.0 s, ... = 86 s (--duration 30 s + 56 s)`: where a run's time went."""
    spent = ", ".join(f"{name} {value:.1f} s" for name, value in seconds_by_phase.items())
    if "locust" not in seconds_by_phase:  # --ladder-only, --memory-only: no --duration ran
        return f"time: {spent} = {wall:.0f} s"
    return f"time: {spent} = {wall:.0f} s (--duration {duration:g} s + {wall - duration:.0f} s)"


def seconds(duration: str) -> float:
    """`30s`, `2m`, `1h30m`, `45` -> seconds (locust's and wrk's duration syntax)."""
    total, number = 0.0, ""
    for char in duration.strip():
        if char.isdigit() or char == ".":
            number += char
        else:
            total += float(number) * {"s": 1, "m": 60, "h": 3600}[char]
            number = ""
    return total + (float(number) if number else 0.0)


def _pair(value: str) -> str:
    low, high = (float(x) for x in value.split(","))
    if low > high:
        raise argparse.ArgumentTypeError("expected min,max")
    return value


def build_parser(prog: str = "loadtests/run.py") -> argparse.ArgumentParser:
    """The runner's options; `prog` is how its usage names it (`uiserver bench` from the CLI)."""
    p = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--users", type=int, default=200, help="simulated clients (locust -u)")
    p.add_argument("--spawn-rate", type=float, default=50, help="locust -r")
    p.add_argument("--duration", default="30s", help="locust -t (e.g. 30s, 2m)")
    p.add_argument("--population", type=int, default=100_000, help="seeded users")
    p.add_argument("--workers", type=int, default=1, help="uiserver workers (and the bare route's)")
    p.add_argument(
        "--server",
        choices=SERVERS,
        default=DEFAULT_SERVER,
        help=f"`uiserver serve --server` measured, and the server the bare Starlette route runs "
        f"on (default {DEFAULT_SERVER}, the server's own default; granian serves the layout "
        "route on RSGI, the bare route on ASGI)",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="output folder (default: bench-out/<time>)"
    )
    p.add_argument("--host-cpu", default="0", help="taskset CPU list for the servers")
    p.add_argument("--load-cpu", default="1", help="taskset CPU list for locust and wrk")
    p.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--smoke",
        action="store_true",
        help="CI mode: seconds-long baselines, frequent settings changes and "
        "publishes so the checks run; figures are not meaningful",
    )
    p.add_argument(
        "--wrk-duration", default=None, help="per wrk run (default 1s; 5s with the ladder)"
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="interleaved rounds of every wrk target (default 3)",
    )
    p.add_argument("--wrk-connections", type=int, default=64)
    p.add_argument("--wrk-threads", type=int, default=1)
    p.add_argument(
        "--wrk-clients", type=int, default=1000, help="distinct warm clients wrk replays"
    )
    p.add_argument("--skip-baselines", action="store_true", help="locust only")
    p.add_argument(
        "--engine-alone",
        action="store_true",
        help="run the engine micro-benchmark after the load with nothing else of the run going "
        "(default: on the server core while the runner seeds the store on the load core, "
        "which saves its 5-13 s; p50 within ~10%% of alone, docs/BENCHMARKS.md)",
    )
    p.add_argument(
        "--wait",
        type=_pair,
        default="0.2,1.0",
        help="seconds between one client's launches: min,max",
    )
    p.add_argument(
        "--hot",
        type=_pair,
        default="0.02,0.7",
        help="daily-active share of the population, share of launches they make",
    )
    p.add_argument(
        "--settings-share",
        type=float,
        default=None,
        help="share of launches that change a setting (default 0.02)",
    )
    p.add_argument(
        "--publish-every",
        type=float,
        default=None,
        help="seconds between the designer's publishes (default 10)",
    )
    p.add_argument(
        "--memory-check", action="store_true", help="also measure server RSS as distinct users grow"
    )
    p.add_argument(
        "--memory-only",
        action="store_true",
        help="only the memory check (no population, locust or baselines)",
    )
    p.add_argument(
        "--memory-users",
        default="10000,1000000",
        help="low,high distinct users for the memory check",
    )
    p.add_argument(
        "--ladder",
        action="store_true",
        help="also run the ladder (nginx, raw apps on granian/uvicorn, bare route, "
        "uiserver warm/304/first launch on uvicorn and granian, SQLite and "
        "Redis), the first-launch profile, the publish pass and the "
        "hostile-traffic check (loadtests/perfphase.py)",
    )
    p.add_argument(
        "--ladder-only", action="store_true", help="only the ladder phase (no locust run)"
    )
    p.add_argument(
        "--ladder-users",
        type=int,
        default=None,
        help="users bulk-seeded into each ladder store (default 1000000)",
    )
    p.add_argument(
        "--ladder-stores",
        default="sqlite,redis",
        help="stores of the uiserver rungs: sqlite, redis, redis-cluster (3 primaries)",
    )
    p.add_argument(
        "--ladder-servers",
        default="uvicorn,granian",
        help="uiserver rungs: uvicorn (ASGI), granian (RSGI), granian-asgi (the factory on "
        "granian's ASGI interface)",
    )
    p.add_argument(
        "--ladder-warm-clients",
        type=int,
        default=500,
        help="distinct warm users the ladder replays",
    )
    p.add_argument(
        "--profile-seconds",
        type=float,
        default=None,
        help="py-spy over first launches, per uiserver (default 8; 0 = off)",
    )
    p.add_argument(
        "--publish-pass-users",
        type=int,
        default=None,
        help="users in the publish pass (default 100000; 0 = off)",
    )
    p.add_argument(
        "--events-batches",
        type=int,
        default=None,
        help="event batches posted to measure their cost (default 2000)",
    )
    p.add_argument(
        "--hostile-duration",
        type=float,
        default=None,
        help="seconds of hostile junk-query traffic (default 30; 0 = off)",
    )
    p.add_argument(
        "--memory-cap",
        type=int,
        default=None,
        help="drive at most this many users (default: 2.5x the largest cache bound; 0 = no cap)",
    )
    return p


# The wrk baselines in the order of their first round, and the discarded warm-up each server
# gets before its first measured run (none in a smoke run).
BASELINE_ORDER = ["uiserver_get", "bare_get", "nginx_get", "uiserver_304", "bare_304", "nginx_304"]
BASELINE_WARMUP = "1s"


def baseline_warmup(args: argparse.Namespace) -> str | None:
    return None if args.smoke else BASELINE_WARMUP


def planned_seconds(args: argparse.Namespace) -> dict[str, float]:
    """The phases whose length the options fix, in seconds (after `apply_mode_defaults`): wrk's
    baselines (targets x rounds x `--wrk-duration`, plus one warm-up per server) and locust
    (`--duration`). The rest of a run (population, seeding, server start, warm-up launches,
    report) is CPU work whose length follows the machine and its load."""
    planned = {"locust": seconds(args.duration)}
    if not (args.skip_baselines or args.ladder_only or args.memory_only):
        warmup = baseline_warmup(args)
        servers = {name.split("_")[0] for name in BASELINE_ORDER}
        planned["baselines"] = len(BASELINE_ORDER) * args.rounds * seconds(args.wrk_duration) + (
            len(servers) * seconds(warmup) if warmup else 0.0
        )
    return planned


def apply_mode_defaults(args: argparse.Namespace) -> None:
    """Smoke runs must exercise every check within seconds; full runs model real rates."""
    smoke = args.smoke
    if args.wrk_duration is None:
        # A default run stays within a minute of --duration: the baselines are 21 s of it
        # (`planned_seconds`); the ladder is a long run.
        args.wrk_duration = "5s" if (args.ladder or args.ladder_only) and not smoke else "1s"
    if args.rounds is None:
        args.rounds = 1 if smoke else 3
    if args.settings_share is None:
        args.settings_share = 0.3 if smoke else 0.02
    if args.publish_every is None:
        args.publish_every = 1.0 if smoke else 10.0
    if args.out is None:
        args.out = Path("bench-out") / time.strftime("%Y%m%d-%H%M%S")
    for name, full, quick in (
        ("ladder_users", 1_000_000, 60_000),
        ("profile_seconds", 8.0, 1.0),
        ("publish_pass_users", 100_000, 500),
        ("events_batches", 2_000, 20),
        ("hostile_duration", 30.0, 2.0),
    ):
        if getattr(args, name) is None:
            setattr(args, name, quick if smoke else full)


# --------------------------------------------------------------------------- population


def movable_components(page: str = "home") -> list[str]:
    """Component ids of `page` that personalization may move (seeded clicks name them)."""
    from uiserver.catalog import load_templates

    template = load_templates(ROOT / "layouts")[page]
    return [c.id for c in template.components if not c.pinned]


async def _seed(data_dir: Path, members: list[Member]) -> dict[str, int]:
    from uiserver.store.factory import open_store

    store = open_store("", data_dir)
    await store.open()
    try:
        return await seed_store(store, members, "home")
    finally:
        await store.close()


def prepare(args: argparse.Namespace, progress: Progress) -> list[Member]:
    """The population, seeded into a fresh store in `out/data`; tokens not minted yet (that
    is done while the server starts: `serve_and_load`)."""
    data_dir = args.out / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    with progress.phase("population"):
        started = time.monotonic()
        members = build_population(args.population, args.seed, movable_components())
        progress(f"population: {len(members):,} users ({time.monotonic() - started:.1f}s)")
    with progress.phase("seeding"):
        started = time.monotonic()
        counts = asyncio.run(_seed(data_dir, members))
        progress(f"seeded the store in {time.monotonic() - started:.1f}s: {counts}")
    return members


# --------------------------------------------------------------------------- locust


def run_locust(
    args: argparse.Namespace,
    base_url: str,
    population_file: Path,
    pin: Pinning,
    progress: Progress,
    server_pid: int,
) -> dict[str, Any]:
    """Headless locust on the load core; progress lines from its history CSV, and how busy
    the server and locust were (a p99 means little without it)."""
    out: Path = args.out
    prefix = out / "locust"
    counts_file = out / "locust_checks.json"
    env = {
        **os.environ,
        "LOADTEST_POPULATION": str(population_file),
        "LOADTEST_COUNTS_FILE": str(counts_file),
        "LOADTEST_SEED": str(args.seed),
        "LOADTEST_WAIT": args.wait,
        "LOADTEST_HOT": args.hot,
        "LOADTEST_SETTINGS_SHARE": str(args.settings_share),
        "LOADTEST_PUBLISH_EVERY": str(args.publish_every),
    }
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(HERE / "locustfile.py"),
        "--headless",
        "-u",
        str(args.users),
        "-r",
        str(args.spawn_rate),
        "-t",
        args.duration,
        "--csv",
        str(prefix),
        "--html",
        str(out / "locust.html"),
        "--host",
        base_url,
        "--only-summary",
        "--stop-timeout",
        "3",
        "--exit-code-on-error",
        "0",
    ]
    sampler = MetricsSampler(base_url)
    before = scrape(base_url)
    sampler.start()
    proc = Proc("locust", pin.load(argv), out / "locust.log", env=env)
    deadline = time.monotonic() + seconds(args.duration) + 120
    cpu = CpuWindow(server_pid, proc.pid)
    ticks = 0
    try:
        while proc.alive() and time.monotonic() < deadline:
            time.sleep(1)  # polled every second: the run ends when locust does
            ticks += 1
            if _locust_progress(prefix, progress, ticks % 5 == 0 or args.smoke):
                cpu.sample()
    finally:
        proc.stop(timeout=30)
        samples = sampler.stop()
    after = scrape(base_url)
    if proc.popen.returncode not in (0, -2) or not Path(f"{prefix}_stats.csv").exists():
        raise RuntimeError(f"locust failed ({proc.popen.returncode}):\n{proc.tail(30)}")
    checks = json.loads(counts_file.read_text()) if counts_file.exists() else {}
    return {
        "prefix": prefix,
        "checks": checks,
        "cache": delta(before, after),
        "samples": samples,
        "cpu": cpu.shares(),
    }


class CpuWindow:
    """CPU used by the server and by locust between the first and the last sample taken
    while load was flowing (locust's start-up imports are left out)."""

    def __init__(self, server_pid: int, locust_pid: int) -> None:
        self.pids = {"server": server_pid, "locust": locust_pid}
        self.first: tuple[float, dict[str, float]] | None = None
        self.last: tuple[float, dict[str, float]] | None = None

    def sample(self) -> None:
        now = (time.monotonic(), {k: cpu_seconds(pid) for k, pid in self.pids.items()})
        if self.first is None:
            self.first = now
        else:
            self.last = now

    def shares(self) -> dict[str, float]:
        """Share of one core each used (1.0 = a whole core)."""
        if self.first is None or self.last is None or self.last[0] <= self.first[0]:
            return {}
        wall = self.last[0] - self.first[0]
        return {k: (self.last[1][k] - self.first[1][k]) / wall for k in self.pids}


def _locust_progress(prefix: Path, progress: Progress, show: bool = True) -> bool:
    """Print the newest history line (when `show`); True once load is flowing."""
    points = [p for p in history(Path(f"{prefix}_stats_history.csv")) if p["rps"] > 0]
    if not points:
        return False
    if not show:
        return True
    last = points[-1]
    progress(
        f"  locust: {last['users']:.0f} users, {last['rps']:,.0f} req/s, "
        f"p50 {last['50%']:.0f} ms, p99 {last['99%']:.0f} ms, "
        f"failures/s {last['fps']:.1f}"
    )
    return True


# Steady: over the last third of the time after every user was spawned, requests/s within
# this share of the middle third's (locust's rate is a sliding window of ~10 s, so a short run
# is still climbing when it ends).
STEADY_TOLERANCE = 0.10


def steady_state(points: list[dict[str, float]], users: int) -> dict[str, Any]:
    """Whether locust's throughput settled: {"steady": bool, "note": str, ...}."""
    full = [p for p in points if p["users"] >= users and p["rps"] > 0]
    if not full:
        return {"steady": False, "note": f"locust never ran all {users} users with load flowing"}
    span = full[-1]["t"] - full[0]["t"]
    third = len(full) // 3
    if third < 2:
        return {
            "steady": False,
            "note": f"only {span:.0f} s of load after all users were spawned: too short to "
            "reach a steady state (run longer: --duration)",
        }
    middle = sum(p["rps"] for p in full[third : 2 * third]) / third
    last = sum(p["rps"] for p in full[-third:]) / third
    change = (last - middle) / middle if middle else 0.0
    steady = abs(change) <= STEADY_TOLERANCE
    note = (
        f"steady: {middle:,.0f} -> {last:,.0f} req/s over the last two thirds"
        if steady
        else f"throughput still {'climbing' if change > 0 else 'falling'} at the end "
        f"({middle:,.0f} -> {last:,.0f} req/s, {change:+.0%}): locust never reached a steady "
        "state (run longer: --duration)"
    )
    return {"steady": steady, "note": note, "middle_rps": middle, "last_rps": last}


def locust_summary(prefix: Path, checks: dict[str, int]) -> dict[str, Any]:
    rows = request_rows(Path(f"{prefix}_stats.csv"))
    aggregated = next((r for r in rows if r["name"] == "Aggregated"), {})
    layout = next((r for r in rows if r["name"] == LAYOUT), {})
    layout_gets = layout.get("requests", 0)
    return {
        "requests": rows,
        "aggregated": aggregated,
        "layout": layout,
        "failures": read_csv(Path(f"{prefix}_failures.csv")),
        "not_modified_share_pct": 100 * checks.get("not_modified", 0) / layout_gets
        if layout_gets
        else 0.0,
    }


# --------------------------------------------------------------------------- engine


ENGINE_SCRIPT = HERE / "bench_engine.py"


def start_engine_bench(out: Path, pin: Pinning, progress: Progress, smoke: bool) -> Proc | None:
    """`loadtests/bench_engine.py --json` started on the server core (its own default size, or
    2,000 profiles in a smoke run), output in `engine.log`; None when the script is missing.
    Read it with `engine_result`."""
    if not ENGINE_SCRIPT.exists():
        return None
    progress("engine micro-benchmark (loadtests/bench_engine.py) on the server core")
    argv = [sys.executable, str(ENGINE_SCRIPT), "--json", *(["--n", "2000"] if smoke else [])]
    return Proc("bench-engine", pin.host(argv), out / "engine.log")


def engine_result(proc: Proc | None, timeout: float = 600.0) -> dict[str, Any]:
    """The engine micro-benchmark's figures once its process has ended (or a note why none)."""
    if proc is None:
        return {"note": "Not run: loadtests/bench_engine.py is missing."}
    try:
        proc.popen.wait(timeout=timeout)
    finally:
        proc.stop()
    output = proc.log.read_text(errors="replace")
    lines = [x for x in output.splitlines() if x.strip().startswith("{")]
    try:
        result = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        result = None
    # bench_engine.py exits 1 when its p99 misses the target: a figure, not a failure
    if proc.popen.returncode not in (0, 1) or not isinstance(result, dict):
        return {"note": f"bench_engine.py failed ({proc.popen.returncode}): {output[-500:]}"}
    return {"result": result, "summary": engine_summary(result)}


def run_engine_bench(out: Path, pin: Pinning, progress: Progress, smoke: bool) -> dict[str, Any]:
    """The engine micro-benchmark on the server core with nothing else of the run going."""
    with progress.phase("engine"):
        found = engine_result(start_engine_bench(out, pin, progress, smoke))
    return {**found, "when": "alone, no server running"}


def engine_summary(result: Any, prefix: str = "") -> dict[str, Any]:
    """The scalar figures of bench_engine's JSON (nested keys joined with '.')."""
    found: dict[str, Any] = {}
    if isinstance(result, dict):
        for key, value in result.items():
            found.update(engine_summary(value, f"{prefix}{key}."))
    elif isinstance(result, int | float | str | bool) and prefix:
        found[prefix[:-1]] = result
    return dict(list(found.items())[:40])


# --------------------------------------------------------------------------- headline


def headline(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """One line per ratio or target: the report's first table and the console's last lines."""
    lines: list[dict[str, Any]] = []
    for name, _, _ in RATIOS:
        ratio = (stats.get("ratios") or {}).get(name)
        if not ratio:
            continue
        target = RATIO_TARGETS.get(name)
        spread = (
            f" (rounds {ratio['min']:.2f}-{ratio['max']:.2f})"
            if ratio["min"] != ratio["max"]
            else ""
        )
        lines.append(
            {
                "name": name,
                "value": ratio["median"],
                "shown": f"{ratio['median']:.2f}x{spread}",
                "target": f">= {target}" if target else "",
                "ok": ratio["median"] >= target if target else None,
            }
        )
    locust = stats.get("locust")
    if locust and locust.get("aggregated"):
        agg = locust["aggregated"]
        p99 = agg["p99_ms"]
        lines.append(
            {
                "name": f"locust p99, {stats['settings']['users']} users (all requests)",
                "value": p99,
                "shown": f"{p99:.0f} ms",
                "target": f"< {TARGETS['p99_ms']:g} ms",
                "ok": p99 < TARGETS["p99_ms"],
            }
        )
        steady = locust.get("steady_state")
        if steady:
            lines.append(
                {
                    "name": "locust steady state",
                    "value": steady["steady"],
                    "shown": steady["note"],
                    "target": "steady",
                    "ok": steady["steady"],
                }
            )
        lines.append(
            {
                "name": "locust failures",
                "value": agg["failures"],
                "shown": f"{agg['failures']} of {agg['requests']:,}",
                "target": "0",
                "ok": agg["failures"] == 0,
            }
        )
        checks = stats.get("checks", {})
        for label, done, good, bad in (
            (
                "settings changes reflected",
                "settings_changes",
                "settings_verified",
                "settings_mismatches",
            ),
            ("publishes served at once", "publishes", "publishes_verified", "publish_mismatches"),
        ):
            lines.append(
                {
                    "name": label,
                    "value": checks.get(good, 0),
                    "shown": f"{checks.get(good, 0)} of {checks.get(done, 0)}",
                    "target": "all checked",
                    "ok": checks.get(bad, 0) == 0 and checks.get(good, 0) > 0,
                }
            )
    engine = (stats.get("engine") or {}).get("result") or {}
    cold = (engine.get("layout_plus_encode") or {}).get("p99_us")
    if cold is not None:
        target_us = engine.get("target_p99_us", 1000.0)
        lines.append(
            {
                "name": f"engine cold path p99 ({engine.get('page')}, "
                f"{engine.get('components')} components, in-process)",
                "value": cold,
                "shown": f"{cold:,.0f} us",
                "target": f"< {target_us:,.0f} us",
                "ok": cold < target_us,
            }
        )
    lines += perf_headline(stats.get("perf"))
    memory = stats.get("memory")
    if memory:
        lines.append(
            {
                "name": f"server RSS, {memory['low']:,} -> {memory['top']:,} users",
                "value": memory["ratio"],
                "shown": f"{memory['rss_low_mb']:,.0f} -> {memory['rss_top_mb']:,.0f} "
                f"MB ({memory['ratio']:.2f}x)",
                "target": "bounded",
                "ok": None,
            }
        )
    return lines


def print_headline(lines: list[dict[str, Any]]) -> None:
    for line in lines:
        target = f" (target {line['target']})" if line.get("target") else ""
        verdict = {True: "", False: "  <-- NOT MET", None: ""}[line["ok"]]
        print(f"{line['name']} = {line['shown']}{target}{verdict}", flush=True)


# --------------------------------------------------------------------------- the run


def settings_of(args: argparse.Namespace, pin: Pinning) -> dict[str, Any]:
    return {
        "users": args.users,
        "spawn_rate": args.spawn_rate,
        "duration": args.duration,
        "population": args.population,
        "workers": args.workers,
        "server": args.server,
        "seed": args.seed,
        "smoke": args.smoke,
        "wait_between_launches_s": args.wait,
        "hot_share_users_launches": args.hot,
        "settings_change_share": args.settings_share,
        "publish_every_s": args.publish_every,
        "wrk_threads": args.wrk_threads,
        "wrk_connections": args.wrk_connections,
        "wrk_duration": args.wrk_duration,
        "wrk_clients": args.wrk_clients,
        "wrk_rounds": args.rounds,
        "host_cpu": pin.host_cpu,
        "load_cpu": pin.load_cpu,
        "cache_settings": {
            k: v
            for k, v in os.environ.items()
            if k.startswith("UISERVER_") and k.endswith("_CACHE")
        },
    }


def loadavg() -> float:
    return os.getloadavg()[0]


def pin_self(pin: Pinning) -> None:
    """Keep this orchestrator (seeding, warm-up, scrapes) off the server's core."""
    if pin.load_cpu and hasattr(os, "sched_setaffinity"):
        cpus: set[int] = set()
        for part in pin.load_cpu.split(","):
            low, _, high = part.partition("-")
            cpus.update(range(int(low), int(high or low) + 1))
        os.sched_setaffinity(0, cpus)


def run(args: argparse.Namespace) -> dict[str, Any]:
    progress = Progress()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    pin = choose_pinning(args.host_cpu, args.load_cpu, enabled=not args.no_pin)
    stats: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine_info(),
        "versions": versions(),
        "pinning": pin.describe(),
        "settings": settings_of(args, pin),
        "targets": TARGETS,
        "loadavg_start": loadavg(),
        "busy_before": busy_share(),
    }
    pin_self(pin)
    progress(
        f"output in {out}; {pin.describe()}; machine {100 * stats['busy_before']:.0f}% "
        "busy before starting (other work)"
    )
    record_processes(out / "processes.log")
    try:
        phases(args, stats, pin, progress)
    except BaseException as exc:
        stats["error"] = f"{type(exc).__name__}: {exc}"
        progress(f"the run failed ({stats['error']}); writing what was measured")
        raise
    finally:
        stopped = stop_all()
        if stopped:
            stats["stopped_at_end"] = stopped
        record_processes(None)
        stats["loadavg_end"] = loadavg()
        stats["busy_after"] = busy_share()
        stats["headline"] = headline(stats)
        finish(out, stats, progress)
        print(time_line(progress.seconds, progress.wall(), seconds(args.duration)), flush=True)
    return stats


def phases(
    args: argparse.Namespace, stats: dict[str, Any], pin: Pinning, progress: Progress
) -> None:
    """Every phase the options ask for, filling `stats` as each one ends."""
    if args.ladder or args.ladder_only:
        from loadtests.perfphase import perf_phase

        with progress.phase("ladder"):
            perf_phase(args, pin, progress, stats.setdefault("perf", {}))
        if args.ladder_only:
            stats["engine"] = run_engine_bench(args.out, pin, progress, args.smoke)
    if args.ladder_only:
        pass
    elif not args.memory_only:
        secret = secrets.token_urlsafe(32)
        # The engine micro-benchmark needs the server core to itself, and so does nothing
        # else of the set-up: it runs there while this runner, on the load core, builds and
        # seeds the population (when the run is pinned; else alone, after the load).
        beside = pin.host_cpu and not args.engine_alone
        engine = start_engine_bench(args.out, pin, progress, args.smoke) if beside else None
        members = prepare(args, progress)
        stats["population"] = {
            "size": len(members),
            "personas": persona_counts(members),
            "mix": PERSONA_MIX,
        }
        if engine is not None:
            with progress.phase("engine (its rest, after seeding)"):
                stats["engine"] = {
                    **engine_result(engine),
                    "when": "on the server core while the runner seeded the store on the "
                    "load core, before the server started",
                }
        serve_and_load(args, stats, members, secret, pin, progress)
        if engine is None:
            stats["engine"] = run_engine_bench(args.out, pin, progress, args.smoke)
    else:
        stats["baselines_note"] = "--memory-only"
    if args.memory_check or args.memory_only:
        with progress.phase("memory check"):
            stats["memory"] = run_memory(args, pin, progress)


def serve_and_load(
    args: argparse.Namespace,
    stats: dict[str, Any],
    members: list[Member],
    secret: str,
    pin: Pinning,
    progress: Progress,
) -> None:
    """uiserver up; warm-up; the wrk baselines beside it; then locust."""
    from uiserver.auth import mint_token

    out: Path = args.out
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    progress(
        f"starting uiserver serve --server {args.server} ({args.workers} worker(s)) on {base_url}"
    )
    # The server starts on its core while this runner mints the tokens on the load core (in
    # this thread: a child asks for SIGTERM when the thread that started it ends).
    with progress.phase("server start, tokens minted meanwhile"):
        server = _start_uiserver(
            out / "data",
            port,
            args.workers,
            pin,
            out / "server.log",
            server_env(secret, _cache_env()),
            args.server,
            wait=False,
        )
        started = time.monotonic()
        mint_tokens(members, secret, TOKEN_TTL)
        progress(f"tokens minted for {len(members):,} users ({time.monotonic() - started:.1f}s)")
        wait_started(server, f"{base_url}/readyz")
    try:
        with progress.phase("warm-up"):
            hot = max(1, int(len(members) * float(args.hot.split(",")[0])))
            warm = warm_up(base_url, members, hot, args.wrk_clients)
            population_file = out / "population.csv"
            write_population(
                population_file,
                members,
                mint_token(secret, "bench-designer", "designer", TOKEN_TTL),
            )
        progress(
            f"warmed up: {warm.warmed:,} launches; wrk replays {len(warm.rows):,} "
            f"clients, body {len(warm.body):,} bytes"
        )
        stats["warmup"] = {"launches": warm.warmed, "notes": warm.notes}
        for note in warm.notes:
            progress(f"  {note}")
        if args.skip_baselines or not wrk_available():
            stats["baselines_note"] = (
                "--skip-baselines" if args.skip_baselines else "wrk is not installed"
            )
        else:
            with progress.phase("baselines"):
                run_baselines(args, stats, warm, base_url, pin, progress)
        progress(f"locust: {args.users} users for {args.duration}")
        with progress.phase("locust"):
            locust = run_locust(args, base_url, population_file, pin, progress, server.pid)
    finally:
        with progress.phase("server stop"):
            server.stop()
    stats["checks"] = locust["checks"]
    stats["cache"] = locust["cache"]
    stats["metrics_samples"] = locust["samples"]
    stats["cpu_during_locust"] = locust["cpu"]
    stats["locust"] = locust_summary(locust["prefix"], locust["checks"])
    steady = steady_state(history(Path(f"{locust['prefix']}_stats_history.csv")), args.users)
    stats["locust"]["steady_state"] = steady
    progress(("" if steady["steady"] else "WARNING: ") + steady["note"])
    stats["server_layout_ms"] = {
        f"p{q * 100:g}": histogram_quantile(locust["cache"], q) for q in (0.5, 0.99, 0.999)
    }


def run_baselines(
    args: argparse.Namespace,
    stats: dict[str, Any],
    warm: WarmSet,
    base_url: str,
    pin: Pinning,
    progress: Progress,
) -> None:
    """uiserver, the bare route and nginx, same requests, interleaved rounds."""
    measurer = Measurer(
        args.out,
        pin,
        args.wrk_threads,
        args.wrk_connections,
        args.wrk_duration,
        baseline_warmup(args),
        progress,
    )
    progress(f"starting the bare Starlette route on {args.server} and nginx beside it (same bytes)")
    procs, others = start_baselines(args.out, pin, warm, args.workers, measurer.checks, args.server)
    targets = uiserver_targets(base_url, warm) + others
    targets.sort(key=lambda t: BASELINE_ORDER.index(t.name))
    progress(f"wrk: {len(targets)} targets x {args.rounds} round(s) of {args.wrk_duration}")
    try:
        results = measurer.rounds(targets, args.rounds, base_url, args.workers)
    finally:
        for proc in procs:
            proc.stop()
    stats["baselines"] = summarize(results)
    stats["ratios"] = {name: paired_ratio(results, top, bottom) for name, top, bottom in RATIOS}
    stats["wrk_clients"] = len(warm.rows)
    stats["body_bytes"] = len(warm.body)
    stats["baseline_checks"] = measurer.checks


def _cache_env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if k.startswith("UISERVER_") and k.endswith("_CACHE")
    }


def run_memory(args: argparse.Namespace, pin: Pinning, progress: Progress) -> dict[str, Any]:
    from loadtests.memcheck import memory_check

    low, high = (int(x) for x in args.memory_users.split(","))
    return memory_check(
        low=low,
        requested=high,
        cap=args.memory_cap,
        seed=args.seed,
        movable=movable_components(),
        workers=args.workers,
        http_server=args.server,
        out=args.out,
        pin=pin,
        progress=progress,
    )


def finish(out: Path, stats: dict[str, Any], progress: Progress) -> None:
    """stats.json first (whatever happens next, the figures are kept), then the plots and
    report.md; a failed run's partial stats still get a report where they allow one."""
    stats_file = out / "stats.json"
    stats["phase_seconds"] = progress.seconds
    stats["wall_s"] = round(progress.wall(), 1)
    stats_file.write_text(json.dumps(stats, indent=2, default=str) + "\n")
    try:
        with progress.phase("report"):
            points = history(Path(f"{out / 'locust'}_stats_history.csv"))
            plots = make_plots(out, stats, points, stats.get("metrics_samples", []))
            stats["plots"] = [p.name for p in plots]
            report = write_report(out, stats, plots)
        stats["wall_s"] = round(progress.wall(), 1)
        stats_file.write_text(json.dumps(stats, indent=2, default=str) + "\n")
    except Exception as exc:
        if "error" not in stats:
            raise
        progress(f"no report.md for this failed run ({type(exc).__name__}: {exc})")
        return
    progress(f"wrote {report}, {stats_file} and {len(plots)} plots")
    print_headline(stats["headline"])


def _exit_on(signum: int, frame: object) -> None:
    """SIGTERM (a CI timeout) or SIGHUP (the terminal closed) unwinds like Ctrl-C: every
    `finally` runs, so what was measured is written and every process started is stopped."""
    sys.exit(128 + signum)


def main(argv: Sequence[str] | None = None, prog: str = "loadtests/run.py") -> int:
    args = build_parser(prog).parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on)
    apply_mode_defaults(args)
    stats = run(args)
    failures = (stats.get("locust") or {}).get("aggregated", {}).get("failures", 0)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""CPU of one first launch, in process: the real RSGI layout handler, no HTTP server, no network.

    python -m loadtests.first_launch_cost                     # us of CPU per first launch
    python -m loadtests.first_launch_cost --stages            # ... and where it goes, by stage
    python -m loadtests.first_launch_cost --only shared       # users whose plans are shared

A bulk-seeded SQLite store on disk (`bulkseed.seed_sqlite`: `--users` users, the ladder's mix:
80% with settings, a third with affinities and evidence, 8% in a segment) is opened by the app
`create_app` builds, wrapped as `uiserver serve --server granian` wraps it (`RSGIApp`, native
layouts), and its lifespan runs. Then `RSGIApp.__rsgi__` is called with a minimal RSGI scope and
protocol for:

- `--warmup` first launches (never-seen users: their token never verified, their profile only
  in the store), so the shared plans and bodies are what a running server has;
- `--launches` first launches of other never-seen users: **the figure**, process CPU
  (`time.process_time`, every thread) from the first to the last answer, including the
  background work they cause (served-order writes, launch counters and exposures: flushed and
  drained before the clock stops), divided by the launches;
- `--warm-gets` warm GETs (one of the first 64 warm users, token verified and layout memoized
  before): the same handler's cost when nothing is cold, for the ratio.

Requests run `--concurrency` at a time (`asyncio.gather`), as a server interleaves its
connections' requests; every answer must be a 200 with a body, or the run fails.

The HTTP server's own cost (granian's parsing, the event loop's socket work: 25-57 us a request
in the ladder) is not here; this measures what uiserver's code costs, which is what changes.

`--stages` times the stages of `STAGES` (own CPU of each, `time.thread_time`, the stages it
calls counted in theirs) over the measured first launches; what is left is the event loop, the
tasks and this driver. Their timers cost a little (two clock reads a call), so take the
headline figure from a run without `--stages`. `--profile-out` writes a cProfile of
`--launches` more first launches.

Instruction counts (load-independent; the machine is often busy):

    python -m loadtests.first_launch_cost --data /tmp/flc --launches 0       # seeds once
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.0 \
        python -m loadtests.first_launch_cost --data /tmp/flc --launches 0 --warm-gets 0
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.n \
        python -m loadtests.first_launch_cost --data /tmp/flc --launches 500 --warm-gets 0

One first launch = (Ir of the second - Ir of the first) / 500 (the same warm-up in both).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path[:1]:
    sys.path.insert(0, str(ROOT))

from loadtests import bulkseed  # noqa: E402
from uiserver.http import collector  # noqa: E402

SECRET = "first-launch-cost-secret-0123456789abcdef"
SEED = 1
WARM_USERS = 1_000  # the first seeded users have nothing stored (bulkseed's warm clients)
PAGE = "home"

# (stage, "module:Class.method" or "module:function"): each stage's CPU is its own time, the
# time of stages it calls counted in theirs (`Stages`). None of these suspends on SQLite.
_SQLITE = "uiserver.store.sqlite"
STAGES: list[tuple[str, str]] = [
    (
        "handler glue (RSGI, LayoutApp.answer, LayoutServer.layout)",
        "uiserver.http.rsgi:RSGIApp.__rsgi__",
    ),
    ("JWT verify, token cache", "uiserver.auth.tokens:TokenVerifier.verify"),
    ("template sync, store poll", "uiserver.serving.pages:LivePages.sync"),
    ("profile load (coalescing, profile cache)", "uiserver.serving.profiles:ProfileLoader.get"),
    ("store read (get_profile)", "uiserver.store.sqlite.users:SQLiteUsers.get_profile"),
    ("shared plan (key, lookup)", "uiserver.serving.layouts:LayoutServer._planned"),
    ("engine plan", "uiserver.engine:Engine.plan"),
    ("render, check, encode (body cache miss)", "uiserver.serving.layouts:LayoutServer._render"),
    ("launch counters, exposures (queue)", "uiserver.serving.layouts:LayoutServer._note"),
    ("served order (queue)", "uiserver.serving.layouts:LayoutServer._remember_order"),
    ("served order (group write)", "uiserver.store.sqlite.orders:GroupCommit._write"),
    (
        "activity write (background)",
        "uiserver.store.sqlite.activity:SQLiteActivity.record_activity",
    ),
]
REST = "event loop, tasks, this driver (the rest)"


class Stages:
    """Own CPU time (`time.thread_time`) of the functions in `STAGES`, patched on their classes
    before the app is built (so methods bound at construction are the timed ones)."""

    def __init__(self) -> None:
        self.own: dict[str, float] = {name: 0.0 for name, _ in STAGES}
        self._stack: list[list[float]] = []  # [start, time of timed callees]
        self._patched: list[tuple[Any, str, Any]] = []  # (owner, name, original)

    def install(self) -> None:
        import importlib
        import inspect

        for name, target in STAGES:
            module_name, _, path = target.partition(":")
            owner: Any = importlib.import_module(module_name)
            *parents, attr = path.split(".")
            for part in parents:
                owner = getattr(owner, part)
            function = inspect.getattr_static(owner, attr)
            wrapped = (
                self._async(name, function)
                if inspect.iscoroutinefunction(function)
                else self._sync(name, function)
            )
            self._patched.append((owner, attr, function))
            setattr(owner, attr, wrapped)

    def uninstall(self) -> None:
        """Put the original functions back."""
        while self._patched:
            owner, attr, function = self._patched.pop()
            setattr(owner, attr, function)

    def _enter(self) -> None:
        self._stack.append([time.thread_time(), 0.0])

    def _leave(self, name: str) -> None:
        start, inner = self._stack.pop()
        spent = time.thread_time() - start
        self.own[name] += spent - inner
        if self._stack:
            self._stack[-1][1] += spent

    def _sync(self, name: str, function: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._enter()
            try:
                return function(*args, **kwargs)
            finally:
                self._leave(name)

        return timed

    def _async(self, name: str, function: Any) -> Any:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            self._enter()
            try:
                return await function(*args, **kwargs)
            finally:
                self._leave(name)

        return timed

    def reset(self) -> None:
        self.own = dict.fromkeys(self.own, 0.0)


class Headers(dict[str, str]):
    """What `RSGIApp` reads of granian's RSGI headers: `get`, `items`, `in`."""


@dataclass(slots=True)
class Scope:
    """The RSGI scope attributes the layout path reads."""

    path: str
    query_string: str
    headers: Headers
    method: str = "GET"
    proto: str = "http"
    http_version: str = "1.1"
    client: str = "127.0.0.1:50000"
    server: str = "127.0.0.1:8000"
    scheme: str = "http"


@dataclass(slots=True)
class Protocol:
    """Records the one `response_bytes` answer."""

    status: int = 0
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


@dataclass(slots=True)
class Request:
    scope: Scope

    def fresh(self) -> tuple[Scope, Protocol]:
        return self.scope, Protocol()


def seeded(data: Path, users: int) -> Path:
    """`data` holding a SQLite store of `users` bulk-seeded users (seeded once, then reused)."""
    marker = data / "first_launch_cost.json"
    want = {"users": users, "seed": SEED, "warm": WARM_USERS}
    if marker.exists() and json.loads(marker.read_text()) == want:
        return data
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    keys = bulkseed.affinity_keys(PAGE)
    bulkseed.seed_sqlite(data, bulkseed.generate(users, SEED, WARM_USERS, keys))
    marker.write_text(json.dumps(want))
    return data


def requests_for(users: Sequence[bulkseed.SeedUser], token_ttl: int = 6 * 3_600) -> list[Request]:
    """One layout GET of `home` per user, with a token minted now (PyJWT, as the ladder's)."""
    import jwt

    now = int(time.time())
    out = []
    for user in users:
        token = jwt.encode(
            {"sub": user.user_id, "iat": now, "exp": now + token_ttl}, SECRET, algorithm="HS256"
        )
        headers = Headers({"authorization": f"Bearer {token}", "accept-encoding": "identity"})
        out.append(Request(Scope(f"/v1/layouts/{PAGE}", user.query, headers)))
    return out


def behaviour(user: bulkseed.SeedUser) -> bool:
    """Whether a seeded user's affinities shape their plan (seeded with affinities, whose
    evidence is always past the policy's minimum, and personalization not off): such a plan is
    made for the user (`engine.plan.shared_key` is None), the others' are shared."""
    return bool(user.scores) and b'"personalization":0.0' not in (user.settings or b"")


def population(
    users: int, only: str = "all"
) -> tuple[list[bulkseed.SeedUser], list[bulkseed.SeedUser]]:
    """(warm users, never-seen users in the ladder's shuffled order); `only` "shared" or
    "personal": just the users whose plans are shared, or made for them (`behaviour`)."""
    import random

    everyone = list(bulkseed.generate(users, SEED, WARM_USERS, bulkseed.affinity_keys(PAGE)))
    fresh = everyone[WARM_USERS:]
    random.Random(SEED + 7).shuffle(fresh)
    if only != "all":
        fresh = [u for u in fresh if behaviour(u) == (only == "personal")]
    return everyone[:WARM_USERS], fresh


def build_app(data: Path) -> Any:
    """The RSGI app `uiserver serve --server granian` runs, on the store in `data`."""
    os.environ.setdefault("UISERVER_LOG_LEVEL", "warning")
    from uiserver.config import Config
    from uiserver.http.app import create_app
    from uiserver.http.layouts import LayoutApp
    from uiserver.http.rsgi import RSGIApp

    config = Config(
        data_dir=data,
        layouts_dir=ROOT / "layouts",
        components_dir=ROOT / "components",
        jwt_secret=SECRET,
        schedule_interval_s=0,
    )
    edge = create_app(config)
    assert isinstance(edge, LayoutApp)
    return RSGIApp(edge, edge)


async def drive(app: Any, requests: Sequence[Request], concurrency: int) -> None:
    """Every request answered, `concurrency` at a time; raises on any answer but a 200."""
    handle = app.__rsgi__
    for start in range(0, len(requests), concurrency):
        batch = [r.fresh() for r in requests[start : start + concurrency]]
        await asyncio.gather(*(handle(scope, proto) for scope, proto in batch))
        for scope, proto in batch:
            if proto.status != 200 or not proto.body:
                raise RuntimeError(
                    f"{scope.path}?{scope.query_string}: {proto.status} {proto.body[:300]!r}"
                )


async def settle(app: Any) -> None:
    """The background work the requests caused, done now: activity flushed, orders drained."""
    service = app.layouts.service
    await asyncio.sleep(0)
    await service.server.drain()
    await service.recorder.flush()


async def measured(app: Any, requests: Sequence[Request], concurrency: int) -> float:
    """Process CPU seconds for `requests` and the background work they cause."""
    if not requests:
        return 0.0
    started = time.process_time()
    await drive(app, requests, concurrency)
    await settle(app)
    return time.process_time() - started


def chunks(items: Sequence[Any], *sizes: int) -> Iterator[Sequence[Any]]:
    start = 0
    for size in sizes:
        yield items[start : start + size]
        start += size


async def run(args: argparse.Namespace, data: Path, stages: Stages | None) -> dict[str, Any]:
    warm_users, fresh = population(args.users, args.only)
    profiled_n = args.launches if args.profile_out else 0
    need = args.warmup + args.launches + profiled_n
    if need > len(fresh):
        raise SystemExit(f"{need:,} never-seen users needed, {len(fresh):,} seeded: --users more")
    warmup, launches, profiled = chunks(fresh, args.warmup, args.launches, profiled_n)
    warm = requests_for(warm_users[:64])
    app = build_app(data)
    await app.bridge.startup()
    collector.settle(args.gc_thresholds)  # as `uiserver serve`'s workers do after start-up
    clock = CollectorClock()
    try:
        await drive(app, requests_for(warmup), args.concurrency)
        await drive(app, warm, args.concurrency)  # warm users: token verified, layout memoized
        await settle(app)
        first_requests = requests_for(launches)
        warm_requests = [warm[i % len(warm)] for i in range(args.warm_gets)]
        stats = app.layouts.service.server.stats
        renders = stats["renders"]
        if stages is not None:
            stages.reset()
        clock.seconds = 0.0
        first = await measured(app, first_requests, args.concurrency)
        in_collector = clock.seconds
        renders = stats["renders"] - renders
        own = dict(stages.own) if stages is not None else {}
        warm_cpu = await measured(app, warm_requests, args.concurrency)
        result: dict[str, Any] = {
            "users": args.users,
            "only": args.only,
            "warmup_first_launches": args.warmup,
            "first_launches": args.launches,
            "renders_in_first_launches": renders,
            "warm_gets": args.warm_gets,
            "concurrency": args.concurrency,
            "stages_timed": stages is not None,
            "first_launch_cpu_us": per_request(first, args.launches),
            "warm_get_cpu_us": per_request(warm_cpu, args.warm_gets),
            "gc_thresholds": gc.get_threshold(),
            "collector_us_per_first_launch": per_request(in_collector, args.launches),
            "load_average": round(os.getloadavg()[0], 1),
        }
        if result["first_launch_cpu_us"] and result["warm_get_cpu_us"]:
            result["warm_over_first"] = round(
                result["warm_get_cpu_us"] / result["first_launch_cpu_us"], 3
            )
        if own and args.launches:
            result["stages_us"] = {
                name: per_request(seconds, args.launches) for name, seconds in own.items()
            }
            result["stages_us"][REST] = per_request(first - sum(own.values()), args.launches)
        if profiled:
            profiler = cProfile.Profile(time.thread_time)  # CPU, not wall: the machine is shared
            profiler.enable()
            await measured(app, requests_for(profiled), args.concurrency)
            profiler.disable()
            pstats.Stats(profiler).dump_stats(str(args.profile_out))
    finally:
        clock.remove()
        await app.bridge.shutdown()
    return result


class CollectorClock:
    """CPU seconds spent in the garbage collector (`gc.callbacks`) since `seconds` was zeroed:
    part of every stage's time, wherever a collection happened to start."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.seconds += time.thread_time() - self._started

    def remove(self) -> None:
        gc.callbacks.remove(self._callback)


def per_request(seconds: float, count: int) -> float | None:
    """Microseconds per request, None when there were none."""
    return round(seconds / count * 1e6, 1) if count else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40_000, help="seeded population")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(tempfile.gettempdir()) / "uiserver-first-launch-cost",
        help="data dir of the seeded store (seeded once per --users, then reused)",
    )
    parser.add_argument("--warmup", type=int, default=3_000, help="first launches before")
    parser.add_argument("--launches", type=int, default=6_000, help="measured first launches")
    parser.add_argument("--warm-gets", type=int, default=20_000, help="measured warm GETs")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--only",
        choices=("all", "shared", "personal"),
        default="all",
        help="first launches of these users only (`behaviour`; default: the seeded mix)",
    )
    parser.add_argument(
        "--stages", action="store_true", help="time the stages (`STAGES`) of the first launches"
    )
    parser.add_argument(
        "--profile-out",
        type=Path,
        help="after the measurement, --launches more first launches under cProfile, stats here",
    )
    parser.add_argument("--uvloop", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--gc-thresholds",
        type=collector.parse_thresholds,
        default=collector.DEFAULT_THRESHOLDS,
        help="the collector's thresholds after start-up, as `uiserver serve --gc-thresholds` "
        "(default: serve's; 'off': Python's own, nothing frozen)",
    )
    args = parser.parse_args(argv)
    data = seeded(args.data, args.users)
    stages = None
    if args.stages:
        stages = Stages()
        stages.install()
    try:
        if args.uvloop:
            import uvloop

            result = uvloop.run(run(args, data, stages))
        else:
            result = asyncio.run(run(args, data, stages))
    finally:
        if stages is not None:
            stages.uninstall()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ladder: what each layer costs for the same layout bytes, in one interleaved run.

    uiserver bench --ladder-only --ladder-users 1000000 --rounds 3   # = loadtests/run.py ...

Every rung is driven by the same wrk (1 thread, 64 connections, on the load core) against a
server pinned to the server core, with the same requests (path, Authorization, If-None-Match):

  nginx               static file: the limit for these bytes on this machine
  raw_rsgi_granian    a raw app returning the bytes, granian RSGI   (loadtests/raw_app.py)
  raw_asgi_granian    the same raw app on granian ASGI
  raw_asgi_uvicorn    the same raw app on uvicorn (uvloop, httptools)
  bare_granian        a bare Starlette route (loadtests/bare_app.py) on granian ASGI
  bare_uvicorn        the same route on uvicorn
  ui_<server>_<store>_get    uiserver, warm layout GET (token verified before, layout cached)
  ui_<server>_<store>_304    the same GETs with the ETag: 304
  ui_<server>_<store>_first  first launch of a user this process never saw: a token it never
                             verified, a profile only in the store (1M seeded users), every
                             request a different user (`bulkseed.FreshUsers`; a run that
                             would reuse a user is flagged)

uiserver runs as `uiserver serve --server uvicorn` (ASGI), as `uiserver serve --server granian`
(RSGI, `uiserver/http/rsgi.py`) and, with `--ladder-servers ...,granian-asgi`, as `granian
--interface asgi --factory` on its app factory (the ASGI path on granian), on SQLite and on
Redis (a private redis-server on the server core, so its CPU is counted against the server
core too) and, with `--ladder-stores ...,redis-cluster`, on a private 3-primary Redis Cluster
(`servers.start_redis_cluster`, its nodes on the server core too). Ratios are taken within
each round (paired) and the median is reported with the range: `x nginx` and `x raw RSGI` for
every rung, and first launch / warm GET of the same server and store.
"""

from __future__ import annotations

import math
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from loadtests import bulkseed
from loadtests.baselines import Row, with_etag
from loadtests.facts import delta, scrape
from loadtests.servers import (
    Pinning,
    Proc,
    cpu_seconds,
    free_port,
    server_env,
    start_bare,
    start_granian,
    start_nginx,
    start_raw_uvicorn,
    start_redis,
    start_redis_cluster,
    start_uiserver,
    start_uiserver_granian,
)
from loadtests.wrkbench import WrkResult, run_wrk, write_requests, write_script

PAGE = "home"
# First launches per second assumed before a rung was measured (sizes its first slice of
# never-seen users; later slices follow the best measured rate, 1.3x).
GUESS_RPS = 8_000.0
REFERENCE_QUERY = "device=phone&width=375&dark=0"
TOKEN_TTL = 6 * 3600


@dataclass
class Rung:
    """One row of the ladder: where, which requests, what a correct answer is."""

    name: str
    label: str
    base_url: str
    status: int
    rows: list[Row] = field(default_factory=list)
    body: bytes | None = None
    fresh: bulkseed.FreshUsers | None = None  # first launch: new users for every wrk run
    warm_of: str = ""  # first launch: the warm GET rung of the same server and store
    uiserver: bool = False
    pid: int = 0  # the uiserver process (profiling)
    store_url: str = ""  # "" = SQLite


@dataclass
class LadderSettings:
    users: int
    stores: list[str]
    servers: list[str]
    rounds: int
    duration: str
    warmup: str | None
    connections: int
    threads: int
    warm_clients: int
    workers: int
    seed: int


def _seconds(duration: str) -> float:
    return float(duration.rstrip("s"))


class Driver:
    """wrk runs for the ladder: scripts per rung, fresh users per first-launch run."""

    def __init__(
        self, out: Path, pin: Pinning, s: LadderSettings, progress: Callable[[str], None]
    ) -> None:
        self.out, self.pin, self.s, self.progress = out, pin, s, progress
        self.folder = out / "wrk"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.checks: list[str] = []
        self.expected_rps: dict[str, float] = {}  # per first-launch rung: best rate seen
        self.scale = 1.0  # < 1 when the store has fewer never-seen users than the phases need
        self._runs = 0

    def first_launch_slice(self, fresh: bulkseed.FreshUsers, seconds: float, rung: str) -> int:
        """How many never-seen users a run of `seconds` needs (1.3x the rung's best rate so
        far; before any, `GUESS_RPS` scaled by `self.scale` when the store holds fewer than the
        phases chosen need, `fresh_need`), and never more than what is left (0: none)."""
        measured = self.expected_rps.get(rung)
        if measured is not None:  # the guess was the overestimate; a measured rate is not cut
            return min(math.ceil(measured * seconds * 1.3) + 1_000, fresh.left)
        need = math.ceil(GUESS_RPS * seconds * 1.3) + 1_000
        return min(math.ceil(need * self.scale), fresh.left)

    def script(self, name: str, rows: list[Row]) -> Path:
        requests = self.folder / f"{name}.tsv"
        write_requests(requests, rows)
        return write_script(self.folder / f"{name}.lua", requests)

    def wrk(self, rung: Rung, duration: str, script: Path | None = None) -> WrkResult:
        rows = None
        if rung.fresh is not None:  # never the same user twice: size the slice by the rate
            count = self.first_launch_slice(rung.fresh, _seconds(duration), rung.name)
            if count == 0:
                raise RuntimeError(f"{rung.name}: no never-seen users left (grow --ladder-users)")
            rows = rung.fresh.take(count)
            self._runs += 1
            script = self.script(f"{rung.name}-{self._runs}", rows)
        assert script is not None
        result = run_wrk(
            rung.name,
            rung.base_url,
            script,
            threads=self.s.threads,
            connections=self.s.connections,
            duration=duration,
            pin=self.pin,
            log=self.folder / "wrk.log",
        )
        if rows is not None:
            self.expected_rps[rung.name] = max(self.expected_rps.get(rung.name, 0.0), result.rps)
            if result.requests > len(rows):
                self.checks.append(
                    f"WARNING: {rung.name}: {result.requests:,} requests for "
                    f"{len(rows):,} never-seen users: some were repeats"
                )
        if result.failed:
            self.checks.append(
                f"{rung.name}: wrk counted {result.failed} errors or non-2xx/3xx answers"
            )
        return result

    def probe(self, rung: Rung) -> None:
        """One request as wrk sends it: the rung's status, and its body where one is fixed."""
        path, token, etag = rung.fresh.take(1)[0] if rung.fresh else rung.rows[0]
        headers = {"Accept-Encoding": "identity"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if etag:
            headers["If-None-Match"] = etag
        response = httpx.get(rung.base_url + path, headers=headers, timeout=10)
        ok = response.status_code == rung.status and (
            rung.body is None or response.content == rung.body
        )
        if rung.fresh is not None:
            ok = ok and response.json().get("page") == PAGE
        if not ok:
            raise RuntimeError(
                f"{rung.name}: probe got {response.status_code} "
                f"({len(response.content)} bytes), expected {rung.status}"
            )

    def rounds(self, rungs: list[Rung]) -> dict[str, list[WrkResult]]:
        for rung in rungs:
            self.probe(rung)
        scripts = {r.name: self.script(r.name, r.rows) for r in rungs if r.fresh is None}
        results: dict[str, list[WrkResult]] = {r.name: [] for r in rungs}
        for number in range(self.s.rounds):
            shift = (number * 5) % len(rungs)
            got: dict[str, WrkResult] = {}
            try:
                for rung in rungs[shift:] + rungs[:shift]:
                    got[rung.name] = self._measure(rung, scripts.get(rung.name))
                    self.progress(
                        f"  ladder round {number + 1}/{self.s.rounds} {rung.name}: "
                        f"{got[rung.name].rps:,.0f} req/s, p99 {got[rung.name].p99_ms:.2f} ms"
                    )
            except Exception as exc:
                if number == 0:
                    raise
                # Keep the complete rounds (ratios are paired within a round) and say why.
                self.checks.append(
                    f"ERROR: round {number + 1} stopped ({exc}); {number} complete round(s) kept"
                )
                self.progress(self.checks[-1])
                break
            for name, result in got.items():
                results[name].append(result)
        return results

    def _measure(self, rung: Rung, script: Path | None) -> WrkResult:
        if self.s.warmup:
            self.wrk(rung, self.s.warmup, script)
        before = scrape(rung.base_url) if rung.uiserver else None
        cpu = cpu_seconds(rung.pid) if rung.pid else 0.0
        result = self.wrk(rung, self.s.duration, script)
        if rung.pid:
            result.server_cpu_s = cpu_seconds(rung.pid) - cpu
        if before is not None:
            self._cross_check(rung, result, delta(before, scrape(rung.base_url)))
        return result

    def _cross_check(self, rung: Rung, result: WrkResult, change: dict[str, float]) -> None:
        if rung.fresh is not None:
            return
        counted = change["not_modified"] if rung.status == 304 else change["hits"]
        if self.s.workers == 1 and counted < 0.99 * result.requests:
            self.checks.append(
                f"WARNING: {rung.name}: server counted {counted:,.0f} "
                f"{'304s' if rung.status == 304 else 'cache hits'} for "
                f"{result.requests:,} requests"
            )


def warm_rows(secret: str, count: int) -> list[Row]:
    """The warm clients: the first seeded users (nothing stored), the reference context."""
    from uiserver.auth import mint_token

    return [
        (
            f"/v1/layouts/{PAGE}?{REFERENCE_QUERY}",
            mint_token(secret, bulkseed.user_id(i), "user", TOKEN_TTL),
            "",
        )
        for i in range(count)
    ]


def warm_up(base_url: str, rows: list[Row]) -> tuple[list[Row], bytes, str]:
    """Every warm client launches once. Clients in an A/B variant or exploring get another
    body; only those with the most common body are kept. Returns (rows, body, etag)."""
    got: list[tuple[Row, bytes, str]] = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for row in rows:
            response = client.get(
                row[0], headers={"Authorization": f"Bearer {row[1]}", "Accept-Encoding": "identity"}
            )
            response.raise_for_status()
            got.append((row, response.content, response.headers["etag"]))
    body, _ = Counter(b for _, b, _ in got).most_common(1)[0]
    kept = [(row, etag) for row, b, etag in got if b == body]
    return [row for row, _ in kept], body, kept[0][1]


def fresh_need(s: LadderSettings, profile_seconds: float, publish_users: int) -> int:
    """Never-seen users the phases chosen may use, at most: every first-launch wrk run of the
    ladder (warm-up and measurement, each round, each uiserver), each first-launch profile,
    the publish pass, sized as `Driver.first_launch_slice` sizes them before any rate is known
    (`GUESS_RPS`), plus the probes."""
    rungs = len(s.stores) * len(s.servers)
    per_run = [_seconds(s.duration), *([_seconds(s.warmup)] if s.warmup else [])]
    ladder = sum(math.ceil(GUESS_RPS * sec * 1.3) + 1_000 for sec in per_run) * s.rounds
    profile = math.ceil(GUESS_RPS * profile_seconds * 1.3) + 1_000 if profile_seconds > 0 else 0
    return rungs * (ladder + profile + 1) + publish_users


def fresh_scale(
    s: LadderSettings, profile_seconds: float, publish_users: int
) -> tuple[float, int, int]:
    """(scale for every rate-sized slice, users needed at most, never-seen users the store
    will have). The publish pass's users are an exact count: kept aside first, never scaled."""
    need = fresh_need(s, profile_seconds, publish_users)
    have = max(0, s.users - s.warm_clients)
    if need <= have:
        return 1.0, need, have
    return max(0, have - publish_users) / (need - publish_users), need, have


def run_ladder(
    out: Path,
    pin: Pinning,
    s: LadderSettings,
    progress: Callable[[str], None],
    scale: float = 1.0,
) -> dict[str, Any]:
    """Seed, start every server on the server core, run the interleaved rounds, summarize.
    Leaves the uiserver processes' figures in the result; stops everything it started."""
    out.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    procs: list[Proc] = []
    stats: dict[str, Any] = {"settings": vars(s), "seeding": {}}
    driver = Driver(out, pin, s, progress)
    driver.scale = scale
    try:
        store_urls = _seed_stores(out, pin, s, procs, stats, progress)
        fresh = bulkseed.FreshUsers(s.users, s.seed, s.warm_clients, secret)
        rows = warm_rows(secret, s.warm_clients)
        ui_rungs: list[Rung] = []
        body = etag = None
        for store, url in store_urls.items():
            data_dir = out / f"data-{store}"
            for server in s.servers:
                port = free_port()
                env = server_env(secret, {"UISERVER_STORE": url} if url else None)
                log = out / f"uiserver-{server}-{store}.log"
                if server == "granian-asgi":
                    proc = start_uiserver_granian(data_dir, port, s.workers, pin, log, env, url)
                else:
                    proc = start_uiserver(data_dir, port, s.workers, pin, log, env, server)
                procs.append(proc)
                base = f"http://127.0.0.1:{port}"
                kept, got_body, got_etag = warm_up(base, rows)
                if body is not None and (kept, got_body, got_etag) != (rows, body, etag):
                    raise RuntimeError(f"uiserver {server}/{store} served other bytes")
                rows, body, etag = kept, got_body, got_etag
                for rung in _ui_rungs(
                    f"ui_{server}_{store}",
                    f"uiserver {server} {store}",
                    base,
                    rows,
                    body,
                    etag,
                    fresh,
                ):
                    rung.pid, rung.store_url = proc.pid, url
                    ui_rungs.append(rung)
        assert body is not None and etag is not None
        progress(
            f"ladder: {len(rows)} warm clients, body {len(body):,} bytes, "
            f"{fresh.left:,} never-seen users available"
        )
        base_rungs = _baselines(out, pin, s, procs, rows, body, etag)
        rungs = base_rungs + ui_rungs
        results = driver.rounds(rungs)
        stats.update(summarize(rungs, results))
        stats["body_bytes"] = len(body)
        stats["checks"] = driver.checks
        stats["token_minting_s"] = round(fresh.minting_s, 1)
        stats["servers"] = {p.name: p.pid for p in procs}
        stats["_live"] = {
            "procs": procs,
            "rungs": rungs,
            "driver": driver,
            "fresh": fresh,
            "secret": secret,
        }
        return stats
    except BaseException:
        for proc in reversed(procs):
            proc.stop()
        raise


def stop_ladder(stats: dict[str, Any]) -> None:
    live = stats.pop("_live", None)
    if live:
        for proc in reversed(live["procs"]):
            proc.stop()


def _seed_stores(
    out: Path,
    pin: Pinning,
    s: LadderSettings,
    procs: list[Proc],
    stats: dict[str, Any],
    progress: Callable[[str], None],
) -> dict[str, str]:
    urls: dict[str, str] = {}
    for store in s.stores:
        data_dir = out / f"data-{store}"
        url = ""
        if store == "redis":
            proc, url = start_redis(out / "redis", pin)
            procs.append(proc)
        elif store == "redis-cluster":
            nodes, url = start_redis_cluster(out / "redis-cluster", pin)
            procs.extend(nodes)
        elif store != "sqlite":
            raise SystemExit(f"unknown ladder store {store!r}: sqlite, redis or redis-cluster")
        started = time.monotonic()
        seeded = bulkseed.seed(url, data_dir, s.users, s.seed, s.warm_clients)
        if url:
            seeded.update(redis_size(url))
        else:
            seeded["sqlite_file_mb"] = round(
                sum(f.stat().st_size for f in data_dir.glob("uiserver.db*")) / 2**20, 1
            )
        stats["seeding"][store] = seeded
        urls[store] = url
        progress(
            f"ladder: seeded {store} with {s.users:,} users in "
            f"{time.monotonic() - started:.1f}s: {seeded}"
        )
    return urls


def redis_size(url: str) -> dict[str, float]:
    """Memory (MB) and keys of a seeded Redis: one server, or summed over a cluster's nodes
    (`redis_nodes`: how many)."""
    import redis

    from uiserver.store.redis.address import parse

    address = parse(url)
    clients = (
        [redis.Redis(host=host, port=port) for host, port in address.nodes]
        if address.kind == "cluster"
        else [redis.Redis.from_url(address.url)]
    )
    memory = keys = 0
    for client in clients:
        with client:
            memory += int(client.info("memory")["used_memory"])
            keys += int(client.dbsize())
    return {
        "redis_used_memory_mb": round(memory / 2**20, 1),
        "redis_keys": keys,
        "redis_nodes": len(clients),
    }


def _ui_rungs(
    name: str,
    label: str,
    base: str,
    rows: list[Row],
    body: bytes,
    etag: str,
    fresh: bulkseed.FreshUsers,
) -> list[Rung]:
    return [
        Rung(f"{name}_get", f"{label}, warm GET", base, 200, rows, body, uiserver=True),
        Rung(f"{name}_304", f"{label}, 304", base, 304, with_etag(rows, etag), uiserver=True),
        Rung(
            f"{name}_first",
            f"{label}, first launch of an unseen user",
            base,
            200,
            fresh=fresh,
            warm_of=f"{name}_get",
            uiserver=True,
        ),
    ]


def _baselines(
    out: Path,
    pin: Pinning,
    s: LadderSettings,
    procs: list[Proc],
    rows: list[Row],
    body: bytes,
    etag: str,
) -> list[Rung]:
    body_file = out / "wrk" / "layout.json"
    body_file.parent.mkdir(parents=True, exist_ok=True)
    body_file.write_bytes(body)
    env = {"BARE_BODY_FILE": str(body_file), "BARE_ETAG": etag}
    path = f"/v1/layouts/{PAGE}"
    rungs: list[Rung] = []

    def add(name: str, label: str, proc: Proc | None, port: int) -> None:
        if proc is None:
            return
        procs.append(proc)
        rungs.append(Rung(name, label, f"http://127.0.0.1:{port}", 200, rows, body, pid=proc.pid))

    import os

    port = free_port()
    add(
        "nginx",
        "nginx, static file",
        start_nginx(body, path, port, s.workers, pin, out / "nginx.log"),
        port,
    )
    port = free_port()
    add(
        "raw_rsgi_granian",
        "granian RSGI, raw app",
        start_granian(
            "raw-rsgi",
            "raw_app:rsgi_app",
            "rsgi",
            port,
            s.workers,
            pin,
            out / "raw-rsgi.log",
            {**os.environ, **env},
            path,
        ),
        port,
    )
    port = free_port()
    add(
        "raw_asgi_granian",
        "granian ASGI, raw app",
        start_granian(
            "raw-asgi",
            "raw_app:app",
            "asgi",
            port,
            s.workers,
            pin,
            out / "raw-asgi.log",
            {**os.environ, **env},
            path,
        ),
        port,
    )
    port = free_port()
    add(
        "raw_asgi_uvicorn",
        "uvicorn, raw ASGI app",
        start_raw_uvicorn(body_file, etag, port, s.workers, pin, out / "raw-uvicorn.log"),
        port,
    )
    port = free_port()
    add(
        "bare_granian",
        "granian ASGI, bare Starlette route",
        start_granian(
            "bare-granian",
            "bare_app:app",
            "asgi",
            port,
            s.workers,
            pin,
            out / "bare-granian.log",
            {**os.environ, **env},
            path,
        ),
        port,
    )
    port = free_port()
    add(
        "bare_uvicorn",
        "uvicorn, bare Starlette route",
        start_bare(body_file, etag, port, s.workers, pin, out / "bare-uvicorn.log"),
        port,
    )
    return rungs


def _paired(results: dict[str, list[WrkResult]], top: str, bottom: str) -> dict[str, float]:
    ratios = sorted(
        a.rps / b.rps for a, b in zip(results[top], results[bottom], strict=True) if b.rps
    )
    return {"median": ratios[len(ratios) // 2], "min": ratios[0], "max": ratios[-1]}


def _paired_cpu(
    results: dict[str, list[WrkResult]], top: str, bottom: str
) -> dict[str, float] | None:
    """Per round, bottom's server CPU per request / top's: the throughput ratio the two would
    have on a core of their own (what a busy machine distorts least), median and range."""
    ratios = sorted(
        b.cpu_us_per_request / a.cpu_us_per_request
        for a, b in zip(results[top], results[bottom], strict=True)
        if a.server_cpu_s > 0 and b.server_cpu_s > 0
    )
    if not ratios:
        return None
    return {"median": ratios[len(ratios) // 2], "min": ratios[0], "max": ratios[-1]}


def summarize(rungs: list[Rung], results: dict[str, list[WrkResult]]) -> dict[str, Any]:
    table = []
    for rung in rungs:
        runs = sorted(results[rung.name], key=lambda r: r.rps)
        median = runs[len(runs) // 2]
        row: dict[str, Any] = {
            "name": rung.name,
            "label": rung.label,
            "rps": round(median.rps),
            "rounds_rps": [round(r.rps) for r in results[rung.name]],
            "p50_ms": median.p50_ms,
            "p99_ms": median.p99_ms,
            "bytes_per_response": round(median.bytes_read / median.requests)
            if median.requests
            else 0,
        }
        if "nginx" in results:
            row["vs_nginx"] = _paired(results, rung.name, "nginx")
        if "raw_rsgi_granian" in results:
            row["vs_raw_rsgi"] = _paired(results, rung.name, "raw_rsgi_granian")
            cpu = _paired_cpu(results, rung.name, "raw_rsgi_granian")
            if cpu:
                row["cpu_vs_raw_rsgi"] = cpu
        costs = sorted(r.cpu_us_per_request for r in runs if r.server_cpu_s > 0)
        if costs:
            row["cpu_us_per_request"] = round(costs[len(costs) // 2], 1)
        if rung.warm_of:
            row["vs_warm_get"] = _paired(results, rung.name, rung.warm_of)
            cpu = _paired_cpu(results, rung.name, rung.warm_of)
            if cpu:
                row["cpu_vs_warm_get"] = cpu
        table.append(row)
    return {"ladder": table, "rounds": {k: [r.as_dict() for r in v] for k, v in results.items()}}


def ladder_lines(stats: dict[str, Any]) -> list[str]:
    """The ladder as a markdown table (the console prints the same lines)."""
    lines = [
        "| what serves it | req/s (median round) | rounds | vs nginx (paired) "
        "| vs raw RSGI (paired) | vs its warm GET | server CPU us/request "
        "| vs raw RSGI by CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in stats.get("ladder", []):
        cells = [
            f"{r['median']:.2f} ({r['min']:.2f}-{r['max']:.2f})" if r else ""
            for r in (row.get("vs_nginx"), row.get("vs_raw_rsgi"), row.get("vs_warm_get"))
        ]
        cpu = row.get("cpu_vs_raw_rsgi")
        cells.append(str(row.get("cpu_us_per_request", "")))
        cells.append(f"{cpu['median']:.2f} ({cpu['min']:.2f}-{cpu['max']:.2f})" if cpu else "")
        rounds = ", ".join(f"{x:,}" for x in row["rounds_rps"])
        lines.append(f"| {row['label']} | {row['rps']:,} | {rounds} | " + " | ".join(cells) + " |")
    return lines

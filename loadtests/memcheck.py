"""Memory check: the server's RSS as the number of distinct users it has served grows.

Every cache in uiserver is bounded by an entry count (a setting), so once more distinct users
have launched than the largest bound, each new user evicts an old one and RSS must level off.
Driving users past that point is enough to show the bound; driving all of 1,000,000 cold
launches adds minutes and nothing the plateau does not already show, so by default the run is
capped at `CAP_FACTOR` x the largest cache bound and the report says exactly what was run.
`--memory-cap 0` drives every requested user.

The launches are sent by a small keep-alive HTTP/1.1 client on asyncio (not wrk: wrk cannot
stop after exactly N requests, and each user must launch exactly once per slice).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from loadtests.baselines import path_of
from loadtests.facts import parse_metrics
from loadtests.population import build_population, mint_tokens, seed_store
from loadtests.servers import (
    Pinning,
    free_port,
    memory_by_process,
    rss_bytes,
    server_env,
    start_uiserver,
)

CAP_FACTOR = 2.5
STEPS = 5  # checkpoints between the low level and the top


def cache_bounds() -> dict[str, int]:
    """The entry bounds the server runs with (uiserver.config defaults, or UISERVER_*_CACHE)."""
    from uiserver.config import Config

    config = Config()
    return {
        "layout bodies": config.layout_cache_size,
        "requests": config.request_cache_size,
        "personal requests": config.personal_memo_size,
        "profiles": config.profile_cache_size,
        "tokens": config.token_cache_size,
    }


@dataclass
class MemoryPlan:
    low: int
    requested: int
    top: int
    checkpoints: list[int]
    bounds: dict[str, int]


def plan(low: int, requested: int, cap: int | None) -> MemoryPlan:
    """Checkpoints from `low` to the top (requested, or capped past the largest bound)."""
    bounds = cache_bounds()
    if cap is None:
        cap = int(CAP_FACTOR * max(bounds.values()))
    top = min(requested, cap) if cap > 0 else requested
    top = max(top, low)
    step = max(1, (top - low) // STEPS)
    points = sorted({low, *range(low + step, top, step), top})
    return MemoryPlan(low, requested, top, points, bounds)


def cache_entries(base_url: str) -> dict[str, int]:
    """How full each bounded cache is (`uiserver_cache_entries`): what RSS should follow; and
    the layout cache's lookups so far (`uiserver_layout_cache`, as `lookups_hits`,
    `lookups_misses`, `lookups_renders`): what the bounds cost."""
    samples = parse_metrics(httpx.get(f"{base_url}/metrics", timeout=5).text)
    out: dict[str, int] = {}
    for prefix, label in (
        ('uiserver_cache_entries{cache="', ""),
        ('uiserver_layout_cache_total{result="', "lookups_"),
        ('uiserver_layout_cache{result="', "lookups_"),
    ):
        out.update(
            {
                label + name[len(prefix) : -2]: int(float(value))
                for name, value in samples.items()
                if name.startswith(prefix)
            }
        )
    return out


async def _seed(data_dir: Path, members: list[Any], page: str) -> dict[str, int]:
    from uiserver.store.factory import open_store

    store = open_store("", data_dir)
    await store.open()
    try:
        return await seed_store(store, members, page)
    finally:
        await store.close()


def memory_check(
    *,
    low: int,
    requested: int,
    cap: int | None,
    seed: int,
    movable: list[str],
    workers: int,
    out: Path,
    pin: Pinning,
    progress: Callable[[str], None],
    connections: int = 32,
    http_server: str = "uvicorn",
) -> dict[str, Any]:
    """Seed `top` users, serve them in slices (`uiserver serve --server HTTP_SERVER`), read the
    server's RSS (its process tree's) after each slice."""
    p = plan(low, requested, cap)
    progress(
        f"memory check: {p.top:,} distinct users (requested {p.requested:,}), "
        f"checkpoints {', '.join(f'{c:,}' for c in p.checkpoints)}"
    )
    secret = secrets.token_urlsafe(32)
    members = build_population(p.top, seed + 1, movable, prefix="m")
    mint_tokens(members, secret, ttl=6 * 3600)
    data_dir = out / "memory-data"
    seeded = asyncio.run(_seed(data_dir, members, "home"))
    progress(f"memory check: seeded {seeded}")
    port = free_port()
    server = start_uiserver(
        data_dir, port, workers, pin, out / "memory-server.log", server_env(secret), http_server
    )
    points: list[dict[str, Any]] = [{"distinct_users": 0, "rss_mb": rss_bytes(server.pid) / 2**20}]
    notes: list[str] = []
    try:
        served = 0
        for checkpoint in p.checkpoints:
            rows = [(path_of(m), m.token) for m in members[served:checkpoint]]
            started = time.monotonic()
            statuses = asyncio.run(launch_all(port, rows, connections))
            elapsed = time.monotonic() - started
            failed = sum(n for status, n in statuses.items() if status != 200)
            if failed:
                notes.append(f"slice to {checkpoint:,}: {failed} launches failed {statuses}")
            served = checkpoint
            rss = rss_bytes(server.pid) / 2**20
            processes = memory_by_process(server.pid)
            entries = cache_entries(f"http://127.0.0.1:{port}")
            points.append(
                {
                    "distinct_users": checkpoint,
                    "rss_mb": rss,
                    "pss_mb": sum(p["pss"] for p in processes),
                    "processes": processes,
                    "requests": len(rows),
                    "rps": len(rows) / elapsed if elapsed else 0.0,
                    "cache_entries": entries,
                }
            )
            held = ", ".join(f"{name} {count:,}" for name, count in sorted(entries.items()))
            split = " + ".join(f"{p['rss']:,.1f}" for p in processes)
            progress(
                f"  {checkpoint:,} distinct users: RSS {rss:,.1f} MB ({split}; "
                f"PSS {points[-1]['pss_mb']:,.1f} MB) "
                f"({points[-1]['rps']:,.0f} cold GET/s; cache entries: {held})"
            )
    finally:
        server.stop()
    return summarize(p, points, notes)


async def launch_all(port: int, rows: list[tuple[str, str]], connections: int) -> Counter[int]:
    """GET every (path, token) once over `connections` keep-alive connections."""
    statuses: Counter[int] = Counter()
    pending = iter(rows)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for path, token in pending:
                writer.write(
                    f"GET {path} HTTP/1.1\r\nHost: bench\r\n"
                    f"Authorization: Bearer {token}\r\n\r\n".encode()
                )
                head = await reader.readuntil(b"\r\n\r\n")
                statuses[int(head.split(b" ", 2)[1])] += 1
                length = _content_length(head)
                if length:
                    await reader.readexactly(length)
        finally:
            writer.close()

    # A server that stops answering must fail the check, not hang it (>= 100 launches/s).
    await asyncio.wait_for(
        asyncio.gather(*(connection() for _ in range(connections))), timeout=60 + len(rows) / 100
    )
    return statuses


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def summarize(p: MemoryPlan, points: list[dict[str, Any]], notes: list[str]) -> dict[str, Any]:
    at_low = next(x for x in points if x["distinct_users"] == p.low)
    at_top = points[-1]
    bounds = ", ".join(f"{k} {v:,}" for k, v in p.bounds.items())
    ran = f"{p.top:,} distinct users were driven" + (
        ""
        if p.top == p.requested
        else f" (of {p.requested:,} requested: capped at {CAP_FACTOR}x the largest cache "
        "bound; past it every cache is full and evicting)"
    )
    notes = [
        ran,
        f"cache entry bounds: {bounds}",
        "each user launched `home` once with its own token (cold: token check, profile read "
        "from SQLite, plan, then a shared body or a render), over 32 keep-alive connections "
        "from the load core; RSS is VmRSS summed over the server's processes (PSS: "
        "their smaps_rollup Pss, shared pages counted once), read after "
        "each slice",
        *notes,
    ]
    ratio = at_top["rss_mb"] / at_low["rss_mb"] if at_low["rss_mb"] else 0.0
    summary = (
        f"Server RSS {at_low['rss_mb']:,.1f} MB after {p.low:,} distinct users, "
        f"{at_top['rss_mb']:,.1f} MB after {p.top:,} ({ratio:.2f}x for "
        f"{p.top / p.low:,.0f}x the users)."
    )
    if "pss_mb" in at_top:
        split = " + ".join(f"{x['rss']:,.1f}" for x in at_top["processes"])
        summary += (
            f" At {p.top:,}: RSS by process {split} MB; PSS (shared pages counted once) "
            f"{at_top['pss_mb']:,.1f} MB."
        )
    return {
        "low": p.low,
        "requested": p.requested,
        "top": p.top,
        "bounds": p.bounds,
        "checkpoints": points[1:],
        "start_rss_mb": points[0]["rss_mb"],
        "rss_low_mb": at_low["rss_mb"],
        "rss_top_mb": at_top["rss_mb"],
        "ratio": ratio,
        "summary": summary,
        "notes": notes,
    }

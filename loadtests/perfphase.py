"""The performance phase of a bench run (`--ladder`, `--ladder-only`): the ladder, then, with
the same servers still up, the first-launch profile, the Redis cost of a launch and of an
event batch, the first pass after a publish; then the hostile-traffic check on a fresh server.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import httpx

from loadtests.firstlaunch import profile_first_launch, publish_pass, pyspy_available
from loadtests.hostile import hostile_check
from loadtests.ladder import (
    GUESS_RPS,
    LadderSettings,
    Rung,
    fresh_scale,
    run_ladder,
    stop_ladder,
)
from loadtests.servers import Pinning, Proc, cpu_seconds


def settings_from(args: argparse.Namespace) -> LadderSettings:
    return LadderSettings(
        users=args.ladder_users,
        stores=args.ladder_stores.split(","),
        servers=args.ladder_servers.split(","),
        rounds=args.rounds,
        duration=args.wrk_duration,
        warmup=None if args.smoke else "1s",
        connections=args.wrk_connections,
        threads=args.wrk_threads,
        warm_clients=args.ladder_warm_clients,
        workers=args.workers,
        seed=args.seed,
    )


def perf_phase(
    args: argparse.Namespace, pin: Pinning, progress: Callable[[str], None], stats: dict[str, Any]
) -> dict[str, Any]:
    """Fills `stats` as it goes (the caller holds it), so a phase that fails, or a run
    interrupted, still leaves what was measured before it; a failed phase after the ladder is
    noted in `stats["errors"]` and the next phase runs."""
    out = args.out / "ladder"
    s = settings_from(args)
    scale, need, have = fresh_scale(s, args.profile_seconds, args.publish_pass_users)
    stats["fresh_users"] = {"available": have, "needed_at_most": need, "scale": round(scale, 3)}
    if scale < 1:
        progress(
            f"ladder: NOTE --ladder-users {s.users:,} leaves {have:,} never-seen users; the "
            f"phases chosen use up to {need:,} (first launches sized at {GUESS_RPS:,.0f}/s "
            f"until measured), so every first-launch slice of the ladder and the profiles is cut "
            f"to {scale:.0%} of its size, the publish pass's {args.publish_pass_users:,} kept "
            "aside (a run that runs out repeats users, and says so)"
        )
    progress(
        f"ladder: {s.users:,} users per store ({', '.join(s.stores)}), uiserver on "
        f"{', '.join(s.servers)}, {s.rounds} round(s) of {s.duration}"
    )
    stats.update(run_ladder(out, pin, s, progress, scale))
    try:
        live = stats["_live"]
        firsts: list[Rung] = [r for r in live["rungs"] if r.fresh is not None]
        later: list[tuple[str, Callable[[], None]]] = [
            ("profiles", lambda: _profiles(args, out, pin, live, firsts, progress, stats)),
            ("events_cost", lambda: _all_events(args, live, firsts, s.users, stats)),
            ("publish_pass", lambda: _publish(args, out, pin, live, firsts, progress, stats)),
        ]
        for name, phase in later:
            try:
                phase()
            except Exception as exc:
                stats.setdefault("errors", []).append(f"{name}: {type(exc).__name__}: {exc}")
                progress(f"ERROR in {name}: {exc}; going on with the next phase")
    finally:
        stop_ladder(stats)
    if args.hostile_duration > 0:
        stats["hostile"] = hostile_check(out, pin, args.hostile_duration, progress)
    return stats


def _profiles(
    args: argparse.Namespace,
    out: Any,
    pin: Pinning,
    live: dict[str, Any],
    firsts: list[Rung],
    progress: Callable[[str], None],
    stats: dict[str, Any],
) -> None:
    if args.profile_seconds <= 0:
        return
    if not pyspy_available():
        stats["profiles_note"] = "py-spy is not installed (pip install -e .[bench])"
        return
    redis = next((p for p in live["procs"] if p.name == "redis"), None)
    stats["profiles"] = []
    for rung in firsts:
        stats["profiles"].append(_profile(args, out, pin, rung, live, redis, progress))


def _all_events(
    args: argparse.Namespace,
    live: dict[str, Any],
    firsts: list[Rung],
    users: int,
    stats: dict[str, Any],
) -> None:
    """One launch's event batch on every uiserver rung (each server and store: the default
    server, granian, answers `POST /v1/me/events` through its ASGI bridge, uvicorn directly)."""
    redis = next((p for p in live["procs"] if p.name == "redis"), None)
    stats["events_cost"] = []
    for rung in firsts:
        if args.events_batches > 0:
            stats["events_cost"].append(
                _events_cost(rung, live["secret"], redis, args.events_batches, users)
            )


def _publish(
    args: argparse.Namespace,
    out: Any,
    pin: Pinning,
    live: dict[str, Any],
    firsts: list[Rung],
    progress: Callable[[str], None],
    stats: dict[str, Any],
) -> None:
    if args.publish_pass_users <= 0 or not firsts:
        return
    from uiserver.auth import mint_token

    fresh = live["fresh"]
    users = min(args.publish_pass_users, fresh.left)
    if users == 0:
        stats["publish_pass_note"] = "no never-seen users left (grow --ladder-users)"
        return
    rung = firsts[0]
    progress(f"publish pass on {rung.label.split(',')[0]} ({users:,} users)")
    stats["publish_pass"] = publish_pass(
        out,
        pin,
        rung.base_url,
        fresh.take(users),
        mint_token(live["secret"], "bench-designer", "designer", 3600),
        args.wrk_connections,
        progress,
    )


def _redis_calls(url: str) -> int:
    import redis

    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return sum(
        int(v["calls"]) for k, v in stats.items() if k not in ("cmdstat_info", "cmdstat_ping")
    )


def _profile(
    args: argparse.Namespace,
    out: Any,
    pin: Pinning,
    rung: Rung,
    live: dict[str, Any],
    redis: Proc | None,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    seconds = args.profile_seconds
    count = live["driver"].first_launch_slice(live["fresh"], seconds, rung.name)
    if count == 0:
        return {"label": rung.label.split(",")[0], "error": "no never-seen users left"}
    rows = live["fresh"].take(count)
    calls = _redis_calls(rung.store_url) if rung.store_url else 0
    redis_cpu = cpu_seconds(redis.pid) if redis and rung.store_url else 0.0
    result = profile_first_launch(
        out,
        pin,
        rung.base_url,
        rung.pid,
        rows,
        seconds,
        args.wrk_connections,
        progress,
        rung.label.split(",")[0],
    )
    if rung.store_url and redis is not None and result.get("requests"):
        n = result["requests"]
        result["redis_commands_per_launch"] = round((_redis_calls(rung.store_url) - calls) / n, 2)
        result["redis_cpu_us_per_launch"] = round(1e6 * (cpu_seconds(redis.pid) - redis_cpu) / n, 1)
        progress(
            f"    redis: {result['redis_commands_per_launch']} commands and "
            f"{result['redis_cpu_us_per_launch']} us of redis-server CPU per first launch"
        )
    return result


def _events_cost(
    rung: Rung, secret: str, redis: Proc | None, batches: int, users: int
) -> dict[str, Any]:
    """Server CPU (and Redis commands) per `POST /v1/me/events` of one launch's batch: views of
    6 components and one click, from users of the seeded population."""
    from loadtests.bulkseed import user_id
    from uiserver.auth import mint_token

    span = max(1, min(5_000, users // 2))
    tokens = [
        mint_token(secret, user_id(users - 1 - i % span), "user", 3600) for i in range(batches)
    ]
    ids = httpx.get(f"{rung.base_url}/v1/layouts/home", timeout=10).json()
    components = [c["id"] for c in ids.get("components", [])][:6] or ["unknown"]
    now = time.time()
    body = {
        "events": [{"page": "home", "component": c, "kind": "view", "ts": now} for c in components]
        + [{"page": "home", "component": components[0], "kind": "click", "ts": now}]
    }

    run = f"{int(now * 1000):x}"  # ids new to this run too (the population is reused)

    def with_ids(n: int) -> dict[str, Any]:
        """The batch with fresh event ids, as the SDK sends it (never a resend)."""
        events = body["events"]
        return {"events": [{**e, "id": f"p{run}-{n:07d}-{i}"} for i, e in enumerate(events)]}

    calls = _redis_calls(rung.store_url) if rung.store_url else 0
    cpu = cpu_seconds(rung.pid)
    redis_cpu = cpu_seconds(redis.pid) if redis and rung.store_url else 0.0
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=rung.base_url, timeout=10) as client:
        for n, token in enumerate(tokens):
            status = client.post(
                "/v1/me/events", json=with_ids(n), headers={"Authorization": f"Bearer {token}"}
            ).status_code
            statuses[status] = statuses.get(status, 0) + 1
    result: dict[str, Any] = {
        "label": rung.label.split(",")[0],
        "batches": batches,
        "events_per_batch": len(body["events"]),
        "statuses": statuses,
        "server_cpu_us_per_batch": round(1e6 * (cpu_seconds(rung.pid) - cpu) / batches, 1),
    }
    if rung.store_url and redis is not None:
        result["redis_commands_per_batch"] = round(
            (_redis_calls(rung.store_url) - calls) / batches, 2
        )
        result["redis_cpu_us_per_batch"] = round(
            1e6 * (cpu_seconds(redis.pid) - redis_cpu) / batches, 1
        )
    return result

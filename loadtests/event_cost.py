"""What one launch's event batch costs a real `uiserver serve`, before and after a change, in one
run: server CPU per `POST /v1/me/events`, Redis commands and redis-server CPU per batch, and
invalidations published per batch.

    python -m loadtests.event_cost --before REV [--store redis] [--server uvicorn]
        [--batches 2000] [--rounds 3]

Each round starts one server of the working tree and one of REV (a temporary `git worktree`,
run with this checkout's Python environment), on SQLite or on a fresh redis-server of their
own, both on the same `--server` (`uiserver serve --server`: granian, its default, or
uvicorn), and drives both the same way: `--batches` users each launch (`GET /v1/layouts/home`) and
send two batches of history, then launch again and, measured, send one batch each: 6 views and
a click with event ids, as the mini-program SDK sends after a launch. Rounds alternate
the two servers so a busy machine weighs on both alike; the report gives every round and the
median, with the machine's load average.

`--paired` starts both servers at once instead and alternates the measured batches between
them, for a machine whose load swings: each round's before and after saw the same moments.
Server and redis-server CPU only (no command counts).

Redis commands are counted twice: `INFO commandstats` (what redis-server executed, the
commands a script runs inside counted one by one, as docs/CAPACITY.md's figures were) and the
commands clients sent (a `MONITOR` pass after the measurement, lines from scripts left out).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import redis

from loadtests.servers import cpu_seconds
from uiserver.auth import mint_token

ROOT = Path(__file__).resolve().parents[1]
SECRET = "event-cost-secret-0123456789abcdef"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Redis:
    """A redis-server of this measurement's own (no persistence)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        self.url = f"redis://127.0.0.1:{self.port}/0"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url).ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


class Server:
    """`uiserver serve --server SERVER` from `source` (a checkout), on SQLite in `data` or on
    `store`."""

    def __init__(self, source: Path, data: Path, store: str, server: str = "granian") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("UISERVER_")},
            "UISERVER_JWT_SECRET": SECRET,
            "PYTHONPATH": str(source),
        }
        argv = [
            sys.executable,
            "-m",
            "uiserver.cli",
            "serve",
            "--server",
            server,
            "--port",
            str(self.port),
            "--data-dir",
            str(data),
            "--log-level",
            "warning",
        ]
        if store:
            argv += ["--store", store]
        self.proc = subprocess.Popen(argv, cwd=source, env=env, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"uiserver from {source} did not get ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


# `--random-clicks SHARE`: each batch's click goes to the user's favourite component (one each)
# with probability 1 - SHARE, else to one drawn at random (0: always the favourite).
RANDOM_CLICKS = 0.0
HISTORY = 2


def batch(components: list[str], user: int, n: int, now: float) -> dict[str, Any]:
    draw = random.Random(user * 1_000 + n)
    favourite = components[user % len(components)]
    clicked = draw.choice(components) if draw.random() < RANDOM_CLICKS else favourite
    events = [
        {"page": "home", "component": c, "kind": "view", "ts": now, "id": f"u{user:07d}-{n}-{i}"}
        for i, c in enumerate(components)
    ]
    events.append(
        {
            "page": "home",
            "component": clicked,
            "kind": "click",
            "ts": now,
            "id": f"u{user:07d}-{n}-c",
        }
    )
    return {"events": events}


def commandstats(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


def client_commands(url: str, run: Any) -> dict[str, int]:
    """Commands clients sent while `run()` ran (MONITOR; lines a script ran are left out)."""
    seen: dict[str, int] = {}
    stop = threading.Event()
    ready = threading.Event()

    def watch() -> None:
        with redis.Redis.from_url(url).monitor() as monitor:  # type: ignore[no-untyped-call]
            ready.set()
            for line in monitor.listen():
                if stop.is_set():
                    return
                if line.get("client_type") == "lua" or "lua" in str(line.get("client_address")):
                    continue
                name = str(line["command"]).split(" ", 1)[0].strip('"').upper()
                seen[name] = seen.get(name, 0) + 1

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    ready.wait(5)
    run()
    time.sleep(0.3)
    stop.set()
    redis.Redis.from_url(url).ping()  # wakes the monitor to see `stop`
    thread.join(5)
    for noise in ("PING", "INFO", "MONITOR"):
        seen.pop(noise, None)
    return seen


def measure(
    source: Path, store: str, batches: int, tmp: Path, server_name: str = "granian"
) -> dict[str, Any]:
    own_redis = Redis(tmp / "redis") if store == "redis" else None
    server = Server(source, tmp / "data", own_redis.url if own_redis else "", server_name)
    try:
        components = [
            c["id"] for c in httpx.get(server.url + "/v1/layouts/home").json()["components"]
        ][:6]
        tokens = [mint_token(SECRET, f"cost-{i}", "user", 3600) for i in range(batches + 50)]
        now = time.time() - 5
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for i, token in enumerate(tokens):  # launch, then two batches of history
                headers = {"Authorization": f"Bearer {token}"}
                client.get("/v1/layouts/home", headers=headers)
                for n in range(HISTORY):
                    client.post("/v1/me/events", json=batch(components, i, n, now), headers=headers)
            for token in tokens:  # the launch the measured batch follows
                client.get("/v1/layouts/home", headers={"Authorization": f"Bearer {token}"})
            redis_client = redis.Redis.from_url(own_redis.url) if own_redis else None
            before_stats = commandstats(redis_client) if redis_client else {}
            before_cpu = cpu_seconds(server.proc.pid)
            before_redis = cpu_seconds(own_redis.proc.pid) if own_redis else 0.0
            statuses: dict[int, int] = {}
            for i, token in enumerate(tokens[:batches]):
                status = client.post(
                    "/v1/me/events",
                    json=batch(components, i, HISTORY, now),
                    headers={"Authorization": f"Bearer {token}"},
                ).status_code
                statuses[status] = statuses.get(status, 0) + 1
            used = cpu_seconds(server.proc.pid) - before_cpu
            result: dict[str, Any] = {
                "statuses": statuses,
                "server_cpu_us_per_batch": round(1e6 * used / batches, 1),
            }
            if redis_client is not None and own_redis is not None:
                after_stats = commandstats(redis_client)
                delta = {k: v - before_stats.get(k, 0) for k, v in after_stats.items()}
                delta = {k: v for k, v in delta.items() if v and k not in ("info", "ping")}
                result["redis_executed_per_batch"] = round(sum(delta.values()) / batches, 2)
                result["publish_per_batch"] = round(delta.get("publish", 0) / batches, 3)
                result["redis_cpu_us_per_batch"] = round(
                    1e6 * (cpu_seconds(own_redis.proc.pid) - before_redis) / batches, 1
                )
                extra = tokens[batches : batches + 50]

                def more() -> None:
                    for j, token in enumerate(extra):
                        client.post(
                            "/v1/me/events",
                            json=batch(components, batches + j, HISTORY, now),
                            headers={"Authorization": f"Bearer {token}"},
                        )

                sent = client_commands(own_redis.url, more)
                result["redis_sent_per_batch"] = round(sum(sent.values()) / len(extra), 2)
                result["redis_sent_commands"] = sent
        return result
    finally:
        server.stop()
        if own_redis is not None:
            own_redis.stop()


def measure_paired(
    sources: dict[str, Path],
    store: str,
    batches: int,
    tmp: Path,
    server_name: str = "granian",
    servers: dict[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """`--paired`: both servers run at once and the measured batches alternate between them
    (before, after, after, before, ...), so both see the same machine from moment to moment;
    server CPU (and redis-server CPU) per batch of each. On a machine whose load swings within
    a minute, sequential rounds differed by 2x; pairs measure the ratio, not the value.
    `servers`: a label's own `--server` (to compare granian with uvicorn on one source)."""
    sides: dict[str, tuple[Server, Redis | None, httpx.Client]] = {}
    try:
        for label, source in sources.items():
            own = Redis(tmp / label / "redis") if store == "redis" else None
            name = (servers or {}).get(label, server_name)
            server = Server(source, tmp / label / "data", own.url if own else "", name)
            sides[label] = (server, own, httpx.Client(base_url=server.url, timeout=10))
        first = next(iter(sides.values()))[0]
        components = [
            c["id"] for c in httpx.get(first.url + "/v1/layouts/home").json()["components"]
        ][:6]
        tokens = [mint_token(SECRET, f"cost-{i}", "user", 3600) for i in range(batches)]
        now = time.time() - 5
        for _, _, client in sides.values():
            for i, token in enumerate(tokens):  # launch, history, launch again, as `measure`
                headers = {"Authorization": f"Bearer {token}"}
                client.get("/v1/layouts/home", headers=headers)
                for n in range(HISTORY):
                    client.post("/v1/me/events", json=batch(components, i, n, now), headers=headers)
            for token in tokens:
                client.get("/v1/layouts/home", headers={"Authorization": f"Bearer {token}"})
        before = {
            label: (cpu_seconds(s.proc.pid), cpu_seconds(r.proc.pid) if r else 0.0)
            for label, (s, r, _) in sides.items()
        }
        statuses: dict[str, dict[int, int]] = {label: {} for label in sides}
        order = list(sides)
        for i, token in enumerate(tokens):
            for label in order if i % 2 == 0 else order[::-1]:
                status = (
                    sides[label][2]
                    .post(
                        "/v1/me/events",
                        json=batch(components, i, HISTORY, now),
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    .status_code
                )
                statuses[label][status] = statuses[label].get(status, 0) + 1
        result: dict[str, dict[str, Any]] = {}
        for label, (server, own, _) in sides.items():
            cpu, redis_cpu = before[label]
            result[label] = {
                "statuses": statuses[label],
                "server_cpu_us_per_batch": round(
                    1e6 * (cpu_seconds(server.proc.pid) - cpu) / batches, 1
                ),
            }
            if own is not None:
                result[label]["redis_cpu_us_per_batch"] = round(
                    1e6 * (cpu_seconds(own.proc.pid) - redis_cpu) / batches, 1
                )
        return result
    finally:
        for server, own, client in sides.values():
            client.close()
            server.stop()
            if own is not None:
                own.stop()


def worktree(rev: str, into: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(into), rev],
        check=True,
        capture_output=True,
    )
    return into


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the git revision to compare with")
    parser.add_argument("--store", choices=["sqlite", "redis"], default="sqlite")
    parser.add_argument(
        "--server",
        choices=["granian", "uvicorn"],
        default="granian",
        help="the HTTP server both revisions run (`uiserver serve --server`; default granian)",
    )
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--random-clicks",
        type=float,
        default=0.0,
        help="share of batches whose click goes to a random component instead of the user's "
        "favourite (default 0)",
    )
    parser.add_argument(
        "--history", type=int, default=2, help="batches each user sent before the measured one"
    )
    parser.add_argument(
        "--paired",
        action="store_true",
        help="run both servers at once and alternate the measured batches between them "
        "(server CPU only; for a busy machine: `measure_paired`)",
    )
    args = parser.parse_args(argv)
    global RANDOM_CLICKS, HISTORY
    RANDOM_CLICKS, HISTORY = args.random_clicks, args.history
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        old = worktree(args.before, tmp / "before")
        try:
            rounds: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
            load = os.getloadavg()[0]
            for r in range(args.rounds):
                if args.paired:
                    where = tmp / f"pair-{r}"
                    for label in ("before", "after"):
                        (where / label / "redis").mkdir(parents=True)
                    sources = (
                        {"before": old, "after": ROOT}
                        if r % 2 == 0
                        else {"after": ROOT, "before": old}
                    )
                    pair = measure_paired(sources, args.store, args.batches, where, args.server)
                    for label in ("before", "after"):
                        rounds[label].append(pair[label])
                        print(label, r, json.dumps(pair[label]), file=sys.stderr)
                    continue
                for label, source in (("before", old), ("after", ROOT)):
                    where = tmp / f"{label}-{r}"
                    (where / "redis").mkdir(parents=True)
                    rounds[label].append(
                        measure(source, args.store, args.batches, where, args.server)
                    )
                    print(label, r, json.dumps(rounds[label][-1]), file=sys.stderr)
            report: dict[str, Any] = {
                "store": args.store,
                "server": args.server,
                "paired": args.paired,
                "batches": args.batches,
                "before": args.before,
                "load_average_at_start": round(load, 2),
                "load_average_at_end": round(os.getloadavg()[0], 2),
                "rounds": rounds,
            }
            for label, results in rounds.items():
                report[f"{label}_median"] = {
                    key: statistics.median(res[key] for res in results)
                    for key in results[0]
                    if isinstance(results[0][key], int | float)
                }
            print(json.dumps(report, indent=1))
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)],
                capture_output=True,
            )
            shutil.rmtree(tmp / "before", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

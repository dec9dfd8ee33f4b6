"""Connections an attacker holds open, at the issue's numbers (issue 27, section 1).

For each server (`uiserver serve --server uvicorn|granian`, one worker, SQLite, default limits
unless given): first three connections each send a never-finished 100 MB header (the server's
RSS before and after); then an attacker process keeps 5,000 idle connections (no bytes) and 3,000
slowloris connections (a request line, then one header line every 3 s) open for `--duration`,
reconnecting each one the server closes, while a normal client launches
`GET /v1/layouts/home` on a fresh connection every 0.25 s. Reported: the normal client's
answers and latency, how long the server let idle and slow connections live (median and max),
how many were still open past the header timeout, and the RSS. Run as a file:

    python loadtests/connflood.py [--servers uvicorn granian] [--duration 45]

Writes `results.json` and `summary.md` to `bench-out/connflood-<time>/`. This process and the
attacker raise their soft open-files limit to the hard one (8,000+ sockets); so does the server.
Nothing is asserted: the figures are the report (docs/DEPLOY.md quotes them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path[:1]:  # run as a file: the checkout first
    sys.path.insert(0, str(HERE.parent))

from loadtests.servers import ROOT, Proc, free_port, rss_bytes, server_env, started  # noqa: E402
from uiserver.auth import mint_token  # noqa: E402

SECRET = "connflood-secret-0123456789-abcdefghij"
HEAD = b"GET /v1/layouts/home HTTP/1.1\r\nHost: 127.0.0.1\r\n"


@dataclass
class AttackReport:
    kind: str
    target: int
    opened: int = 0
    connect_errors: int = 0
    closed_by_server: int = 0
    lifetimes: list[float] = field(default_factory=list)  # seconds, of those the server closed
    open_at_end: int = 0
    open_past_timeout_at_end: int = 0

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        life = data.pop("lifetimes")
        data["lifetime_median_s"] = round(statistics.median(life), 2) if life else None
        data["lifetime_max_s"] = round(max(life), 2) if life else None
        return data


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _one(
    port: int,
    kind: str,
    report: AttackReport,
    stop: float,
    live: dict[int, float],
    reconnect: bool,
) -> None:
    """Keep one attacking connection open until `stop`, reconnecting when the server closes it
    (unless `reconnect` is off: then one connection, held until the server closes it)."""
    first = True
    while time.monotonic() < stop and (first or reconnect):
        first = False
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            report.connect_errors += 1
            await asyncio.sleep(0.5)
            continue
        report.opened += 1
        began = time.monotonic()
        key = id(writer)
        live[key] = began
        try:
            if kind == "slow":
                writer.write(HEAD)
            line = 0
            while time.monotonic() < stop:
                try:
                    data = await asyncio.wait_for(reader.read(4096), 3.0 if kind == "slow" else 5.0)
                    if not data:
                        raise ConnectionResetError
                    continue  # a 408/431 before the close: read on to the close
                except TimeoutError:
                    pass
                if kind == "slow":
                    writer.write(b"X-Slow-%d: v\r\n" % line)
                    line += 1
                    await writer.drain()
            writer.close()
            return
        except (ConnectionError, OSError):
            report.closed_by_server += 1
            report.lifetimes.append(time.monotonic() - began)
        finally:
            live.pop(key, None)
            writer.close()


async def _attack(
    port: int, idle: int, slow: int, duration: float, timeout: float, reconnect: bool
) -> list[dict[str, Any]]:
    stop = time.monotonic() + duration
    reports = {"idle": AttackReport("idle", idle), "slow": AttackReport("slow", slow)}
    live = {"idle": {}, "slow": {}}  # type: dict[str, dict[int, float]]
    tasks = []
    for kind, count in (("idle", idle), ("slow", slow)):
        for i in range(count):
            tasks.append(
                asyncio.create_task(_one(port, kind, reports[kind], stop, live[kind], reconnect))
            )
            if i % 500 == 499:
                await asyncio.sleep(0.05)  # ramp: ~10,000 connections a second
    await asyncio.sleep(max(0.0, stop - time.monotonic() - 0.5))
    now = time.monotonic()
    for kind, report in reports.items():
        report.open_at_end = len(live[kind])
        report.open_past_timeout_at_end = sum(
            1 for t in live[kind].values() if now - t > timeout + 2
        )
    await asyncio.gather(*tasks, return_exceptions=True)
    return [r.summary() for r in reports.values()]


def attacker(
    port: int, idle: int, slow: int, duration: float, timeout: float, reconnect: bool, out: Any
) -> None:
    raise_nofile()
    out.put(asyncio.run(_attack(port, idle, slow, duration, timeout, reconnect)))


def huge_headers(port: int, connections: int = 3, size: int = 100 * 1024 * 1024) -> list[int]:
    """Each connection sends a header line that never ends, up to `size` bytes; returns how
    many bytes each got through before the server stopped it."""
    sent = []
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        total = 0
        try:
            sock.sendall(HEAD + b"X-Pad: ")
            chunk = b"a" * (1 << 20)
            while total < size:
                sock.sendall(chunk)
                total += len(chunk)
        except OSError:
            pass
        finally:
            sock.close()
        sent.append(total)
    return sent


def _ss(*args: str) -> list[str]:
    out = subprocess.run(["ss", "-Htn", *args], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()


class Sampler(threading.Thread):
    """Once a second, from the kernel (`ss`): the listener's accept queue (connections the
    kernel completed that the server has not accepted yet) and the connections established to
    the server's port."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.accept_queue: list[int] = []
        self.established: list[int] = []
        self.times: list[float] = []
        self.began = time.monotonic()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(1.0):
            self.times.append(time.monotonic() - self.began)
            listen = _ss("-l", f"sport = :{self.port}")
            self.accept_queue.append(int(listen[0].split()[1]) if listen else 0)
            self.established.append(len(_ss("state", "established", f"sport = :{self.port}")))

    def summary(self, attack: int) -> dict[str, Any]:
        """`attack`: connections the attacker opens; `cleared_after_s` is the first second
        (from the attack's start) at which the server, past its peak, held fewer than 1% of
        them (the server side of "closed within the header timeout"; meaningful with
        `--once`)."""
        cleared = None
        peak = max(self.established, default=0)
        top = self.established.index(peak) if peak else 0
        for at, count in list(zip(self.times, self.established, strict=True))[top:]:
            if count < max(1, attack * 0.01):
                cleared = round(at, 1)
                break
        return {
            "cleared_after_s": cleared,
            "established_series": self.established,
            "accept_queue_max": max(self.accept_queue, default=0),
            "accept_queue_median": statistics.median(self.accept_queue or [0]),
            "established_max": max(self.established, default=0),
            "established_median": statistics.median(self.established or [0]),
        }


def normal_client(url: str, duration: float, token: str) -> dict[str, Any]:
    """A launch every 0.25 s, each on a fresh connection (timeout 10 s)."""
    statuses: dict[str, int] = {}
    latencies = []
    stop = time.monotonic() + duration
    while time.monotonic() < stop:
        began = time.perf_counter()
        try:
            with httpx.Client(timeout=10.0) as http:
                status = str(
                    http.get(
                        url + "/v1/layouts/home", headers={"Authorization": f"Bearer {token}"}
                    ).status_code
                )
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        latencies.append(time.perf_counter() - began)
        statuses[status] = statuses.get(status, 0) + 1
        time.sleep(max(0.0, 0.25 - (time.perf_counter() - began)))
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "statuses": statuses,
        "p50_ms": round(1000 * ordered[len(ordered) // 2], 1),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
        "max_ms": round(1000 * ordered[-1], 1),
    }


def run_server(server: str, args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uiserver.cli",
        "serve",
        "--server",
        server,
        "--port",
        str(port),
        "--data-dir",
        str(out_dir / f"data-{server}"),
        "--log-level",
        "warning",
        *args.serve_args,
    ]
    proc = started(
        Proc(server, argv, out_dir / f"{server}.log", env=server_env(SECRET)),
        f"http://127.0.0.1:{port}/readyz",
    )
    url = f"http://127.0.0.1:{port}"
    token = mint_token(SECRET, "flood-user", "user", 3600)
    try:
        result: dict[str, Any] = {"server": server}
        rss0 = rss_bytes(proc.pid)
        result["huge_headers_bytes_sent"] = huge_headers(port)
        time.sleep(1.0)
        result["huge_headers_rss_growth_mb"] = round((rss_bytes(proc.pid) - rss0) / 1e6, 1)
        queue: Any = multiprocessing.get_context("spawn").Queue()
        child = multiprocessing.get_context("spawn").Process(
            target=attacker,
            args=(
                port,
                args.idle,
                args.slow,
                args.duration,
                args.header_timeout,
                not args.once,
                queue,
            ),
        )
        sampler = Sampler(port)
        child.start()
        sampler.start()
        time.sleep(min(5.0, args.duration / 4))  # let the flood build up
        result["normal_client"] = normal_client(url, args.duration - 6, token)
        result["attack"] = queue.get(timeout=args.duration + 120)
        sampler.done.set()
        result["kernel"] = sampler.summary(args.idle + args.slow)
        child.join(timeout=30)
        result["rss_after_mb"] = round(rss_bytes(proc.pid) / 1e6, 1)
        result["alive"] = proc.alive()
        return result
    finally:
        proc.stop()


def markdown(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"# Connection flood: {args.idle:,} idle + {args.slow:,} slow, {args.duration:.0f} s",
        "",
        "| server | normal client (answers) | p50 / p99 / max ms | idle lifetime med/max s | "
        "slow lifetime med/max s | past timeout at end | accept queue max | established max | "
        "server cleared them after | 3x100 MB headers: RSS growth |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        n, (idle, slow) = r["normal_client"], r["attack"]
        lines.append(
            f"| {r['server']} | {n['statuses']} of {n['requests']} | {n['p50_ms']} / "
            f"{n['p99_ms']} / {n['max_ms']} | {idle['lifetime_median_s']} / "
            f"{idle['lifetime_max_s']} | {slow['lifetime_median_s']} / {slow['lifetime_max_s']} | "
            f"{idle['open_past_timeout_at_end'] + slow['open_past_timeout_at_end']} | "
            f"{r['kernel']['accept_queue_max']} | {r['kernel']['established_max']} | "
            f"{r['kernel']['cleared_after_s']} s | "
            f"{r['huge_headers_rss_growth_mb']} MB |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--servers", nargs="+", default=["uvicorn", "granian"])
    p.add_argument("--idle", type=int, default=5_000)
    p.add_argument("--slow", type=int, default=3_000)
    p.add_argument("--duration", type=float, default=45.0)
    p.add_argument("--header-timeout", type=float, default=10.0, help="the server's (report)")
    p.add_argument(
        "--once",
        action="store_true",
        help="attackers do not reconnect: measures how soon the server clears them",
    )
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("serve_args", nargs="*", help="more `uiserver serve` options, after --")
    args = p.parse_args(argv)
    raise_nofile()
    out_dir = args.out or ROOT / "bench-out" / f"connflood-{time.strftime('%Y%m%d-%H%M%S')}"
    out_dir.mkdir(parents=True, exist_ok=True)
    results = [run_server(server, args, out_dir) for server in args.servers]
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    summary = markdown(results, args)
    (out_dir / "summary.md").write_text(summary)
    print(summary)
    print(f"written to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

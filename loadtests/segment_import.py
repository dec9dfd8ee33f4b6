"""Layout GETs while a 500,000-user segment import runs (issue 27, section 4).

    python loadtests/segment_import.py [--users 500000] [--store sqlite|redis|both]
                                       [--clients 4] [--baseline 5]

For each store it starts a real `uiserver serve` (SQLite in a temporary directory, or on a
private redis-server), then in one run:

1. baseline: `--clients` threads send layout GETs for `--baseline` seconds, each for a user of
   a pool of 2,000 signed-in users (their first launch reads the store, later ones are warm);
2. import: the same GETs while one `PUT /v1/admin/segments` imports `--users` users as JSON
   lines (about 17 MB), until the import answers.

It prints p50/p99/max of the GETs in each phase, the import's duration and answer, and the
server's peak RSS (sampled every 50 ms), and writes them to `bench-out/segment-import-*/`.
The target is a p99 under 100 ms during the import.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path[:1]:  # run as a file: the checkout first
    sys.path.insert(0, str(HERE.parent))

from loadtests.servers import (  # noqa: E402
    ROOT,
    Pinning,
    Proc,
    free_port,
    rss_bytes,
    server_env,
    start_redis,
    start_uiserver,
)
from uiserver.auth import mint_token  # noqa: E402

POOL = 2_000
NO_PIN = Pinning(None, None, "server, Redis and the GET threads share all cores")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=500_000)
    parser.add_argument("--store", choices=["sqlite", "redis", "both"], default="both")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--baseline", type=float, default=5.0, help="seconds")
    parser.add_argument("--out", type=Path, default=None)
    return parser.parse_args(argv)


def import_body(users: int) -> bytes:
    return b"\n".join(b'{"user":"%d","segments":["rfm_high"]}' % i for i in range(users))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def figures(latencies: list[float]) -> dict[str, float]:
    return {
        "requests": len(latencies),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(max(latencies, default=float("nan")) * 1000, 2),
    }


def poll(url: str, tokens: list[str], stop: threading.Event, seed: int) -> list[float]:
    """Layout GETs until `stop`; each request's latency in seconds (errors fail the run)."""
    latencies: list[float] = []
    with httpx.Client(base_url=url, timeout=30.0) as client:
        i = seed
        while not stop.is_set():
            token = tokens[i % len(tokens)]
            i += 7
            start = time.perf_counter()
            response = client.get("/v1/layouts/home", headers={"Authorization": f"Bearer {token}"})
            latencies.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise RuntimeError(f"layout GET answered {response.status_code}")
    return latencies


def phase(
    url: str, tokens: list[str], clients: int, work: Any, server: Proc
) -> tuple[list[float], Any, int]:
    """GETs from `clients` threads while `work()` runs; (latencies, its result, peak RSS)."""
    stop = threading.Event()
    results: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            results[n] = poll(url, tokens, stop, n * 131)
        except BaseException as exc:
            errors.append(exc)

    peak = [rss_bytes(server.pid)]

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_bytes(server.pid))
            time.sleep(0.05)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    threads.append(threading.Thread(target=sample))
    for thread in threads:
        thread.start()
    try:
        outcome = work()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return [x for r in results for x in r], outcome, peak[0]


def measure(store: str, args: argparse.Namespace, work_dir: Path, out: Path) -> dict[str, Any]:
    secret = secrets.token_urlsafe(32)
    procs: list[Proc] = []
    try:
        extra: dict[str, str] = {}
        if store == "redis":
            redis_proc, redis_url = start_redis(work_dir / "redis")
            procs.append(redis_proc)
            extra["UISERVER_STORE"] = redis_url
        port = free_port()
        server = start_uiserver(
            work_dir / store,
            port,
            1,
            NO_PIN,
            out / f"uiserver-{store}.log",
            server_env(secret, extra),
        )
        procs.append(server)
        url = f"http://127.0.0.1:{port}"
        tokens = [mint_token(secret, f"reader-{i}") for i in range(POOL)]
        designer = {"Authorization": f"Bearer {mint_token(secret, 'ops', 'admin')}"}
        body = import_body(args.users)

        base, _, base_rss = phase(
            url, tokens, args.clients, lambda: time.sleep(args.baseline), server
        )

        def run_import() -> tuple[int, float, str]:
            start = time.perf_counter()
            response = httpx.put(
                f"{url}/v1/admin/segments",
                content=body,
                headers={**designer, "Content-Type": "application/x-ndjson"},
                timeout=600.0,
            )
            return response.status_code, time.perf_counter() - start, response.text[:200]

        during, (status, seconds, answer), peak = phase(
            url, tokens, args.clients, run_import, server
        )
        return {
            "store": store,
            "users": args.users,
            "body_bytes": len(body),
            "baseline": figures(base),
            "during_import": figures(during),
            "import": {"status": status, "seconds": round(seconds, 2), "answer": answer},
            "rss_mb": {"baseline_peak": base_rss // 2**20, "import_peak": peak // 2**20},
        }
    finally:
        for proc in reversed(procs):
            proc.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.out or ROOT / "bench-out" / time.strftime("segment-import-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    stores = ["sqlite", "redis"] if args.store == "both" else [args.store]
    results = []
    with tempfile.TemporaryDirectory(prefix="uiserver-import-") as work:
        for store in stores:
            result = measure(store, args, Path(work), out)
            results.append(result)
            print(json.dumps(result), flush=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    ok = all(r["import"]["status"] == 200 and r["during_import"]["p99_ms"] < 100 for r in results)
    print(f"p99 during the import under 100 ms on every store: {ok}; results in {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

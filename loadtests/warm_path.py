"""CPU of one warm layout GET in the RSGI handler against the raw RSGI app, in one process.

    .venv/bin/python -m loadtests.warm_path [--requests 200000] [--rounds 5]
    valgrind --tool=callgrind .venv/bin/python -m loadtests.warm_path --callgrind ...

The ladder (`loadtests/ladder.py`) measures whole servers, granian included, on a machine
others share; this measures only what the app adds, so it is repeatable on a busy machine:
`uiserver.http.rsgi.RSGIApp.__rsgi__` (the app `uiserver serve --server granian` runs, on the
shipped layouts and a SQLite store in a temporary directory) and `loadtests.raw_app.rsgi_app`
(the ladder's raw RSGI rung, serving the same body bytes and ETag) are called alternately in
rounds with the same fake scope and protocol objects (the handler sees what granian hands it:
`path`, `method`, `query_string`, a `headers` mapping with `get`), each request what the
ladder's warm GET sends (`Authorization: Bearer <token>` of a signed-in user, no
Accept-Encoding, the body cached) and, with `--304`, the ladder's 304 (If-None-Match).

Reported per round: CPU microseconds per request (`time.process_time`, so other processes'
load does not count, though it still slows caches) of each, and the difference. The median
round is printed last. `--callgrind` runs one round of each with callgrind's instrumentation
toggled around the loops (`CALLGRIND_TOGGLE_COLLECT` is not reachable from Python, so each is
run with `--toggle-collect=<function>`): instructions per request =
collected Ir / `--requests`.

What it leaves out: granian's own work per request (HTTP parsing, writing the response, its
Rust-to-Python call), which the ladder's `x raw RSGI by CPU` includes on both sides; a handler
that costs D us more than the raw app here costs about D us more per request there too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SECRET = "warm-path-secret-0123456789-abcdefghijkl"
USER = "warm-path-user"


class Headers(dict[str, str]):
    """granian's RSGI headers as the handler reads them: `get`, `items`, `keys`, `in`."""

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return list(super().items())

    def keys(self) -> list[str]:  # type: ignore[override]
        return list(super().keys())


class Scope:
    __slots__ = (
        "client",
        "headers",
        "http_version",
        "method",
        "path",
        "proto",
        "query_string",
        "scheme",
        "server",
    )

    def __init__(self, path: str, headers: dict[str, str]) -> None:
        self.proto = "http"
        self.http_version = "1.1"
        self.client = "127.0.0.1:50000"
        self.server = "127.0.0.1:8000"
        self.scheme = "http"
        self.method = "GET"
        self.path = path
        self.query_string = ""
        self.headers = Headers(headers)


class Protocol:
    """Keeps the last answer (checked once, so both apps are known to answer the same)."""

    __slots__ = ("body", "headers", "status")

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.body = b""

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def __aiter__(self) -> Protocol:  # a request body: none (GETs only)
        return self

    async def __anext__(self) -> bytes:
        raise StopAsyncIteration

    async def client_disconnect(self) -> None:  # never called by a layout GET
        raise NotImplementedError


Handler = Callable[[Any, Any], Awaitable[None]]


async def _loop(handler: Handler, scope: Scope, protocol: Protocol, n: int) -> float:
    """CPU seconds of `n` calls (none of them suspends once warm)."""
    started = time.process_time()
    for _ in range(n):
        await handler(scope, protocol)
    return time.process_time() - started


_CURRENT: dict[str, tuple[Handler, Scope, Protocol]] = {}


def _instrument(state: str) -> None:
    """Switch callgrind's instrumentation of this process on or off (when run under
    `valgrind --tool=callgrind --instr-atstart=no`; nothing otherwise)."""
    if "valgrind" in os.environ.get("LD_PRELOAD", ""):
        subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True)


async def _setup(data_dir: Path, not_modified: bool) -> tuple[Any, Any]:
    from uiserver.auth import mint_token
    from uiserver.config import Config
    from uiserver.http.app import create_app
    from uiserver.http.layouts import LayoutApp
    from uiserver.http.rsgi import RSGIApp

    config = Config(
        data_dir=data_dir,
        layouts_dir=ROOT / "layouts",
        components_dir=ROOT / "components",
        jwt_secret=SECRET,
    )
    edge = create_app(config)
    assert isinstance(edge, LayoutApp), "tracing or JSON logs are on: unset UISERVER_TRACING"
    app = RSGIApp(edge, edge)
    await app.bridge.startup()
    token = mint_token(SECRET, USER, "user", 3600)
    scope = Scope("/v1/layouts/home", {"authorization": f"Bearer {token}"})
    protocol = Protocol()
    for _ in range(3):  # first launch, then warm: profile, memo, token cached
        await app.__rsgi__(scope, protocol)
    assert protocol.status == 200, protocol.status
    body, etag = protocol.body, dict(protocol.headers)["etag"]
    if not_modified:
        scope.headers["if-none-match"] = etag
        await app.__rsgi__(scope, protocol)
        assert protocol.status == 304, protocol.status
    os.environ["BARE_BODY_FILE"] = str(data_dir / "layout.json")
    os.environ["BARE_ETAG"] = etag
    (data_dir / "layout.json").write_bytes(body)
    from loadtests import raw_app  # reads BARE_BODY_FILE when imported

    raw_protocol = Protocol()
    raw_scope = Scope("/v1/layouts/home", dict(scope.headers))
    await raw_app.rsgi_app(raw_scope, raw_protocol)
    await app.__rsgi__(scope, protocol)
    assert (raw_protocol.status, raw_protocol.body) == (protocol.status, protocol.body)
    _CURRENT["ui"] = (app.__rsgi__, scope, protocol)
    _CURRENT["raw"] = (raw_app.rsgi_app, raw_scope, raw_protocol)
    return app, protocol


async def _main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as folder:
        app, protocol = await _setup(Path(folder), args.not_modified)
        try:
            if args.only:  # under callgrind: no timing, one app, instrumented around the loop
                _instrument("on")
                await _loop(*_CURRENT[args.only], args.requests)
                _instrument("off")
                print(f"{args.only}: {args.requests} requests")
                return 0
            rounds = []
            for _ in range(args.rounds):
                ui = await _loop(*_CURRENT["ui"], args.requests)
                raw = await _loop(*_CURRENT["raw"], args.requests)
                ui_us, raw_us = ui / args.requests * 1e6, raw / args.requests * 1e6
                rounds.append((ui_us, raw_us))
                print(
                    f"uiserver RSGI {ui_us:6.2f} us  raw RSGI {raw_us:5.2f} us  "
                    f"difference {ui_us - raw_us:6.2f} us"
                )
            ui_med = statistics.median(r[0] for r in rounds)
            raw_med = statistics.median(r[1] for r in rounds)
            print(
                f"median: uiserver {ui_med:.2f} us/request, raw RSGI {raw_med:.2f}, "
                f"difference {ui_med - raw_med:.2f} us ({len(protocol.body):,}-byte body, "
                f"status {protocol.status}, load average {os.getloadavg()[0]:.1f})"
            )
        finally:
            await app.bridge.shutdown()
    return 0


POLL_UNDER_VALGRIND = "1"


def instructions(app: str, requests: int, small: int = 1_000) -> float:
    """Instructions per request of `app` ("ui" or "raw") under callgrind: two runs, `small`
    and `small + requests` requests, instrumented only around the loop; the difference over
    `requests` cancels what switching the instrumentation on and off costs."""
    counts = []
    for n in (small, small + requests):
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "callgrind.out"
            subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    "--instr-atstart=no",
                    f"--callgrind-out-file={out}",
                    sys.executable,
                    "-m",
                    "loadtests.warm_path",
                    "--only",
                    app,
                    "--requests",
                    str(n),
                ],
                check=True,
                cwd=ROOT,
                capture_output=True,
                # The store's data_version poll is rate-limited by the clock (1 ms): slowed
                # ~50x by valgrind it would run every few requests instead of every ~40.
                env={**os.environ, "UISERVER_POLL_INTERVAL": POLL_UNDER_VALGRIND},
            )
            totals = [line for line in out.read_text().splitlines() if line.startswith("totals:")]
            counts.append(int(totals[0].split()[1]))
    return (counts[1] - counts[0]) / requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000, help="per round and app")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--304", dest="not_modified", action="store_true", help="If-None-Match")
    parser.add_argument(
        "--only", choices=["ui", "raw"], help="one loop of this app, untimed (for callgrind)"
    )
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="instructions per request of each app (valgrind's callgrind, two runs each)",
    )
    args = parser.parse_args(argv)
    if args.callgrind:
        ui, raw = instructions("ui", args.requests), instructions("raw", args.requests)
        print(
            f"instructions per request: uiserver RSGI {ui:,.0f}, raw RSGI {raw:,.0f}, "
            f"difference {ui - raw:,.0f} ({args.requests:,} requests measured each)"
        )
        return 0
    import uvloop

    return uvloop.run(_main(args))


if __name__ == "__main__":
    raise SystemExit(main())

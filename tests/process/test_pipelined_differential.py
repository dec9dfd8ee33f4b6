"""Differential test of pipelining: seeded sequences of pipelined requests (GET, HEAD, POST with
small bodies; keep-alive or `Connection: close`; split across several TCP writes at random byte
boundaries) sent to `uiserver serve` (uvicorn with `LimitedHttpToolsProtocol`) and to stock
uvicorn (`--http httptools`) on the same app and data directory. The (status, body) answers
must be the same sequence: our protocol adds limits, not different answers.

Where our limits refuse on purpose, the answers differ, and no generated request reaches them
(they are tested on their own in test_connection_limits.py): a head over the header byte budget
or field count (431 where uvicorn serves it), a head or body not complete within the header or
body deadline (408 or a close where uvicorn waits), bytes that do not parse (a JSON 400 where
uvicorn's is text/plain), and a connection past the connection cap (evicted or 503). Every
request here is small, well formed and sent within milliseconds."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers.app import ROOT, SECRET, free_port, token
from tests.helpers.processes import ServeProcess, stop_process
from tests.helpers.rawhttp import connect, read_until_closed, split_answers

SEQUENCES = 60
SEED = 20261202


@pytest.fixture(scope="module")
def ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """(ours, stock uvicorn's): both serve the same data directory (read here, never written:
    no generated request stores anything)."""
    directory = tmp_path_factory.mktemp("differential")
    ours = ServeProcess(directory, "", args=["--server", "uvicorn"]).start()
    ours.wait_ready()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UISERVER_")}
    env |= {
        "UISERVER_JWT_SECRET": SECRET,
        "UISERVER_DATA_DIR": str(directory / "data"),
        "PYTHONPATH": str(ROOT),
    }
    argv = [sys.executable, "-m", "uvicorn", "uiserver.http.app:app_from_env", "--factory"]
    argv += ["--http", "httptools", "--port", str(port), "--log-level", "warning"]
    log = (directory / "stock.log").open("ab")
    stock = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert stock.poll() is None and time.monotonic() < deadline, "stock uvicorn"
            time.sleep(0.1)
        yield ours.port, port
    finally:
        stop_process(stock, log)
        ours.stop()


def request_pool(etag: str) -> list[tuple[str, str, str, bytes]]:
    """(method, path, extra header lines, body): routes of the app, answers of every kind (200
    small and large, 304, 400, 401, 404, 405, 422)."""
    designer = f"Authorization: Bearer {token('ana', role='designer')}\r\n"
    reads = [
        ("/healthz", ""),
        ("/readyz", ""),
        ("/openapi.json", ""),
        ("/v1/layouts/home", ""),
        ("/v1/layouts/home", f"If-None-Match: {etag}\r\n"),
        ("/v1/layouts/no-such-page", ""),
        ("/no/such/route", ""),
        ("/v1/admin/catalog", designer),
        ("/v1/admin/catalog", ""),
    ]
    pool = [(method, path, extra, b"") for path, extra in reads for method in ("GET", "HEAD")]
    posts = [
        ("/v1/admin/contrast", designer, b"{}"),
        ("/v1/admin/contrast", designer, b"{"),
        ("/v1/admin/contrast", designer, b'{"pairs": []}'),
        ("/v1/admin/contrast", "", b'{"pairs": []}'),
        ("/healthz", "", b"ignored body"),
        ("/v1/layouts/home", "", b"x" * 300),
    ]
    pool += [("POST", path, extra, body) for path, extra, body in posts]
    return pool


def sequence(
    rng: random.Random, pool: list[tuple[str, str, str, bytes]]
) -> tuple[bytes, list[str]]:
    """1-6 pipelined requests, each with no `Connection` field or `Connection: keep-alive`;
    the last says `Connection: close`, so the answers end. Nothing follows a close: bytes
    pipelined after it are not read, and a socket closed with unread bytes is reset by the
    kernel, dropping answers not yet sent (both servers, as timing falls: uvicorn has no
    lingering close, RFC 9112 section 9.6), so there is no answer to compare."""
    picked = [rng.choice(pool) for _ in range(rng.randint(1, 6))]
    payload = b""
    for index, (method, path, extra, body) in enumerate(picked):
        connection = rng.choice(["", "Connection: keep-alive\r\n"])
        if index == len(picked) - 1:
            connection = "Connection: close\r\n"
        length = f"Content-Length: {len(body)}\r\n" if method == "POST" else ""
        head = f"{method} {path} HTTP/1.1\r\nHost: x\r\n{extra}{connection}{length}\r\n"
        payload += head.encode() + body
    return payload, [method for method, _, _, _ in picked]


def exchange(
    port: int, payload: bytes, cuts: list[int], methods: list[str]
) -> list[tuple[int, bytes]]:
    """`payload` in writes split at `cuts` (a pause between them, Nagle off: separate
    segments), then every answer until the server closes."""
    with connect(port) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = 0
        for cut in [*cuts, len(payload)]:
            try:
                sock.sendall(payload[start:cut])
            except (BrokenPipeError, ConnectionResetError):
                break  # the server closed before the rest (both do, e.g. after some 405s to a
                # POST whose body is unread): the answers up to there are compared
            start = cut
            time.sleep(0.003)
        return split_answers(read_until_closed(sock), methods)


def test_pipelined_sequences_answer_like_stock_uvicorn(ports: tuple[int, int]) -> None:
    ours, stock = ports
    etag = httpx.get(f"http://127.0.0.1:{ours}/v1/layouts/home").headers["etag"]
    pool = request_pool(etag)
    rng = random.Random(SEED)
    for number in range(SEQUENCES):
        payload, methods = sequence(rng, pool)
        cuts = sorted(rng.sample(range(1, len(payload)), min(rng.randint(0, 4), len(payload) - 1)))
        expected = exchange(stock, payload, cuts, methods)
        got = exchange(ours, payload, cuts, methods)
        assert got == expected, (number, payload, cuts)
        assert expected, (number, payload)  # at least the first request is answered

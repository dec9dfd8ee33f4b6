"""uvicorn (`--server uvicorn`) writes a response's head and body in two send(2) calls;
`uvicorn_protocol.HeldHead` joins them: one write per response, counted by the kernel
(`/proc/PID/io` `syscw`), and HEAD answers (no body write), 304s and pipelined requests still
arrive whole and in order."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from tests.helpers.processes import ServeProcess


def write_calls(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("syscw:"):
            return int(line.split()[1])
    raise AssertionError("no syscw in /proc/PID/io")


def test_one_write_per_response_and_bodiless_answers_complete(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path / "one", "", args=["--server", "uvicorn"]).start()
    server.wait_ready()
    try:
        assert server.process is not None
        with httpx.Client(base_url=server.url, timeout=10) as client:
            etag = client.get("/v1/layouts/home").headers["etag"]
            before = write_calls(server.process.pid)
            for _ in range(200):
                assert client.get("/v1/layouts/home").status_code == 200
            writes = write_calls(server.process.pid) - before
            assert writes <= 210, writes  # was 400: a head and a body each
            head = client.head("/v1/layouts/home")
            assert head.status_code == 200 and head.content == b""
            assert (
                client.get("/v1/layouts/home", headers={"If-None-Match": etag}).status_code == 304
            )
            assert client.get("/healthz").json() == {"status": "ok"}  # the connection is fine
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            raw.sendall(
                b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /v1/layouts/home HTTP/1.1\r\nHost: x\r\n\r\n"
                b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            received = b""
            while chunk := raw.recv(65536):
                received += chunk
        answers = received.split(b"HTTP/1.1 ")[1:]
        assert [a[:3] for a in answers] == [b"200", b"200", b"200"], received
        assert answers[0].endswith(b'{"status":"ok"}') and b'"components"' in answers[1]
        assert answers[2].endswith(b"\r\n\r\n")  # the HEAD answer: a head, no body
    finally:
        server.stop()

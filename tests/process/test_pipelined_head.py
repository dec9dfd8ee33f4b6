"""Pipelined requests whose answers have no body (HEAD, 304) on `uiserver serve` (uvicorn with
`LimitedHttpToolsProtocol`, and granian, the default): each request's answer arrives, in
order. On uvicorn, a HEAD answered while another request was already parsed behind it lost its
answer: `HeldHead` held the head (a HEAD has no body write) and the protocol flushed the *last
parsed* cycle's, not the completed one's (the GET behind it came back alone)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.helpers.processes import ServeProcess
from tests.helpers.rawhttp import connect, read_until_closed, split_answers


@pytest.fixture(scope="module", params=["uvicorn", "granian"])
def server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ServeProcess]:
    """Both servers: uvicorn's own protocol (`HeldHead`) and granian (the default)."""
    process = ServeProcess(
        tmp_path_factory.mktemp("pipelined"), "", args=["--server", request.param]
    ).start()
    process.wait_ready()
    try:
        yield process
    finally:
        process.stop()


def pipelined(port: int, requests: list[tuple[str, str, str]]) -> list[tuple[int, bytes]]:
    """Send (method, path, extra header lines) requests in one write, the last with
    `Connection: close`; the (status, body) answers, in order."""
    payload = b""
    for index, (method, path, extra) in enumerate(requests):
        close = "Connection: close\r\n" if index == len(requests) - 1 else ""
        payload += f"{method} {path} HTTP/1.1\r\nHost: x\r\n{extra}{close}\r\n".encode()
    with connect(port) as sock:
        sock.sendall(payload)
        received = read_until_closed(sock)
    return split_answers(received, [method for method, _, _ in requests])


OK = (200, b'{"status":"ok"}')


def test_head_then_get(server: ServeProcess) -> None:
    answers = pipelined(server.port, [("HEAD", "/healthz", ""), ("GET", "/openapi.json", "")])
    assert [status for status, _ in answers] == [200, 200], answers
    assert answers[0] == (200, b"") and json.loads(answers[1][1])["openapi"]


def test_get_head_get(server: ServeProcess) -> None:
    answers = pipelined(
        server.port, [("GET", "/healthz", ""), ("HEAD", "/healthz", ""), ("GET", "/healthz", "")]
    )
    assert answers == [OK, (200, b""), OK]


def test_head_with_connection_close_alone_and_after_heads(server: ServeProcess) -> None:
    assert pipelined(server.port, [("HEAD", "/healthz", "")]) == [(200, b"")]
    answers = pipelined(server.port, [("HEAD", "/healthz", "")] * 3)
    assert answers == [(200, b"")] * 3


def test_head_of_a_layout_then_its_get(server: ServeProcess) -> None:
    answers = pipelined(
        server.port,
        [
            ("HEAD", "/v1/layouts/home", ""),
            ("GET", "/v1/layouts/home", ""),
            ("GET", "/healthz", ""),
        ],
    )
    assert [status for status, _ in answers] == [200, 200, 200], answers
    assert answers[0][1] == b"" and b'"components"' in answers[1][1] and answers[2] == OK


def test_304_revalidations_pipelined(server: ServeProcess) -> None:
    with connect(server.port) as sock:
        sock.sendall(b"GET /v1/layouts/home HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head = read_until_closed(sock).split(b"\r\n\r\n")[0].decode().lower()
    etag = next(line.split(":", 1)[1].strip() for line in head.split("\r\n") if "etag" in line)
    match = f"If-None-Match: {etag}\r\n"
    answers = pipelined(
        server.port,
        [
            ("GET", "/v1/layouts/home", match),
            ("HEAD", "/v1/layouts/home", match),
            ("GET", "/v1/layouts/home", match),
            ("GET", "/healthz", ""),
        ],
    )
    assert answers == [(304, b""), (304, b""), (304, b""), OK]

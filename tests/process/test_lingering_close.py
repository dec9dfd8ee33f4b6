"""A response that closes the connection reaches a client that keeps sending (pipelined
requests behind a `Connection: close`, a body the server does not read, a head refused as too
large): `uiserver serve` (uvicorn with `LimitedHttpToolsProtocol`) closes its write side and
reads and drops what still comes for a bounded time (nginx's `lingering_close`) before it
closes the socket. Closed at once with unread bytes, the kernel answers them with a reset,
and a reset drops the answers the client has not read yet: the first answer was lost."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.helpers.processes import ServeProcess
from tests.helpers.rawhttp import connect, split_answers

pytestmark = pytest.mark.slow

TRIES = 5
FOLLOWERS = 4000  # pipelined requests behind the closing one: ~150 KB the server never parses


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    # uvicorn's protocol is the one that lingers; granian (the default since) does not:
    # docs/DEPLOY.md says so and puts nginx in front.
    directory = tmp_path_factory.mktemp("linger")
    process = ServeProcess(directory, "", args=["--server", "uvicorn"]).start()
    process.wait_ready()
    try:
        yield process
    finally:
        process.stop()


def _exchange(port: int, first: bytes, rest: bytes) -> tuple[bytes, bool]:
    """Send `first` then `rest` (from a thread, as fast as the server takes it) while reading
    everything until the server closes: (what came, whether the read ended in a reset).

    The client's receive buffer is small and it starts reading late, as a client on a slow
    link: the answer is still in the server's send queue when the server closes, which a
    reset discards (on loopback with large buffers it would already sit in the client's)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        sock.sendall(first)

        def send_rest() -> None:
            with contextlib.suppress(OSError):  # the server closed: the rest is not wanted
                sock.sendall(rest)

        sender = threading.Thread(target=send_rest)
        sender.start()
        time.sleep(0.5)
        received = b""
        reset = False
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            reset = True
        sender.join(timeout=30)
        return received, reset


def test_the_answer_before_a_close_survives_pipelined_requests(server: ServeProcess) -> None:
    first = b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    rest = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * FOLLOWERS
    for attempt in range(TRIES):
        received, reset = _exchange(server.port, first, rest)
        answers = split_answers(received, ["GET"])
        assert answers and answers[0][0] == 200, (attempt, answers)
        assert json.loads(answers[0][1])["openapi"], attempt  # whole: it parses
        assert not reset, attempt


def test_a_refusal_survives_a_client_still_sending_its_head(server: ServeProcess) -> None:
    """A head past the byte budget is answered 431 while the client is still sending it: the
    connection ends with the server's FIN once the client is done (a small answer such as
    this one reached the client before the reset on loopback; the reset is what cost the
    answer above)."""
    first = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
    rest = b"X-Filler: " + b"a" * 900_000 + b"\r\n\r\n"  # within LINGER_BYTES
    for attempt in range(TRIES):
        received, reset = _exchange(server.port, first, rest)
        answers = split_answers(received, ["GET"])
        assert answers and answers[0][0] == 431, (attempt, answers)
        assert json.loads(answers[0][1])["error"]["code"] == "headers_too_large"
        assert not reset, attempt


def test_the_linger_is_bounded_for_a_client_that_never_stops(server: ServeProcess) -> None:
    """A client that keeps sending after the close is cut after the byte or time bound."""
    with connect(server.port, timeout=30) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        sent = 0
        try:
            while sent < 200_000_000:
                sock.sendall(b"x" * 65536)
                sent += 65536
        except OSError:
            pass
        assert sent < 200_000_000

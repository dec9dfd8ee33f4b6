"""A real HTTP receiver for webhook tests: a `ThreadingHTTPServer` on a free local port that
records every POST and answers the first `fail` of them with `fail_status` (then 200), or
with the `answers` queued (status, body), so a test sees a receiver fail and recover."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.helpers.app import free_port


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered


@dataclass
class Receiver:
    fail: int = 0
    fail_status: int = 500
    answer: bytes = b'{"errcode": 0, "errmsg": "ok"}'
    answers: list[tuple[int, bytes]] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _reply(self) -> tuple[int, bytes]:
        with self._lock:
            if self.answers:
                return self.answers.pop(0)
            if self.fail > 0:
                self.fail -= 1
                return self.fail_status, b"down"
            return 200, self.answer

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status, answer = receiver._reply()
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, dict(self.headers.items()), body, status)
                    )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def delivered(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.status == 200]

    def wait(self, done: Callable[[Receiver], bool], timeout: float = 20.0) -> None:
        """Until `done(self)`, or AssertionError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not done(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"receiver: not done after {timeout}s: {self.received}")
            time.sleep(0.05)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running receiver that answers 200, stopped after the test."""
    running = Receiver().start()
    yield running
    running.stop()

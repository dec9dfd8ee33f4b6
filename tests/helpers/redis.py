"""A real redis-server process owned by the tests, and a proxy that loses a reply."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from tests.helpers.app import free_port

REDIS_START_TIMEOUT = 10.0


class RedisServer:
    """A redis-server process owned by the tests; it can be stopped and started again on the
    same port (`persistent=True` keeps data across restarts with an fsync-always AOF)."""

    def __init__(self, directory: Path, *, persistent: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(
                "redis-server is not installed (apt-get install redis-server): the Redis store "
                "tests need a real server and are not skipped"
            )
        self.binary = binary
        self.directory = directory
        self.persistent = persistent
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self.persistent
            else ["--appendonly", "no"]
        )
        return [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            *persistence,
            "--dir",
            str(self.directory),
            "--protected-mode",
            "no",
        ]

    def start(self) -> None:
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + REDIS_START_TIMEOUT
        client = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    break
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    time.sleep(0.05)
        finally:
            client.close()
        log = (self.directory / "redis.log").read_text(errors="replace")
        self.stop()
        pytest.fail(f"redis-server did not start on port {self.port}:\n{log[-2000:]}")

    def stop(self) -> None:
        """SIGTERM and wait: Redis flushes its AOF on a clean shutdown."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


class LostReplyProxy:
    """A TCP proxy in front of a real redis-server that loses one transaction's reply: once
    `arm()`ed, it passes the next MULTI ... EXEC on to Redis, waits until Redis has answered
    the EXEC (so the transaction ran), and then closes the client's connection instead of
    passing the answer back, as a network failure on the way back would. Everything else is
    passed through unchanged. `lost` counts the replies lost."""

    EXEC = b"\r\nEXEC\r\n"
    EXEC_REPLY = re.compile(rb"\+QUEUED\r\n\*-?\d+\r\n")

    def __init__(self, redis_url: str) -> None:
        address = urlsplit(redis_url)
        self.upstream = (address.hostname or "127.0.0.1", address.port or 6379)
        self.path = address.path
        self.armed = False
        self.lost = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        """Listen on a free port; the redis:// URL to give the client."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}{self.path}"

    def arm(self) -> None:
        self.armed = True

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        exec_sent = asyncio.Event()

        async def to_redis() -> None:
            tail = b""
            while data := await reader.read(65536):
                # an EXEC that ends in this chunk (it may begin in the previous one)
                at = (tail + data).rfind(self.EXEC)
                if self.armed and at >= 0 and at + len(self.EXEC) > len(tail):
                    self.armed = False
                    exec_sent.set()
                tail = data[-len(self.EXEC) :]
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def to_client() -> None:
            held = b""
            while data := await up_reader.read(65536):
                if exec_sent.is_set():
                    held += data
                    if self.EXEC_REPLY.search(held):  # the transaction ran: lose its answer
                        self.lost += 1
                        writer.transport.abort()
                        up_writer.close()
                        return
                    continue
                writer.write(data)
                await writer.drain()
            writer.close()

        tasks = [asyncio.ensure_future(to_redis()), asyncio.ensure_future(to_client())]
        with contextlib.suppress(ConnectionError, OSError):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        up_writer.close()
        writer.close()

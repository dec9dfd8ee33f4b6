"""A real redis-server process owned by the tests, and a proxy that loses a reply."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
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
        self.extra: list[str] = []  # more options for the next start (`--min-replicas-to-write`)
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
            *self.extra,
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

    def kill(self) -> None:
        """SIGKILL: the server dies at once, as a crashed host would (nothing flushed)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def signal(self, number: int) -> None:
        """Send a signal (SIGSTOP freezes it, links and all; SIGCONT lets it go on)."""
        if self.process is not None:
            self.process.send_signal(number)

    def stop(self) -> None:
        """SIGTERM and wait: Redis flushes its AOF on a clean shutdown."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGCONT)  # a frozen server cannot hear SIGTERM
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

    def __init__(
        self, redis_url: str, request: bytes | None = None, reply: re.Pattern[bytes] | None = None
    ) -> None:
        """`request`/`reply`: the bytes that mark the command whose answer is lost and the
        answer to wait for (default: EXEC and its reply; `batch.APPLY`'s SHA-1 and `:1`)."""
        self.EXEC = request or self.EXEC
        self.EXEC_REPLY = reply or self.EXEC_REPLY
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


class ReplicaServer(RedisServer):
    """A redis-server that replicates `primary` (`--replicaof`), from its start."""

    def __init__(self, directory: Path, primary_port: int) -> None:
        super().__init__(directory)
        self.primary_port = primary_port

    def command(self) -> list[str]:
        return [*super().command(), "--replicaof", "127.0.0.1", str(self.primary_port)]


class SentinelSet:
    """Three `redis-server --sentinel` processes watching one primary as `service` (quorum 2,
    down after 1 s), on free ports; `url` is the store URL for them. `wait_watching()` returns
    once every sentinel knows the others and the replicas, so a failover can happen."""

    SERVICE = "uiserver"

    def __init__(self, directory: Path, primary_port: int, count: int = 3) -> None:
        self.directory = directory
        self.primary_port = primary_port
        self.servers: list[_Sentinel] = [
            _Sentinel(directory / f"sentinel-{i}", primary_port, self.SERVICE) for i in range(count)
        ]

    def url(self, query: str = "") -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.servers)
        return f"redis+sentinel://{hosts}/{self.SERVICE}/0" + (f"?{query}" if query else "")

    def start(self) -> None:
        for server in self.servers:
            server.start()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def master(self, index: int = 0) -> dict[str, str]:
        with redis.Redis(port=self.servers[index].port, socket_timeout=1.0) as client:
            state: dict[str, str] = client.sentinel_master(self.SERVICE)
            return state

    def primary_port_now(self) -> int:
        """The primary's port as the first sentinel sees it."""
        return int(self.master()["port"])

    def wait_watching(self, replicas: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [self.master(i) for i in range(len(self.servers))]
            if all(
                int(s["num-other-sentinels"]) == len(self.servers) - 1
                and int(s["num-slaves"]) >= replicas
                for s in states
            ):
                return
            time.sleep(0.1)
        pytest.fail(f"the sentinels did not all see each other and the replicas: {states}")


class _Sentinel(RedisServer):
    """One sentinel: its config file (which it rewrites) lives in its own directory."""

    def __init__(self, directory: Path, primary_port: int, service: str) -> None:
        super().__init__(directory)
        self.primary_port = primary_port
        self.service = service

    def command(self) -> list[str]:
        config = self.directory / "sentinel.conf"
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\nprotected-mode no\ndir {self.directory}\n"
            f"sentinel monitor {self.service} 127.0.0.1 {self.primary_port} 2\n"
            f"sentinel down-after-milliseconds {self.service} 1000\n"
            f"sentinel failover-timeout {self.service} 5000\n"
            f"sentinel parallel-syncs {self.service} 1\n"
        )
        return [self.binary, str(config), "--sentinel"]


class ClusterNodeServer(RedisServer):
    """A redis-server with cluster mode on (node timeout 1 s, so a failover takes seconds); its
    bus on a free port of its own (the default, port + 10000, may be out of range)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.bus_port = free_port()

    def command(self) -> list[str]:
        return [
            *super().command(),
            "--cluster-port",
            str(self.bus_port),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            str(self.directory / "nodes.conf"),
            "--cluster-node-timeout",
            "1000",
            "--cluster-replica-validity-factor",
            "0",  # a replica may always take over (the test kills primaries at any time)
        ]


class RedisClusterSet:
    """A real Redis Cluster: `primaries` primaries with one replica each, created with
    `redis-cli --cluster create ... --cluster-replicas 1`; `url` is its store URL."""

    def __init__(self, directory: Path, primaries: int = 3) -> None:
        self.nodes = [ClusterNodeServer(directory / f"node-{i}") for i in range(primaries * 2)]

    @property
    def url(self) -> str:
        return "redis-cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        cli = shutil.which("redis-cli")
        if cli is None:
            pytest.fail("redis-cli is not installed (apt-get install redis-tools)")
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{n.port}" for n in self.nodes),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.wait_ok()

    def info(self, node: RedisServer) -> dict[str, str]:
        with redis.Redis(port=node.port, socket_timeout=1.0, decode_responses=True) as client:
            info: dict[str, str] = {
                k: str(v) for k, v in client.execute_command("CLUSTER INFO").items()
            }
        return info

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Until every running node says cluster_state:ok with every slot assigned."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                states = [self.info(n) for n in self.nodes if n.process is not None]
            except redis.RedisError:
                states = []
            if (
                states
                and all(
                    s.get("cluster_state") == "ok" and s.get("cluster_slots_ok") == "16384"
                    for s in states
                )
                and self.replicas_in_sync()
            ):
                return
            time.sleep(0.1)
        pytest.fail("the Redis Cluster did not reach cluster_state:ok")

    def replicas_in_sync(self) -> bool:
        for node in self.nodes:
            if node.process is None:
                continue
            with redis.Redis(port=node.port, socket_timeout=1.0) as client:
                info = client.info("replication")
            if info["role"] == "slave" and info.get("master_link_status") != "up":
                return False
        return True

    def role(self, node: RedisServer) -> str:
        with redis.Redis(port=node.port, socket_timeout=1.0) as client:
            return str(client.info("replication")["role"])

    def primaries(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.process is not None and self.role(n) == "master"]

    def flush(self) -> None:
        for node in self.primaries():
            with redis.Redis(port=node.port, socket_timeout=1.0) as client:
                client.flushall()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

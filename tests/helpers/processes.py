"""A real `uiserver serve` process for tests that need whole replicas (Redis scale-out).

Started through the CLI's `main` (`python -m uiserver.cli serve ...`, what the `uiserver` console
script calls) from this checkout: `PYTHONPATH` names it, so the process runs the code under test
even when the installed package points elsewhere. The test suite's JWT secret goes in
`UISERVER_JWT_SECRET`, so one token works on every replica. Stopped by its own pid; its output
goes to a log file whose tail is shown when it fails to start.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.helpers.app import ROOT, SECRET, free_port

UISERVER = [sys.executable, "-m", "uiserver.cli"]
START_TIMEOUT = 30.0
POLL_DEADLINE_S = (
    10.0  # how long wait_until looks before calling it lost (to report the real delay)
)


class ServeProcess:
    """One replica. `store_by_env` passes the store URL as `UISERVER_STORE` instead of
    `--store`, so both ways of configuring it are exercised. `args` are more `serve` options
    (`--server granian`, limits), `env` more variables, and `nofile` the process's open-files
    limit (soft and hard), set before it starts, so connection floods stay cheap."""

    def __init__(
        self,
        directory: Path,
        store: str,
        *,
        store_by_env: bool = False,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        nofile: int | None = None,
    ) -> None:
        self.directory = directory
        self.store = store
        self.store_by_env = store_by_env
        self.args = list(args)
        self.env = dict(env or {})
        self.nofile = nofile
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = directory / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    def start(self) -> ServeProcess:
        """Spawn without waiting; `wait_ready()` (several replicas start in parallel)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("UISERVER_")}
        env["UISERVER_JWT_SECRET"] = SECRET
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        argv = [
            *UISERVER,
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.directory / "data"),
            "--log-level",
            "warning",
        ]
        if self.store_by_env:
            env["UISERVER_STORE"] = self.store
        else:
            argv += ["--store", self.store]
        argv += self.args
        env.update(self.env)
        nofile = self.nofile

        def limit_files() -> None:
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=limit_files if nofile is not None else None,
            )
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                break
            try:
                if httpx.get(self.url + "/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"uiserver on {self.url} not ready:\n{self.tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def serving_pids(self) -> set[int]:
        """The processes that answer requests: `serve`'s own and its children (granian, the
        default server, answers in worker processes; uvicorn with one worker in its own)."""
        assert self.process is not None
        pids = {self.process.pid}
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            pids |= {int(pid) for pid in (task / "children").read_text().split()}
        return pids

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=5.0)


@contextmanager
def two_replicas(redis_url: str, tmp_path: Path) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Two replicas on one Redis, started in parallel: A gets the store from `--store`, B from
    `UISERVER_STORE`. Yields a client for each; both are stopped on exit."""
    a = ServeProcess(tmp_path / "a", redis_url)
    b = ServeProcess(tmp_path / "b", redis_url, store_by_env=True)
    try:
        for replica in (a.start(), b.start()):
            replica.wait_ready()
        with a.client() as client_a, b.client() as client_b:
            yield client_a, client_b
    finally:
        a.stop()
        b.stop()


def stop_process(process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    """Stop a server started with `subprocess.Popen` (SIGTERM, then kill after 10 s) and close
    its log file."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


def wait_until(probe: Callable[[], Any], since: float) -> tuple[Any, float]:
    """Poll `probe` until it returns something truthy; (result, seconds since `since`)."""
    while True:
        result = probe()
        elapsed = time.perf_counter() - since
        if result or elapsed > POLL_DEADLINE_S:
            return result, elapsed
        time.sleep(0.005)


def eventually(probe: Callable[[], bool], what: str, deadline_s: float = 20.0) -> float:
    """Poll `probe` every 50 ms until True; the seconds it took. Fails the test (naming
    `what`) after `deadline_s`."""
    start = time.monotonic()
    while not probe():
        if time.monotonic() - start > deadline_s:
            pytest.fail(f"not within {deadline_s} s: {what}")
        time.sleep(0.05)
    return time.monotonic() - start

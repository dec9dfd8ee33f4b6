"""`uiserver serve --server granian` as a real process: readyz, a layout GET, its 304, the
forwarded-header rule, and a graceful stop on SIGINT and on SIGTERM (exit 0, no worker left)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers.app import ROOT, SECRET, free_port, token, wait_http
from tests.helpers.processes import ServeProcess

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True
    ).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text()


def _mapped(pid: int) -> str:
    """The files a process has mapped (its loaded shared objects among them)."""
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_granian_serves_layouts_and_stops_gracefully(tmp_path: Path, stop: int) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UISERVER_")}
    env["UISERVER_JWT_SECRET"] = SECRET
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uiserver.cli",
                "serve",
                "--server",
                "granian",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path / "data"),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/readyz", timeout=30)
        workers = _children(proc.pid)
        # `serve` became granian's supervisor (the same pid) afresh: none of the app's modules
        # (msgspec's extension is the first the app imports), which each worker loads itself.
        assert "msgspec" not in _mapped(proc.pid)
        assert workers and all("msgspec" in _mapped(pid) for pid in workers)
        auth = {"Authorization": f"Bearer {token('granian-user')}"}
        with httpx.Client(base_url=url, headers=auth) as http:
            assert http.get("/readyz").status_code == 200
            first = http.get("/v1/layouts/home")
            assert first.status_code == 200, first.text
            assert first.json()["page"] == "home"
            etag = first.headers["etag"]
            again = http.get("/v1/layouts/home", headers={"If-None-Match": etag})
            assert again.status_code == 304 and again.content == b""
            assert (
                http.get("/v1/layouts/home", headers={"Authorization": "Bearer x"}).status_code
                == 401
            )
        proc.send_signal(stop)
        assert proc.wait(timeout=15) == 0, log.read_text(errors="replace")
        assert not [pid for pid in workers if _alive(pid)]
        assert "Traceback" not in log.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_granian_factory_trusts_forwarded_headers_only_from_allowed_ips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """granian has no forwarded-allow-ips of its own: its factory applies uvicorn's rule."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from uiserver.commands.serve import granian_app

    monkeypatch.setenv("UISERVER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("UISERVER_JWT_SECRET", SECRET)
    monkeypatch.setenv("UISERVER_FORWARDED_ALLOW_IPS", "10.0.0.0/8")
    app = granian_app()
    assert isinstance(app, ProxyHeadersMiddleware)
    assert "10.1.2.3" in app.trusted_hosts and "127.0.0.1" not in app.trusted_hosts


def test_granian_believes_forwarded_proto_only_from_allowed_proxies(tmp_path: Path) -> None:
    """The same rule as uvicorn's (tests/process/test_proxy.py), on a real granian process."""
    from tests.helpers.proxy import PROXY, STRANGER, login_cookies, secure_cookies, serve

    with serve(tmp_path, "--server", "granian", "--forwarded-allow-ips", PROXY) as url:
        assert secure_cookies(login_cookies(url, PROXY))
        assert not secure_cookies(login_cookies(url, STRANGER))
    with serve(tmp_path, "--server", "granian") as url:  # default: 127.0.0.1 only
        assert not secure_cookies(login_cookies(url, PROXY))
        assert secure_cookies(login_cookies(url, "127.0.0.1"))


def test_a_serve_killed_outright_leaves_no_worker_serving(tmp_path: Path) -> None:
    """`uiserver serve` (granian, the default) killed with SIGKILL: its worker, a child
    process, is told to stop too (`die_with_server`) instead of serving on as an orphan."""
    server = ServeProcess(tmp_path / "killed", "").start()
    server.wait_ready()
    assert server.process is not None
    workers = server.serving_pids() - {server.process.pid}
    assert workers, "granian answers in a worker process"
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    server.process = None
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline, f"worker left serving:\n{server.tail()}"
        time.sleep(0.1)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/healthz", timeout=2)


def test_granian_runs_the_checkout_serve_ran_from_whatever_the_working_directory(
    tmp_path: Path,
) -> None:
    """`serve` started from a directory holding its own `uiserver/` package and a stray
    `msgspec.py` (another checkout, an older version, a planted file), itself a package: the
    supervisor and the workers still import the installed package and its dependencies, never
    those. Before, `python -m uiserver.http.supervisor` and granian's own target loader both
    put the working directory first on sys.path (and in a package directory granian's loader
    looked for `<dir>.uiserver.commands.serve`)."""
    installed = Path(sysconfig.get_path("scripts")) / "uiserver"
    assert installed.exists(), "scripts/install makes the `uiserver` console script"
    here = tmp_path / "cwd"
    marker = tmp_path / "planted"
    plant = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    for name in ("uiserver/__init__.py", "uiserver/http/__init__.py", "msgspec.py"):
        (here / name).parent.mkdir(parents=True, exist_ok=True)
        (here / name).write_text(plant)
    (here / "uiserver/http/supervisor.py").write_text(plant + "raise SystemExit(3)\n")
    # A package directory: granian's loader then looked for `cwd.uiserver.commands.serve`.
    (here / "__init__.py").write_text("")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UISERVER_", "PYTHON"))}
    env["UISERVER_JWT_SECRET"] = SECRET
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(installed), "serve", "--port", str(port), "--data-dir", str(tmp_path / "d")],
            cwd=here,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_http(url + "/readyz", timeout=30)
        except TimeoutError:
            raise AssertionError(log.read_text(errors="replace")) from None
        auth = {"Authorization": f"Bearer {token('cwd-user')}"}
        assert httpx.get(url + "/v1/layouts/home", headers=auth).status_code == 200
        assert not marker.exists(), marker.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, log.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("server", ["granian", "uvicorn"])
def test_a_second_serve_on_a_port_in_use_is_refused(tmp_path: Path, server: str) -> None:
    """granian listens with SO_REUSEPORT: a second `serve` on the port of a running one used to
    listen beside it and answer a share of its connections from another data dir. Now it
    exits 1 with a message, on either server, and the first goes on answering alone."""
    first = ServeProcess(tmp_path / "first", "").start()
    try:
        first.wait_ready()
        env = {k: v for k, v in os.environ.items() if not k.startswith("UISERVER_")}
        env["UISERVER_JWT_SECRET"] = SECRET
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        done = subprocess.run(
            [
                *(sys.executable, "-m", "uiserver.cli", "serve", "--server", server),
                *("--port", str(first.port), "--data-dir", str(tmp_path / "second")),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 1, done.stderr
        assert f"cannot listen on 127.0.0.1:{first.port}" in done.stderr
        assert "another server" in done.stderr and "Traceback" not in done.stderr
        assert httpx.get(f"{first.url}/readyz", timeout=5).status_code == 200
    finally:
        first.stop()

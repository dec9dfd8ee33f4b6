"""`uiserver serve` as a real process: token from `uiserver token`, elderly mode, ETag, 304."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.app import ELDERLY, ROOT, free_port, wait_http

pytestmark = pytest.mark.slow

# The console script `pip install -e .` puts beside this Python, exactly what a person runs.
UISERVER = str(Path(sys.executable).with_name("uiserver"))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UISERVER_")}
    proc = subprocess.Popen(
        [UISERVER, "serve", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz")
        yield url, tmp_path / "data"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_serve_token_elderly_etag_304(server: tuple[str, Path]) -> None:
    url, data_dir = server
    env = {k: v for k, v in os.environ.items() if not k.startswith("UISERVER_")}
    minted = subprocess.run(
        [UISERVER, "token", "grandma", "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    auth = {"Authorization": f"Bearer {minted}"}
    with httpx.Client(base_url=url, headers=auth) as http:
        before = http.get("/v1/layouts/home")
        assert before.status_code == 200 and before.json()["mode"] == "standard"
        assert http.put("/v1/me/settings", json=ELDERLY).status_code == 200
        after = http.get("/v1/layouts/home")
        assert after.json()["mode"] == "elderly"
        assert after.headers["etag"] != before.headers["etag"]
        again = http.get("/v1/layouts/home", headers={"If-None-Match": after.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        assert http.get("/readyz").status_code == 200


@pytest.mark.parametrize(
    ("args", "env", "code", "says"),
    [
        (["--port", "99999"], {}, 2, "a TCP port is a whole number from 0 to 65535"),
        ([], {"UISERVER_PORT": "abc"}, 2, "(--port or UISERVER_PORT), not 'abc'"),
        (["--log-level", "loud"], {}, 1, "--log-level (or UISERVER_LOG_LEVEL) must be one of"),
        (["--layouts", "/nonexistent/layouts"], {}, 1, "--layouts /nonexistent/layouts: no such"),
        (["--components", "/nonexistent/c"], {}, 1, "--components /nonexistent/c: no such"),
        (["--store", "bogus://x"], {}, 1, "--store (or UISERVER_STORE): unknown store 'bogus://x'"),
        (["--store", "redis+sentinel://x"], {}, 1, "expected redis+sentinel://host:port"),
        ([], {"UISERVER_POLICY": "/nonexistent/policy.json"}, 1, "UISERVER_POLICY: /nonexist"),
        (["--data-dir", "/proc/no-such-dir"], {}, 1, "--data-dir /proc/no-such-dir: No such"),
        ([], {"UISERVER_JWT_SECRET": "abc"}, 1, "UISERVER_JWT_SECRET is 3 bytes; an HS256"),
    ],
    ids=[
        "port",
        "port-env",
        "log-level",
        "layouts",
        "components",
        "store",
        "sentinel",
        "policy",
        "data-dir",
        "short-secret",
    ],
)
def test_a_bad_option_is_one_line_before_the_server_starts(
    tmp_path: Path, args: list[str], env: dict[str, str], code: int, says: str
) -> None:
    """Each of these was a page of traceback from granian's supervisor or from every worker
    (which died, so serve exited 1 after starting), or, for UISERVER_PORT, from every command
    (the parser read it with int() while being built)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UISERVER_")}
    done = subprocess.run(
        # the later option wins: the case's own --data-dir comes after the default one
        [UISERVER, "serve", "--port", "0", "--data-dir", str(tmp_path / "data"), *args]
        if "UISERVER_PORT" not in env
        else [UISERVER, "serve", "--data-dir", str(tmp_path / "data"), *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == code, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and says in done.stderr, done.stderr[-2000:]
    assert "Listening at" not in done.stderr and "Uvicorn running" not in done.stderr
    if "UISERVER_PORT" in env:  # the other commands do not read it
        token = subprocess.run(
            [UISERVER, "token", "ann"],
            cwd=ROOT,
            env={**clean, **env, "UISERVER_JWT_SECRET": "s" * 32},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert token.returncode == 0 and token.stdout.count(".") == 2, token.stderr[-2000:]

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

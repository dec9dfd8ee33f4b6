"""`uiserver serve --log-format json` on both servers: every line on stderr is a JSON object,
requests carry ids, and no user id or token is logged at INFO."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.app import ROOT, SECRET, bearer, free_port, wait_http
from tests.helpers.processes import ServeProcess


@pytest.mark.parametrize("server", ["uvicorn", "granian"])
def test_json_log_lines_with_request_ids(tmp_path: Path, server: str) -> None:
    replica = ServeProcess(
        tmp_path / server,
        "",
        args=["--server", server, "--log-format", "json", "--log-level", "info"],
    ).start()
    try:
        replica.wait_ready()
        if server == "granian":
            # granian's supervisor formats its lines with `http.jsonlog` and holds no more of
            # the app in JSON mode than in text mode (msgspec's extension: the app's first).
            assert replica.process is not None
            assert "msgspec" not in Path(f"/proc/{replica.process.pid}/maps").read_text()
        with replica.client() as client:
            answer = client.get(
                "/v1/layouts/home", headers={**bearer("secret-user"), "X-Request-Id": "trace-7"}
            )
            assert answer.status_code == 200
            assert answer.headers["x-request-id"] == "trace-7"
            assert client.get("/v1/layouts/nowhere").headers["x-request-id"]
    finally:
        replica.stop()
    text = replica.log.read_text()
    records = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    access = [r for r in records if r["logger"] == "uiserver.access"]
    assert any(r["request_id"] == "trace-7" and r["status"] == 200 for r in access), text
    assert any(r["status"] == 404 for r in access), text
    assert "secret-user" not in text
    assert "Bearer" not in text


def test_granian_json_lines_go_to_stderr_and_nothing_to_stdout(tmp_path: Path) -> None:
    """granian's own handlers write to stdout: in JSON mode its lines (the supervisor's and the
    worker's) go to stderr with every other line, as the README says."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UISERVER_")}
    env["UISERVER_JWT_SECRET"] = SECRET
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "uiserver.cli", "serve", "--server", "granian"),
                *("--port", str(port), "--data-dir", str(tmp_path / "data")),
                *("--log-format", "json"),
            ],
            cwd=ROOT,
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    assert out.read_text() == ""
    records = [json.loads(line) for line in err.read_text().splitlines()]
    granian = [r["message"] for r in records if r["logger"].startswith("_granian")]
    assert any("Listening at" in m for m in granian) and any("Started worker" in m for m in granian)

"""`uiserver serve --log-format json` on both servers: every line on stderr is a JSON object,
requests carry ids, and no user id or token is logged at INFO."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.app import bearer
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

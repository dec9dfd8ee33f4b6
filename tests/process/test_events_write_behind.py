"""Telemetry counters are written behind (`users.telemetry`): a SIGTERM right after the 202s
loses none of them (the server writes what is pending as it stops)."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.helpers.app import bearer
from tests.helpers.processes import ServeProcess


def test_sigterm_right_after_the_answers_keeps_every_acknowledged_tap(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path / "one", "").start()
    server.wait_ready()
    with server.client() as client:
        layout = client.get("/v1/layouts/home", headers=bearer("ann")).json()
        version = layout["template_version"]
        tappable = next(c["id"] for c in layout["components"] if c["id"] == "search")
        for n in range(20):
            answer = client.post(
                "/v1/me/events",
                headers=bearer(f"user-{n}"),
                json={"events": [{"page": "home", "component": tappable, "kind": "click"}]},
            )
            assert answer.status_code == 202 and answer.json()["stored"] == 1
    assert server.process is not None
    server.process.send_signal(signal.SIGTERM)  # well within the 1 s write-behind interval
    server.process.wait(timeout=20)
    server.process = None
    server.start().wait_ready()
    try:
        with server.client() as client:
            rows = client.get(
                f"/v1/admin/telemetry/home?version={version}", headers=bearer("dora", "designer")
            ).json()
        taps = sum(row["clicks"] for row in rows["rows"] if row["component"] == tappable)
        assert taps == 20, rows
    finally:
        server.stop()

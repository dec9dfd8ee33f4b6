"""The webhook outbox survives a restart of `uiserver serve` (SQLite file, real Redis): entries
a receiver refused while one server ran are delivered, in order and signed, by the server
started after it on the same store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.app import bearer
from tests.helpers.processes import ServeProcess
from tests.helpers.receiver import Receiver
from uiserver.audit.formats import verify

pytestmark = pytest.mark.slow
ADMIN = bearer("ada", "admin")
DESIGNER = bearer("dora", "designer")
ENV = {"UISERVER_WEBHOOK_ALLOW_PRIVATE": "1"}


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("redis_url")) if request.param == "redis" else ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver(fail=10**6).start()
    yield running
    running.stop()


def serve(tmp_path: Path, store_url: str) -> ServeProcess:
    server = ServeProcess(tmp_path / "replica", store_url, env=ENV).start()
    server.wait_ready()
    return server


def test_the_outbox_survives_a_restart(tmp_path: Path, store_url: str, receiver: Receiver) -> None:
    first = serve(tmp_path, store_url)
    try:
        with first.client() as client:
            hook = client.post("/v1/admin/webhooks", json={"url": receiver.url}, headers=ADMIN)
            assert hook.status_code == 201, hook.text
            secret = hook.json()["secret"]
            template = client.get("/v1/admin/templates/home", headers=DESIGNER).json()["template"]
            template["title"] = "Restarted"
            published = client.post(
                "/v1/admin/templates/home/publish",
                json={"template": template, "message": "while the receiver is down"},
                headers=DESIGNER,
            )
            assert published.status_code == 201, published.text
        receiver.wait(lambda r: len(r.received) >= 1)
    finally:
        first.stop()
    assert receiver.delivered() == []
    receiver.fail = 0
    second = serve(tmp_path, store_url)
    try:
        receiver.wait(lambda r: len(r.delivered()) >= 2, timeout=30)
    finally:
        second.stop()
    entries = []
    for got in receiver.delivered():
        signature = got.headers["X-Uiserver-Signature"]
        timestamp = int(signature.split(",")[0][2:])
        assert verify(secret, signature, got.body, timestamp)
        entries.append(json.loads(got.body)["entry"])
    assert [e["act"] for e in entries[:2]] == ["webhook.create", "template.publish"]
    assert entries[1]["details"]["message"] == "while the receiver is down"
    assert entries[1]["details"]["diff"]["fields"] == ["title"]
    with httpx.Client() as plain:  # the receiver answered each delivery once it was up
        assert plain.post(receiver.url, content=b"{}").status_code == 200

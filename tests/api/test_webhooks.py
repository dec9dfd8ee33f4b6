"""Webhooks through the real app, to a real local HTTP receiver, on SQLite and a real Redis:
registration (secret shown once, URL checked against SSRF), every audit entry delivered in
order and signed (verified with the README's own snippet), a receiver that fails and recovers
gets each entry at least once and in order, robots' error codes count as failures."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from starlette.testclient import TestClient

from tests.api.test_admin_routes import live_template, relabelled
from tests.helpers.app import ROOT, bearer, make_app
from tests.helpers.receiver import Receiver, receiver

__all__ = ["receiver"]
ADMIN = bearer("ada", "admin")
DESIGNER = bearer("dora", "designer")


def readme_verify() -> Any:
    """The verification snippet of the README, run as written."""
    text = (ROOT / "README.md").read_text()
    match = re.search(r"```python\n(import hashlib\n.*?def verify\(.*?)```", text, re.S)
    assert match, "the README's verification snippet"
    namespace: dict[str, Any] = {}
    exec(match.group(1), namespace)
    return namespace["verify"]


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("redis_url")) if request.param == "redis" else ""


@pytest.fixture
def client(tmp_path: Path, store_url: str) -> Iterator[TestClient]:
    app = make_app(tmp_path, store_url=store_url, webhook_allow_private=True)
    with TestClient(app) as test_client:
        yield test_client


def register(client: TestClient, body: dict[str, Any], status: int = 201) -> Any:
    response = client.post("/v1/admin/webhooks", json=body, headers=ADMIN)
    assert response.status_code == status, response.text
    return response.json()


def publish_labels(client: TestClient, *labels: str) -> None:
    _, template = live_template(client)
    for label in labels:
        response = client.post(
            "/v1/admin/templates/home/publish",
            json={"template": relabelled(template, label), "message": label},
            headers=DESIGNER,
        )
        assert response.status_code == 201, response.text


def test_each_entry_is_delivered_signed_and_in_order(
    client: TestClient, receiver: Receiver
) -> None:
    hook = register(client, {"url": receiver.url})
    assert hook["secret"].startswith("whsec_")
    publish_labels(client, "One", "Two")
    client.post("/v1/admin/templates/home/rollout", json={"percent": 50}, headers=ADMIN)
    receiver.wait(lambda r: len(r.delivered()) >= 3)
    verify = readme_verify()
    bodies = []
    for got in receiver.delivered():
        assert verify(hook["secret"], got.headers["X-Uiserver-Signature"], got.body)
        assert not verify("whsec_other", got.headers["X-Uiserver-Signature"], got.body)
        assert not verify(hook["secret"], got.headers["X-Uiserver-Signature"], got.body + b" ")
        body = json.loads(got.body)
        assert got.headers["X-Uiserver-Delivery"] == body["delivery"]
        assert body["delivery"] == f"{hook['id']}.{body['entry']['id']}"
        assert got.headers["X-Uiserver-Event"] == body["entry"]["act"]
        bodies.append(body["entry"])
    assert [e["act"] for e in bodies] == ["webhook.create", "template.publish", "template.publish"]
    assert bodies[1]["after"]["version"] != bodies[2]["after"]["version"]
    assert bodies[2]["details"]["diff"]["changed"] == 1
    assert [e["id"] for e in bodies] == sorted(e["id"] for e in bodies)
    listed = client.get("/v1/admin/webhooks", headers=ADMIN).json()["webhooks"]
    assert listed[0]["delivered"] >= 3 and "secret" not in listed[0]


def test_a_receiver_that_fails_then_recovers_gets_everything_in_order(
    client: TestClient, receiver: Receiver
) -> None:
    receiver.fail = 2  # the first two attempts answer 500
    hook = register(client, {"url": receiver.url, "pages": ["home"]})
    publish_labels(client, "One", "Two", "Three")
    receiver.wait(lambda r: len(r.delivered()) >= 3, timeout=30)
    delivered = [json.loads(r.body)["entry"] for r in receiver.delivered()]
    assert [e["details"]["message"] for e in delivered] == ["One", "Two", "Three"]
    failed = [r for r in receiver.received if r.status != 200]
    assert len(failed) == 2
    # The failed attempts were of the first entry: the same delivery id, retried.
    first = receiver.delivered()[0].headers["X-Uiserver-Delivery"]
    assert {r.headers["X-Uiserver-Delivery"] for r in failed} == {first}
    shown = client.get("/v1/admin/webhooks", headers=ADMIN).json()["webhooks"][0]
    assert shown["attempts"] == 0 and shown["delivered"] == 3 and shown["id"] == hook["id"]


def test_a_robot_error_code_is_a_failure_and_retried(
    client: TestClient, receiver: Receiver
) -> None:
    receiver.answers = [(200, b'{"errcode": 93000, "errmsg": "invalid webhook url"}')]
    register(client, {"url": receiver.url + "?key=abc", "format": "wecom", "acts": ["rollout.set"]})
    publish_labels(client, "Staged")
    client.post(
        "/v1/admin/templates/home/publish",
        json={
            "template": relabelled(live_template(client)[1], "Half"),
            "message": "m",
            "rollout": 10,
        },
        headers=DESIGNER,
    )
    client.post("/v1/admin/templates/home/rollout", json={"percent": 50}, headers=ADMIN)
    receiver.wait(lambda r: len(r.received) >= 2, timeout=30)
    first, second = receiver.received[:2]
    assert first.body == second.body and first.path == "/hook?key=abc"
    message = json.loads(second.body)
    assert message["msgtype"] == "markdown"
    content = message["markdown"]["content"]
    assert content.startswith("uiserver #") and "rollout.set · home" in content
    assert "by ada" in content and "rollout 10% -> 50%" in content
    listed = client.get("/v1/admin/webhooks", headers=ADMIN).json()["webhooks"][0]
    assert listed["url"].endswith("/hook?key=***")


def test_registration_is_checked(client: TestClient, receiver: Receiver) -> None:
    cases = [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "http://user:pw@example.com/x"}, "url"),
        ({"url": "http:///nohost"}, "url"),
        ({"url": "https://example.com:99999/"}, "url"),
        ({"url": receiver.url, "format": "telegram"}, "format"),
        ({"url": receiver.url, "format": "wecom", "secret": "0123456789abcdef"}, "secret"),
        ({"url": receiver.url, "secret": "short"}, "secret"),
        ({"url": receiver.url, "acts": "template.publish"}, "acts"),
    ]
    for body, field in cases:
        answer = register(client, body, 422)
        assert answer["error"]["field"] == field, (body, answer)
    assert (
        client.post(
            "/v1/admin/webhooks", json={"url": receiver.url, "x": 1}, headers=ADMIN
        ).status_code
        == 422
    )
    assert (
        client.post("/v1/admin/webhooks", json={"url": receiver.url}, headers=DESIGNER).status_code
        == 403
    )
    assert client.get("/v1/admin/webhooks", headers=DESIGNER).status_code == 403
    hook = register(client, {"url": receiver.url, "format": "feishu", "secret": "0123456789abcdef"})
    assert "secret" in hook  # shown once: the operator's own
    assert client.delete(f"/v1/admin/webhooks/{hook['id']}", headers=ADMIN).status_code == 200
    assert client.delete(f"/v1/admin/webhooks/{hook['id']}", headers=ADMIN).status_code == 404
    acts = [e["act"] for e in client.get("/v1/admin/audit", headers=ADMIN).json()["entries"]]
    assert acts[:2] == ["webhook.delete", "webhook.create"]


def test_the_same_hook_registered_twice_is_a_409_naming_the_first(
    client: TestClient, receiver: Receiver
) -> None:
    """A retried POST or a script run twice made a second hook: every entry was delivered
    twice to one receiver. Filters compare as sets; a name listed twice counts once."""
    first = register(client, {"url": receiver.url, "acts": ["template.publish", "rollout.set"]})
    again = register(
        client,
        {"url": receiver.url, "acts": ["rollout.set", "template.publish", "rollout.set"]},
        409,
    )
    assert again["error"]["code"] == "webhook_exists" and again["id"] == first["id"]
    other = register(
        client, {"url": receiver.url, "acts": ["template.publish", "template.publish"]}
    )
    assert other["acts"] == ["template.publish"]  # another filter: another hook
    hooks = client.get("/v1/admin/webhooks", headers=ADMIN).json()["webhooks"]
    assert sorted(h["id"] for h in hooks) == sorted([first["id"], other["id"]])


def test_private_addresses_are_refused_unless_allowed(tmp_path: Path, receiver: Receiver) -> None:
    with TestClient(make_app(tmp_path)) as strict:
        for url in (receiver.url, "http://localhost:1/x", "http://169.254.169.254/latest"):
            answer = register(strict, {"url": url}, 422)
            assert answer["error"]["field"] == "url"
            assert "non-public" in answer["error"]["message"]
        assert strict.get("/v1/admin/webhooks", headers=ADMIN).json() == {"webhooks": []}


def test_time_is_unix_seconds_in_the_entry(client: TestClient, receiver: Receiver) -> None:
    before = time.time()
    register(client, {"url": receiver.url})
    receiver.wait(lambda r: len(r.delivered()) >= 1)
    entry = json.loads(receiver.delivered()[0].body)["entry"]
    assert before - 1 <= entry["time"] <= time.time()


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/",  # urlsplit raises ValueError: was a 500
        "http://[1.2.3.4]/",  # the same
        "http://[v1.x]/",  # urlsplit reads it, httpx cannot: was stored (private allowed)
        "http://[::1]x/",  # the same: the port 'x'
    ],
)
def test_a_url_no_http_client_can_send_to_is_refused(client: TestClient, url: str) -> None:
    answer = register(client, {"url": url}, 422)
    assert answer["error"]["field"] == "url", answer
    assert client.get("/v1/admin/webhooks", headers=ADMIN).json() == {"webhooks": []}


def test_a_stored_url_httpx_cannot_read_fails_only_its_own_hook(
    client: TestClient, receiver: Receiver
) -> None:
    """A hook stored before registration read URLs as httpx does: its deliveries fail (and are
    retried) while every other hook's go on. Before, httpx.InvalidURL (no HTTPError) ended the
    delivery task of the process: no hook got anything more until a restart."""
    from uiserver.audit.webhooks import new_hook

    service = client.app.service  # type: ignore[attr-defined]
    newest = client.portal.call(service.store.audit.last_id)  # type: ignore[union-attr]
    made = new_hook("http://[::1]/", None, None, None, None, "ada", time.time(), newest)
    bad = msgspec.structs.replace(made, url="http://[v1.x]/")
    client.portal.call(service.store.webhooks.add_hook, bad)  # type: ignore[union-attr]
    good = register(client, {"url": receiver.url})
    publish_labels(client, "One", "Two")
    receiver.wait(lambda r: len(r.delivered()) >= 3)  # webhook.create and the two publishes
    hooks = {h["id"]: h for h in client.get("/v1/admin/webhooks", headers=ADMIN).json()["webhooks"]}
    assert hooks[good["id"]]["last_error"] is None
    assert "[v1.x]" in hooks[bad.id]["last_error"], hooks[bad.id]

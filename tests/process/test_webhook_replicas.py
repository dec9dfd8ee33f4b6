"""Two real `uiserver serve` replicas on one real Redis deliver a webhook's entries once each,
in order (one holds the hook's lease); after the holder is killed with SIGKILL (no chance to
hand its lease on), the other takes the hook over once the lease runs out and delivers what
came since, nothing lost (at least once: the entry the killed one was sending may come
twice)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.helpers.app import bearer
from tests.helpers.processes import ServeProcess
from tests.helpers.receiver import Receiver, receiver
from uiserver.audit.outbox import LEASE_S

__all__ = ["receiver"]
pytestmark = [pytest.mark.slow, pytest.mark.redis]
ADMIN = bearer("ada", "admin")
DESIGNER = bearer("dora", "designer")
ENV = {"UISERVER_WEBHOOK_ALLOW_PRIVATE": "1"}


def publish(server: ServeProcess, title: str) -> None:
    with server.client() as client:
        template = client.get("/v1/admin/templates/home", headers=DESIGNER).json()["template"]
        template["title"] = title
        body = {"template": template, "message": title}
        answer = client.post("/v1/admin/templates/home/publish", json=body, headers=DESIGNER)
        assert answer.status_code == 201, answer.text


def messages(receiver: Receiver) -> list[str]:
    entries = [json.loads(r.body)["entry"] for r in receiver.delivered()]
    return [e["details"].get("message", e["act"]) for e in entries]


def test_one_replica_delivers_and_another_takes_over_after_a_kill(
    tmp_path: Path, redis_url: str, receiver: Receiver
) -> None:
    a = ServeProcess(tmp_path / "a", redis_url, env=ENV).start()
    b = ServeProcess(tmp_path / "b", redis_url, env=ENV)
    try:
        a.wait_ready()
        with a.client() as client:
            hook = client.post("/v1/admin/webhooks", json={"url": receiver.url}, headers=ADMIN)
            assert hook.status_code == 201, hook.text
        publish(a, "first")
        receiver.wait(lambda r: "first" in messages(r))  # A holds the hook's lease now
        b.start().wait_ready()
        for n in range(6):
            publish(b if n % 2 else a, f"both {n}")
        receiver.wait(lambda r: "both 5" in messages(r))
        # kill -9 A's worker too, not only its supervisor (as an OOM kill of its container
        # would): a granian worker told to stop by `die_with_server` shuts down gracefully and
        # hands its lease on, so B took over at once (0.59 s after the next publish, A's worker
        # still alive after the supervisor's wait) instead of when the lease ran out, and that
        # worker, still delivering, could send the next entry B then sent again.
        assert a.process is not None
        for pid in a.serving_pids():
            os.kill(pid, signal.SIGKILL)
        before_kill = [r.headers["X-Uiserver-Delivery"] for r in receiver.delivered()]
        a.process.wait()
        a.process = None
        publish(b, "after the kill")
        receiver.wait(lambda r: "after the kill" in messages(r), timeout=LEASE_S + 20)
    finally:
        a.stop()
        b.stop()
    # While both ran, one delivered: each entry once. At least once across the kill: an entry
    # the killed replica sent but had not yet marked delivered is sent again, and only that.
    assert len(before_kill) == len(set(before_kill)), before_kill
    ids = [r.headers["X-Uiserver-Delivery"] for r in receiver.delivered()]
    again = {i for i in ids if ids.count(i) > 1}
    assert again <= {before_kill[-1]}, ids
    assert list(dict.fromkeys(messages(receiver))) == [
        "webhook.create",
        "first",
        *(f"both {n}" for n in range(6)),
        "after the kill",
    ]

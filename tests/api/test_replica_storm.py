"""A storm of admin writes on two replicas of one store (issue 27, section 5): two service
instances on one SQLite file, or two on one real Redis, each behind its own TestClient (its
own event loop thread), with designers publishing, staging, widening, promoting, aborting,
archiving and rolling back the same page at random for a few seconds.

Every answer is checked against what was stored: no 5xx, no 404 (the page always has a
history), and each 2xx names exactly what its own write did (a publish's version at its seq in
the history, a rollout at the percent asked, an abort's entry by its author, an archive marker).
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app

BASE = "/v1/admin/templates/home"
STORM_SECONDS = 3.0
THREADS_PER_REPLICA = 2
TITLES = ("one", "two", "three")  # a few versions, so republishing and rollbacks recur


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def replicas(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> Iterator[tuple[TestClient, TestClient]]:
    url = str(request.getfixturevalue("redis_url")) if backend == "redis" else ""
    with (
        TestClient(make_app(tmp_path, store_url=url), raise_server_exceptions=False) as a,
        TestClient(make_app(tmp_path, store_url=url), raise_server_exceptions=False) as b,
    ):
        yield a, b


@dataclass
class Answer:
    op: str
    author: str
    asked: dict[str, Any]
    status: int
    body: Any


@dataclass
class Storm:
    document: dict[str, Any]
    versions: dict[str, str] = field(default_factory=dict)  # title -> version, once seen
    answers: list[Answer] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def act(self, client: TestClient, author: str, rng: random.Random) -> Answer:
        headers = bearer(author, "designer")
        op = rng.choice(["publish", "stage", "rollout", "promote", "abort", "archive", "rollback"])
        asked: dict[str, Any] = {}
        if op in ("publish", "stage"):
            asked = {"template": {**copy.deepcopy(self.document), "title": rng.choice(TITLES)}}
            asked["message"] = author
            if op == "stage":
                asked["rollout"] = rng.randint(1, 99)
            if rng.random() < 0.5:
                asked["rollout_conflict"] = rng.choice(["promote", "abort"])
            response = client.post(f"{BASE}/publish", headers=headers, json=asked)
        elif op == "rollout":
            asked = {"percent": rng.randint(1, 100)}
            response = client.post(f"{BASE}/rollout", headers=headers, json=asked)
        elif op in ("promote", "abort"):
            response = client.post(f"{BASE}/{op}", headers=headers)
        elif op == "archive":
            response = client.delete(BASE, headers=headers)
        else:
            with self.lock:
                known = sorted(self.versions.values())
            asked = {"version": rng.choice(known)}
            response = client.post(f"{BASE}/rollback", headers=headers, json=asked)
        answer = Answer(op, author, asked, response.status_code, _json(response))
        if answer.status == 201 and op in ("publish", "stage"):
            with self.lock:
                self.versions[asked["template"]["title"]] = answer.body["version"]
        return answer


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def storm(clients: tuple[TestClient, TestClient], seconds: float) -> tuple[Storm, list[Any]]:
    a, _ = clients
    first = a.get(BASE, headers=bearer("setup", "designer")).json()
    state = Storm(first["template"], {"": first["live_version"]})
    deadline = time.monotonic() + seconds
    errors: list[BaseException] = []

    def worker(client: TestClient, author: str, seed: int) -> None:
        rng = random.Random(seed)
        try:
            while time.monotonic() < deadline:
                answer = state.act(client, author, rng)
                with state.lock:
                    state.answers.append(answer)
        except BaseException as exc:  # reported by the test, never lost in a thread
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(client, f"d{r}{t}", 100 * r + t))
        for r, client in enumerate(clients)
        for t in range(THREADS_PER_REPLICA)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return state, errors


def _published(answer: Answer, history: dict[int, dict[str, Any]]) -> str | None:
    body = answer.body
    entry = history.get(body["seq"])
    if entry is None or entry["version"] != body["version"]:
        return f"seq {body['seq']} is not {body['version']} in the history"
    rollout = body["rollout"]
    wanted = answer.asked.get("rollout")
    # None for a staged publish of the version everyone keeps: nothing to stage.
    if wanted is not None and rollout is not None and rollout["percent"] != wanted:
        return f"asked a rollout at {wanted}%, answered {rollout}"
    if wanted is None and rollout is not None:
        return f"a publish for everyone answered a rollout {rollout}"
    if rollout is not None and rollout["version"] != body["version"]:
        return "the rollout answered is not of the version published"
    return None


def _widened(answer: Answer, history: dict[int, dict[str, Any]]) -> str | None:
    rollout = answer.body["rollout"]
    if rollout is None or rollout["percent"] != answer.asked["percent"]:
        return f"asked {answer.asked['percent']}%, answered {rollout}"
    if rollout["version"] != answer.body["live_version"]:
        return "the rollout is not of the live version answered"
    return None


def _ended(answer: Answer, history: dict[int, dict[str, Any]]) -> str | None:
    body = answer.body
    if body["rollout"] is not None:
        return "a rollout still running after it ended"
    if answer.op == "abort" and not any(
        e["author"] == answer.author and e["version"] == body["live_version"]
        for e in history.values()
    ):
        return f"no entry of {body['live_version']} by {answer.author} in the history"
    return None


def _archived(answer: Answer, history: dict[int, dict[str, Any]]) -> str | None:
    return None if answer.body.get("archived") else "an archive answered without its marker"


CHECKS = {
    "publish": _published,
    "stage": _published,
    "rollback": _published,
    "rollout": _widened,
    "promote": _ended,
    "abort": _ended,
    "archive": _archived,
}


def check(answer: Answer, history: dict[int, dict[str, Any]]) -> str | None:
    """Why `answer` contradicts the stored history (None: it does not). A refusal (409, 422)
    changed nothing and contradicts nothing; a 404 or a 5xx is always wrong here."""
    if answer.status in (409, 422):
        return None
    if answer.status >= 300:
        return f"status {answer.status}"
    return CHECKS[answer.op](answer, history)


@pytest.mark.parametrize("seconds", [STORM_SECONDS])
def test_a_storm_of_admin_writes_on_two_replicas_answers_only_what_was_applied(
    replicas: tuple[TestClient, TestClient], seconds: float
) -> None:
    state, errors = storm(replicas, seconds)
    assert errors == []
    a, b = replicas
    history = {
        entry["seq"]: entry
        for entry in a.get(f"{BASE}/history", headers=bearer("x", "designer")).json()["versions"]
    }
    wrong = [
        (answer.op, answer.status, why, answer.body)
        for answer in state.answers
        if (why := check(answer, history)) is not None
    ]
    ops = {answer.op for answer in state.answers if answer.status < 300}
    print(f"\nstorm: {len(state.answers)} admin writes, {len(history)} history entries")
    assert wrong == []
    assert len(state.answers) > 20 and {"publish", "archive"} <= ops
    # Both replicas agree on what is stored once the storm is over.
    got = [c.get(f"{BASE}/history", headers=bearer("x", "designer")).json() for c in (a, b)]
    assert got[0] == got[1]

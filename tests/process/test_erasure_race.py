"""Erasure is final under concurrency: real `uiserver serve` processes, real HTTP.

A user with 12 click events launches `home` again and again (a new `width` each time, so every
launch is a cold serve that remembers the order it served, in the background) while `DELETE
/v1/me` runs. 100 ms after the erase answered, `GET /v1/me/data` must show a user never seen: no
write that started before the erase may land after it. On SQLite in one process, and on two
replicas sharing a real Redis (GETs on one, DELETE and the export on the other).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h11
import httpx
import msgspec
import pytest

from tests.helpers.app import bearer
from tests.helpers.processes import ServeProcess, two_replicas

pytestmark = pytest.mark.slow

USERS = 40
PLAIN_USERS = 20
CLICKS = [{"page": "home", "component": "coupons", "kind": "click"}] * 12
# The "100 ms later": the contract is stated as a time after the erase answered, and a
# served process shows no signal that its background writes (order writes, the launch-counter
# flush) are done, so this one stays a bounded wait.
SETTLE_S = 0.1


def msgspec_json(value: Any) -> bytes:
    return msgspec.json.encode(value)


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    server = ServeProcess(tmp_path / "one", "").start()
    try:
        server.wait_ready()
        with server.client() as first, server.client() as second:
            yield first, second
    finally:
        server.stop()


@pytest.fixture
def redis_replicas(redis_url: str, tmp_path: Path) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    with two_replicas(redis_url, tmp_path) as clients:
        yield clients


def exported(client: httpx.Client, user: str) -> dict[str, Any]:
    response = client.get("/v1/me/data", headers=bearer(user))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    data.pop("user_id", None)
    return data


def erase_while_launching(launcher: httpx.Client, eraser: httpx.Client, user: str) -> bool:
    """One user through the race; True when something about them survived the erase."""
    headers = bearer(user)
    posted = launcher.post("/v1/me/events", headers=headers, json={"events": CLICKS})
    assert posted.status_code == 202, posted.text
    stop = threading.Event()
    answered = threading.Event()
    failures: list[str] = []

    def launch_forever() -> None:
        width = 320
        while not stop.is_set():
            width += 1
            response = launcher.get(f"/v1/layouts/home?width={width}", headers=headers)
            if response.status_code != 200:
                failures.append(response.text)
            answered.set()

    thread = threading.Thread(target=launch_forever)
    thread.start()
    try:
        # Launches in flight: one has been served (its order write may still be running in
        # the background) and the next one is on its way.
        assert answered.wait(10), "no launch answered"
        erased = eraser.delete("/v1/me", headers=headers)
    finally:
        stop.set()
        thread.join()
    assert erased.status_code == 200 and erased.json() == {"erased": True}, erased.text
    assert not failures, failures[:1]
    time.sleep(SETTLE_S)  # the contract's "100 ms later" (see SETTLE_S)
    return exported(eraser, user) != exported(eraser, "never-seen")


def plain_get_then_delete(client: httpx.Client, user: str) -> bool:
    headers = bearer(user)
    assert client.post("/v1/me/events", headers=headers, json={"events": CLICKS}).status_code == 202
    assert client.get("/v1/layouts/home?width=390", headers=headers).status_code == 200
    assert client.delete("/v1/me", headers=headers).status_code == 200
    time.sleep(SETTLE_S)  # the contract's "100 ms later" (see SETTLE_S)
    return exported(client, user) != exported(client, "never-seen")


def test_sqlite_erase_during_launches_leaves_nothing(
    sqlite_server: tuple[httpx.Client, httpx.Client],
) -> None:
    launcher, eraser = sqlite_server
    leaked = [
        u for u in (f"race-{i}" for i in range(USERS)) if erase_while_launching(launcher, eraser, u)
    ]
    plain = [
        u for u in (f"plain-{i}" for i in range(PLAIN_USERS)) if plain_get_then_delete(launcher, u)
    ]
    print(
        f"sqlite: {len(leaked)} of {USERS} raced users and {len(plain)} of {PLAIN_USERS} "
        "plain GET-then-DELETE users kept data after the erase"
    )  # shown with -rP
    assert leaked == [] and plain == []


@pytest.mark.redis
def test_redis_replicas_erase_during_launches_leaves_nothing(
    redis_replicas: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = redis_replicas
    leaked = [u for u in (f"race-{i}" for i in range(USERS)) if erase_while_launching(a, b, u)]
    plain = [u for u in (f"plain-{i}" for i in range(PLAIN_USERS)) if plain_get_then_delete(a, u)]
    print(
        f"redis: {len(leaked)} of {USERS} raced users and {len(plain)} of {PLAIN_USERS} "
        "plain GET-then-DELETE users kept data after the erase"
    )
    assert leaked == [] and plain == []


# --------------------------------------------------------------------------- requests in flight

ELDERLY = {
    "elderly_mode": "on",
    "font_scale": 1.0,
    "high_contrast": False,
    "reduce_motion": False,
    "screen_reader": False,
    "handedness": "left",
    "personalization": 1.0,
    "age_band": "60_plus",
}


class SlowRequest:
    """A request from a client on a slow link, over its own socket: the headers go first, with
    `Expect: 100-continue`, and the body only after `begun()`.

    The server answers `100 Continue` when the handler first asks for the body, which each
    `/v1/me` write does right after reading the user's erasure epoch (`uiserver.http.me`):
    that answer is the proof that the request has begun, where a sleep could only guess.
    """

    def __init__(
        self, client: httpx.Client, method: str, path: str, user: str, body: bytes
    ) -> None:
        self.body = body
        self.conn = h11.Connection(our_role=h11.CLIENT)
        url = client.base_url
        assert url.host and url.port
        self.sock = socket.create_connection((url.host, url.port), timeout=10)
        headers = {
            **bearer(user),
            "Host": f"{url.host}:{url.port}",
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "Expect": "100-continue",
            "Connection": "close",
        }
        request = h11.Request(method=method, target=path, headers=list(headers.items()))
        self.sock.sendall(self.conn.send(request))

    def _next(self) -> object:
        """The next thing the server sent (an h11 event), reading the socket as needed."""
        while (event := self.conn.next_event()) is h11.NEED_DATA:
            self.conn.receive_data(self.sock.recv(65536))
        return event

    def begun(self) -> None:
        """Wait for `100 Continue` (the handler has read the epoch and waits for the body), then
        send the first half of the body."""
        event = self._next()
        assert isinstance(event, h11.InformationalResponse) and event.status_code == 100, event
        self.sock.sendall(self.conn.send(h11.Data(data=self.body[: len(self.body) // 2])))

    def finish(self) -> httpx.Response:
        """Send the rest of the body; the response."""
        self.sock.sendall(self.conn.send(h11.Data(data=self.body[len(self.body) // 2 :])))
        self.sock.sendall(self.conn.send(h11.EndOfMessage()))
        head = self._next()
        assert isinstance(head, h11.Response), head
        content = b""
        while not isinstance(event := self._next(), h11.EndOfMessage):
            assert isinstance(event, h11.Data), event
            content += event.data
        self.sock.close()
        return httpx.Response(head.status_code, headers=head.headers.raw_items(), content=content)


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        pytest.param("PUT", "/v1/me/settings", msgspec_json(ELDERLY), 409, id="put-settings"),
        pytest.param(
            "PATCH",
            "/v1/me/settings",
            b'{"handedness": "left", "font_scale": 1.6}',
            409,
            id="patch-settings",
        ),
        pytest.param("POST", "/v1/me/events", msgspec_json({"events": CLICKS}), 202, id="events"),
    ],
)
def test_a_request_in_flight_during_the_erase_stores_nothing(
    sqlite_server: tuple[httpx.Client, httpx.Client],
    method: str,
    path: str,
    body: bytes,
    status: int,
) -> None:
    """The request began (headers in, body still arriving) before `DELETE /v1/me`; it ends
    after. It must not bring the user back: settings 409 `erased`, events 202 storing 0."""
    slow, eraser = sqlite_server
    user = f"stale-{method.lower()}"
    headers = bearer(user)
    assert eraser.post("/v1/me/events", headers=headers, json={"events": CLICKS}).status_code == 202
    request = SlowRequest(slow, method, path, user, body)
    request.begun()  # the server has the headers, read the epoch and waits for the body
    assert eraser.delete("/v1/me", headers=headers).json() == {"erased": True}
    response = request.finish()
    assert response.status_code == status, response.text
    if status == 409:
        assert response.json()["error"]["code"] == "erased"
    else:
        assert response.json()["stored"] == 0
    # No wait: these writes are not in the background, so the response is the proof that the
    # slow request's write (or its refusal) is done.
    assert exported(eraser, user) == exported(eraser, "never-seen")

    # A request that begins after the erase is a new start: it is stored.
    again = eraser.request(
        method, path, content=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert again.status_code in (200, 202) and exported(eraser, user)["updated"] is not None


@pytest.mark.redis
def test_erase_then_stale_settings_put_from_another_replica_is_refused(
    redis_replicas: tuple[httpx.Client, httpx.Client],
) -> None:
    """Across replicas: the slow PUT goes to A, the erase to B."""
    a, b = redis_replicas
    user = "stale-replica"
    assert a.put("/v1/me/settings", headers=bearer(user), json=ELDERLY).status_code == 200
    request = SlowRequest(
        a, "PUT", "/v1/me/settings", user, msgspec_json({**ELDERLY, "font_scale": 1.8})
    )
    request.begun()  # A has read the epoch and waits for the body
    assert b.delete("/v1/me", headers=bearer(user)).json() == {"erased": True}
    response = request.finish()
    assert response.status_code == 409 and response.json()["error"]["code"] == "erased"
    assert exported(b, user) == exported(b, "never-seen")

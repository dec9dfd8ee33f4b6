"""The RSGI warm path (`RSGIApp.__rsgi__` -> `LayoutApp.warm` -> `LayoutServer.warm`) answers
exactly what `LayoutApp.answer` does, counts what it counts, and steps aside whenever the
cached answer may no longer be right (issue 26: headers made once per cached body).

In-process: the app of `create_app` on the shipped layouts, called as ASGI and as RSGI (a fake
scope and protocol, what granian hands the app), the same request each way.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import time
import types
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from prometheus_client import generate_latest
from starlette.types import Message

from tests.helpers.app import make_app, token
from uiserver.catalog import template_to_json, template_version
from uiserver.datastructures import BoundedDict
from uiserver.http import rsgi
from uiserver.http.layouts import LayoutApp
from uiserver.http.rsgi import RSGIApp
from uiserver.schema import Settings, Template
from uiserver.serving import layouts as serving_layouts
from uiserver.store.base import Revocation
from uiserver.store.factory import open_store

HOME = "/v1/layouts/home"
Result = tuple[int, list[tuple[str, str]], bytes]


class Headers(dict[str, str]):
    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return list(super().items())

    def keys(self) -> list[str]:  # type: ignore[override]
        return list(super().keys())


class Scope:
    def __init__(self, method: str, path: str, query: str, headers: dict[str, str]) -> None:
        self.proto = "http"
        self.http_version = "1.1"
        self.client = "127.0.0.1:5000"
        self.server = "127.0.0.1:8000"
        self.scheme = "http"
        self.method = method
        self.path = path
        self.query_string = query
        self.headers = Headers(headers)


class Protocol:
    def __init__(self) -> None:
        self.answers: list[Result] = []

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.answers.append((status, list(headers), body))

    def __aiter__(self) -> Any:
        return self

    async def __anext__(self) -> bytes:
        raise StopAsyncIteration

    async def client_disconnect(self) -> None:
        await asyncio.sleep(3600)


class Harness:
    def __init__(self, edge: LayoutApp) -> None:
        self.edge = edge
        self.rsgi = RSGIApp(edge, edge)

    async def asgi(
        self, headers: dict[str, str], query: str = "", method: str = "GET", path: str = HOME
    ) -> Result:
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode("latin-1"),
            "root_path": "",
            "headers": [(k.encode(), v.encode("latin-1")) for k, v in headers.items()],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
        }
        await self.edge(scope, receive, send)
        start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
        text = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
        return start["status"], text, body

    async def rsgi_get(
        self, headers: dict[str, str], query: str = "", method: str = "GET", path: str = HOME
    ) -> Result:
        protocol = Protocol()
        await self.rsgi.__rsgi__(Scope(method, path, query, headers), protocol)
        assert len(protocol.answers) == 1
        return protocol.answers[0]

    @property
    def stats(self) -> dict[str, int]:
        return self.edge.service.server.stats

    def warm(self, headers: dict[str, str], query: str = "") -> bool:
        """Whether the warm path would answer this request now (the capability header is
        checked by `RSGIApp` before it asks)."""
        if "x-ui-capabilities" in headers:
            return False
        page = HOME.removeprefix("/v1/layouts/")
        return self.edge.warm(page, headers.get("authorization"), query.encode()) is not None


def run(tmp_path: Path, body: Callable[[Harness], Awaitable[None]], **overrides: object) -> None:
    async def main() -> None:
        edge = make_app(tmp_path, **overrides)
        assert isinstance(edge, LayoutApp)
        harness = Harness(edge)
        await harness.rsgi.bridge.startup()
        try:
            await body(harness)
        finally:
            await harness.rsgi.bridge.shutdown()

    asyncio.run(main())


def _bearer(user: str, **kw: Any) -> dict[str, str]:
    return {"authorization": f"Bearer {token(user, **kw)}"}


def test_warm_answers_equal_asgi_for_every_variant(tmp_path: Path) -> None:
    """Each request asked 3 times over RSGI (the first one cold, then warm) and once over
    ASGI: the same status, headers and body each time, the warm path taken where expected."""

    async def body(h: Harness) -> None:
        user = _bearer("warm-user")
        first = await h.asgi(user)
        etag = dict(first[1])["etag"]
        gz = await h.asgi({**user, "accept-encoding": "gzip"})
        etag_gz = dict(gz[1])["etag"]
        assert gz[0] == 200 and ("content-encoding", "gzip") in gz[1]
        cases: list[tuple[dict[str, str], str, str, bool]] = [
            (user, "", "GET", True),
            ({}, "", "GET", True),  # anonymous
            (user, "", "HEAD", True),
            ({**user, "accept-encoding": "gzip"}, "", "GET", True),
            ({**user, "accept-encoding": "br;q=1, gzip;q=0.5"}, "", "GET", True),
            ({**user, "accept-encoding": "gzip;q=0, identity;q=0"}, "", "GET", True),  # 406
            ({**user, "if-none-match": etag}, "", "GET", True),  # 304
            ({**user, "if-none-match": f"W/{etag}"}, "", "GET", True),  # 304, weak
            ({**user, "if-none-match": etag_gz}, "", "GET", True),  # 304, the other tag
            ({**user, "if-none-match": "*"}, "", "HEAD", True),
            ({**user, "if-none-match": '"other"'}, "", "GET", True),  # 200
            (
                {**user, "if-none-match": etag_gz, "accept-encoding": "gzip"},
                "",
                "GET",
                True,
            ),
            (user, "device=tablet&dark=1&font_px=22", "GET", True),
            (user, "dark=2", "GET", False),  # 400: never warm
            (user, "caps=abc", "GET", False),  # a capability: the full path
            ({**user, "x-ui-capabilities": "abc"}, "", "GET", False),
            ({"authorization": "Bearer not-a-token"}, "", "GET", False),  # 401
            ({"authorization": "bearer " + user["authorization"][7:]}, "", "GET", False),
            ({"authorization": "Bearer  " + user["authorization"][7:]}, "", "GET", False),
        ]
        for headers, query, method, warm in cases:
            expected = await h.asgi(headers, query, method)
            for _ in range(3):
                assert await h.rsgi_get(headers, query, method) == expected, (headers, query)
            assert h.warm(headers, query) is warm, (headers, query)
        statuses = {(await h.asgi(c[0], c[1], c[2]))[0] for c in cases}
        assert {200, 304, 400, 401, 406} <= statuses, statuses

    run(tmp_path, body)


def test_warm_path_counts_as_the_full_path(tmp_path: Path) -> None:
    """Hits, layouts served by version, 304s and the latency histogram move by one per warm
    request, as they do over ASGI; /metrics shows them as before."""

    async def body(h: Harness) -> None:
        user = _bearer("counted")
        etag = dict((await h.rsgi_get(user))[1])["etag"]
        server = h.edge.service.server
        hits, served = h.stats["hits"], sum(server.served.values())
        observed = sum(h.edge.metrics.layout_latency.counts)
        for _ in range(5):
            assert (await h.rsgi_get(user))[0] == 200
        assert (await h.rsgi_get({**user, "if-none-match": etag}))[0] == 304
        assert h.stats["hits"] == hits + 6
        assert sum(server.served.values()) == served + 6
        assert sum(h.edge.metrics.layout_latency.counts) == observed + 6
        assert h.edge.metrics.not_modified.count == 1
        await h.asgi({**user, "if-none-match": etag})
        assert h.stats["hits"] == hits + 7
        text = generate_latest(h.edge.metrics.registry).decode()
        assert "uiserver_not_modified_total 2.0" in text
        assert "uiserver_not_modified_created " in text

    run(tmp_path, body)


def test_a_revoked_or_expired_cached_token_is_refused_on_the_warm_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(h: Harness) -> None:
        user = _bearer("revoked-later")
        assert (await h.rsgi_get(user))[0] == 200
        assert h.warm(user)
        revocations = h.edge.service.revocations
        # Through `apply`, as a revocation heard is applied: it bumps `Service.generation`, so
        # a table answer of this token made before it is not used after it.
        revocations.apply(
            Revocation("subject", "revoked-later", time.time() + 5, time.time() + 3600)
        )
        assert not h.warm(user)
        refused = await h.rsgi_get(user)
        assert refused[0] == 401 and b"token_revoked" in refused[2]
        assert refused == await h.asgi(user)
        revocations.forget(time.time() + 7200)  # past the revocation's expiry: gone
        other = _bearer("expires-later")
        assert (await h.rsgi_get(other))[0] == 200 and h.warm(other)
        later = time.time() + 7200
        monkeypatch.setattr(time, "time", lambda: later)
        assert not h.warm(other)
        expired = await h.rsgi_get(other)
        assert expired[0] == 401 and b"token_expired" in expired[2]

    run(tmp_path, body)


def test_the_warm_path_steps_aside_when_the_memo_may_be_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new day, a profile changed, templates to reload, a memo entry evicted: the full
    path answers (and records the launch again), never the old entry."""

    async def body(h: Harness) -> None:
        user = _bearer("stale")
        before = await h.rsgi_get(user)
        assert h.warm(user)
        server = h.edge.service.server
        renders = h.stats["misses"]
        # a new day: memo entries of yesterday are not valid
        day = serving_layouts.today() + 1
        monkeypatch.setattr(serving_layouts, "today", lambda: day)
        assert not h.warm(user)
        assert (await h.rsgi_get(user))[2] == before[2]
        assert h.warm(user)
        # the profile changes (another object in the profile cache)
        profiles = server._profile_cache
        profiles["stale"] = copy.copy(profiles["stale"])
        assert not h.warm(user)
        assert (await h.rsgi_get(user))[0] == 200 and h.warm(user)
        # templates to reload
        server.pages.dirty.add("home")
        assert not h.warm(user)
        assert (await h.rsgi_get(user))[0] == 200 and h.warm(user)
        # the memo entry gone
        server._memo.clear()
        assert not h.warm(user)
        assert (await h.rsgi_get(user))[2] == before[2]
        assert h.stats["misses"] == renders  # the body itself was cached all along

    run(tmp_path, body)


def test_requests_the_warm_path_never_takes(tmp_path: Path) -> None:
    """Authorization sent but not text, too many header fields, fault injection on."""

    async def body(h: Harness) -> None:
        user = _bearer("aside")
        await h.rsgi_get(user)
        for _ in range(3):  # an anonymous answer in the table of warm answers
            assert (await h.rsgi_get({}))[0] == 200
        assert (HOME, "", None) in h.rsgi._known
        scope = Scope("GET", HOME, "", {})
        scope.headers = _BinaryAuthorization()
        protocol = Protocol()
        await h.rsgi.__rsgi__(scope, protocol)
        assert protocol.answers[0][0] == 401
        h.rsgi.max_headers = 2
        many = await h.rsgi_get({**user, "a": "1", "b": "2"})
        assert many[0] == 431 and ("connection", "close") in many[1]
        h.rsgi.max_headers = 100
        h.rsgi.faulty = True
        assert (await h.rsgi_get(user))[0] == 200  # the full path (no fault asked)

    run(tmp_path, body)


class _BinaryAuthorization(Headers):
    """granian's headers when Authorization is not text: `get` says None, `in` says yes."""

    def get(self, key: str, default: Any = None) -> Any:
        return default

    def __contains__(self, key: object) -> bool:
        return key == "authorization"


# --------------------------------------------------------------------------- the table


class Table:
    """Counts the requests `RSGIApp`'s table of warm answers could not answer (each asks
    `LayoutApp.known`)."""

    def __init__(self, h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
        self.h = h
        self.asked = 0
        known = h.edge.known

        def counted(*args: Any) -> Any:
            self.asked += 1
            return known(*args)

        monkeypatch.setattr(h.edge, "known", counted)

    async def from_table(self, h: Harness, headers: dict[str, str], query: str = "") -> Result:
        """The answer, asserting the table gave it."""
        asked = self.asked
        answer = await h.rsgi_get(headers, query)
        assert self.asked == asked, "the table did not answer"
        return answer

    async def not_from_table(self, h: Harness, headers: dict[str, str], query: str = "") -> Result:
        """The answer, asserting the table did not give it."""
        asked = self.asked
        answer = await h.rsgi_get(headers, query)
        assert self.asked == asked + 1, "the table answered"
        return answer

    async def warmed(self, headers: dict[str, str]) -> Result:
        """Ask until the table answers (a first launch, `LayoutApp.known`, then the table)."""
        await self.h.rsgi_get(headers)
        await self.h.rsgi_get(headers)
        return await self.from_table(self.h, headers)

    async def refused(self, headers: dict[str, str], code: str) -> None:
        """The table does not answer; the full path refuses with 401 and `code`."""
        refused = await self.not_from_table(self.h, headers)
        assert refused[0] == 401 and code.encode() in refused[2], refused


def run_table(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    body: Callable[[Harness, Table], Awaitable[None]],
    **overrides: object,
) -> None:
    """`run`, `body` given the harness and a `Table` counting on it."""

    async def counted(h: Harness) -> None:
        await body(h, Table(h, monkeypatch))

    run(tmp_path, counted, **overrides)


def _revocation(subject: str) -> Revocation:
    """A revocation of every token of `subject` issued before 5 s from now, kept an hour."""
    now = time.time()
    return Revocation("subject", subject, now + 5, now + 3600)


def test_the_table_answers_as_the_full_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET, HEAD, 304, gzip and anonymous requests the table answers are what ASGI answers."""

    async def body(h: Harness, table: Table) -> None:
        user = _bearer("table-user")
        etag = dict((await table.warmed(user))[1])["etag"]
        for headers, method in [
            (user, "GET"),
            (user, "HEAD"),
            ({**user, "if-none-match": etag}, "GET"),
            ({**user, "accept-encoding": "gzip"}, "GET"),
            ({**user, "accept-encoding": "gzip;q=0, identity;q=0"}, "GET"),
            ({}, "GET"),
        ]:
            expected = await h.asgi(headers, "", method)
            protocol = Protocol()
            await h.rsgi.__rsgi__(Scope(method, HOME, "", headers), protocol)
            await h.rsgi.__rsgi__(Scope(method, HOME, "", headers), protocol)
            asked = table.asked
            await h.rsgi.__rsgi__(Scope(method, HOME, "", headers), protocol)
            assert table.asked == asked, headers
            assert protocol.answers[-1] == expected, headers

    run_table(tmp_path, monkeypatch, body)


async def _other_replica(directory: Path, act: Callable[[Any], Awaitable[object]]) -> None:
    """`act` on another replica's store (the same SQLite file)."""
    other = open_store("", directory)
    await other.open()
    try:
        await act(other)
    finally:
        await other.close()


async def _publish_home(store: Any, changed: Template) -> None:
    """`changed` published in `store` as home's new version (by eve, its title edited)."""
    await store.templates.publish(
        "home", template_version(changed), template_to_json(changed), "eve", "title", time.time()
    )


def test_a_publish_on_another_replica_is_served_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another replica publishes home anew: the next request (its invalidation polled) gets
    the new version, never the table's answer of the old one."""

    async def body(h: Harness, table: Table) -> None:
        user = _bearer("publish-seen")
        old = await table.warmed(user)
        changed = msgspec.structs.replace(
            h.edge.service.live.page("home").template, title="Home, republished"
        )
        await _other_replica(tmp_path, lambda store: _publish_home(store, changed))
        new = await table.not_from_table(h, user)
        version = f'"template_version":"{template_version(changed)}"'.encode()
        assert new[0] == 200 and version in new[2] and version not in old[2]
        assert new == await h.asgi(user)
        await h.rsgi_get(user)  # warm again (`LayoutApp.known`), then kept
        assert await table.from_table(h, user) == new

    run_table(tmp_path, monkeypatch, body, poll_interval=0.0)


def test_a_page_reload_finishing_bumps_the_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A publish written to the store while this process reloads nothing yet (no invalidation
    heard): the reload that then runs (readiness, a resubscription) replaces the page, and
    the table's answer made before it is not used after it."""

    async def body(h: Harness, table: Table) -> None:
        user = _bearer("reload-seen")
        old = await table.warmed(user)
        live = h.edge.service.live
        changed = msgspec.structs.replace(live.page("home").template, title="Home, reloaded")
        store: Any = h.edge.service.store  # SQLite: its listeners silenced below
        monkeypatch.setattr(store.db.listeners, "emit", lambda *a, **k: None)  # unheard
        await _publish_home(store, changed)
        assert await table.from_table(h, user) == old  # nothing told this process yet
        await live.reload_page("home")
        new = await table.not_from_table(h, user)
        assert f'"template_version":"{template_version(changed)}"'.encode() in new[2]

    run_table(tmp_path, monkeypatch, body)


@pytest.mark.parametrize("elsewhere", [False, True], ids=["here", "another-replica"])
def test_a_revocation_refuses_a_token_the_table_holds_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, elsewhere: bool
) -> None:
    """A revocation applied here, or written by another replica (its invalidation polled at
    once): the next request is refused, never answered from the table."""
    subject = "revoked-elsewhere" if elsewhere else "revoked-in-table"

    async def body(h: Harness, table: Table) -> None:
        user = _bearer(subject)
        await table.warmed(user)
        revocation = _revocation(subject)
        if elsewhere:
            await _other_replica(tmp_path, lambda store: store.revocations.revoke(revocation))
        else:
            h.edge.service.revocations.apply(revocation)
        await table.refused(user, "token_revoked")

    overrides: dict[str, object] = {"poll_interval": 0.0} if elsewhere else {}
    run_table(tmp_path, monkeypatch, body, **overrides)


def test_a_user_changed_on_another_replica_is_served_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another replica switches the user's elderly mode on (a user invalidation): that user's
    next answer is the elderly layout; another user's table answer stays in use."""

    async def body(h: Harness, table: Table) -> None:
        user, bystander = _bearer("changed-elsewhere"), _bearer("bystander")
        old = await table.warmed(user)
        await table.warmed(bystander)
        elderly = Settings(elderly_mode="on")
        await _other_replica(
            tmp_path, lambda store: store.users.put_settings("changed-elsewhere", elderly)
        )
        new = await table.not_from_table(h, user)
        assert new[0] == 200 and new[2] != old[2] and new == await h.asgi(user)
        assert (await table.from_table(h, bystander))[0] == 200

    run_table(tmp_path, monkeypatch, body, poll_interval=0.0)


def test_a_settings_change_and_an_erasure_here_are_served_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(h: Harness, table: Table) -> None:
        user = _bearer("changed-here")
        standard = await table.warmed(user)
        users = h.edge.service.store.users
        await users.put_settings("changed-here", Settings(elderly_mode="on"))
        elderly = await table.not_from_table(h, user)
        assert elderly[2] != standard[2] and elderly == await h.asgi(user)
        await h.rsgi_get(user)
        assert await table.from_table(h, user) == elderly
        await users.erase_user("changed-here")
        erased = await table.not_from_table(h, user)
        assert erased[2] == standard[2]

    run_table(tmp_path, monkeypatch, body)


def test_an_expired_token_is_refused_though_the_table_holds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(h: Harness, table: Table) -> None:
        user = _bearer("expires-in-table", ttl=60)
        await table.warmed(user)
        later = time.time() + 60 + 61  # past `exp` and the 60 s leeway
        monkeypatch.setattr(time, "time", lambda: later)
        await table.refused(user, "token_expired")

    run_table(tmp_path, monkeypatch, body)


def test_the_day_change_is_not_answered_from_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The serving clock (`serving.layouts.time`, as `test_segments_and_scenes` moves it) a day
    on: the launch is planned and recorded for the new day, not answered from yesterday's."""

    async def body(h: Harness, table: Table) -> None:
        user = _bearer("next-day")
        await table.warmed(user)
        memo = h.edge.service.cache.requests
        (key,) = [k for k in memo if k[0] == "next-day"]
        day = memo[key].day
        tomorrow = (day + 1) * 86_400 + 1.0
        clock = types.SimpleNamespace(time=lambda: tomorrow)
        monkeypatch.setattr(serving_layouts, "time", clock)
        assert (await table.not_from_table(h, user))[0] == 200
        assert memo[key].day == day + 1
        await h.rsgi_get(user)
        assert (await table.from_table(h, user))[0] == 200

    run_table(tmp_path, monkeypatch, body)


def test_the_table_stays_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At most `KNOWN_MAX` entries (first in, first out), none keyed by more than
    `KNOWN_KEY_MAX` characters of query and Authorization; what is not kept is still answered
    warm (`LayoutApp.known`), the same bytes."""

    async def body(h: Harness, table: Table) -> None:
        h.rsgi._known = BoundedDict(3)
        user = _bearer("bounded")
        queries = [f"font_px={px}" for px in range(14, 20)]
        for query in queries:
            for _ in range(3):
                assert (await h.rsgi_get(user, query))[0] == 200
            assert len(h.rsgi._known) <= 3
        assert [key[1] for key in h.rsgi._known] == queries[-3:]
        long_query = "device=tablet&dark=1"
        monkeypatch.setattr(rsgi, "KNOWN_KEY_MAX", len(long_query) + len(user["authorization"]) - 1)
        expected = await h.asgi(user, long_query)
        for _ in range(3):
            assert await table.not_from_table(h, user, long_query) == expected
        assert all(key[1] != long_query for key in h.rsgi._known)

    run_table(tmp_path, monkeypatch, body)


def test_the_table_keeps_no_entry_the_memo_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table entry refers to its memo entry weakly: once the memo drops it (a profile evicted
    or changed), the entry and its body are freed though the table still holds the key, and the
    next request is answered by the full path, the same bytes."""

    async def body(h: Harness, table: Table) -> None:
        user = _bearer("dropped")
        first = await table.warmed(user)
        (known,) = [k for r, k in h.rsgi._known.items() if r[2] == user["authorization"]]
        assert known.memo() is not None
        h.edge.service.cache.requests.drop_user("dropped")
        gc.collect()
        assert known.memo() is None
        assert await table.not_from_table(h, user) == first
        await h.rsgi_get(user)
        assert await table.from_table(h, user) == first

    run_table(tmp_path, monkeypatch, body)

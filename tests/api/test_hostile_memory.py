"""Memory under hostile traffic: what a URL or a header can make the
server keep. Every cache on the layout path is keyed by what the request means (the parsed
context, the parsed Accept-Encoding), never by its raw bytes, and keeps only short values.

Counts and key sizes are asserted here; the RSS a worker reaches under 30 s of such traffic is
measured by the load test (`loadtests/`), never by a unit test.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import make_app, token
from uiserver.datastructures import BoundedDict
from uiserver.http.layouts import LayoutApp
from uiserver.serving.cache import RequestMemo
from uiserver.serving.context import ContextMemo, context_key, parse_context

REQUESTS = 10_000
PAD = "p" * 8192


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, LayoutApp]]:
    app = make_app(tmp_path)
    assert isinstance(app, LayoutApp)
    with TestClient(app) as client:
        yield client, app


async def _get(app: LayoutApp, query: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    """One GET through the ASGI app itself (TestClient's per-request cost would make 10,000
    requests take a minute); returns the status."""
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/v1/layouts/home",
        "raw_path": b"",
        "query_string": query,
        "headers": headers,
        "http_version": "1.1",
        "scheme": "http",
        "server": ("test", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def test_unique_junk_parameters_leave_every_memo_bounded(
    served: tuple[TestClient, LayoutApp],
) -> None:
    """The issue's traffic: anonymous `?utm=<unique>&pad=<8 KB>`, and a signed-in user's
    `?utm=<unique>` (short, so the query memo may keep it), plus unique Accept-Encoding junk."""
    client, app = served
    service = app.service
    user = f"Bearer {token('hostile')}".encode()

    async def flood() -> list[int]:
        statuses = []
        for i in range(REQUESTS):
            statuses.append(await _get(app, f"utm={i}&pad={PAD}".encode(), []))
            statuses.append(
                await _get(
                    app,
                    f"utm={i}&device=tablet".encode(),
                    [(b"authorization", user), (b"accept-encoding", f"gzip;junk={i}".encode())],
                )
            )
        return statuses

    statuses = client.portal.call(flood)  # type: ignore[union-attr]
    assert set(statuses) == {200}
    memo = service.cache.requests
    # Two contexts (default, tablet) for two callers: two memo entries, whatever the URLs.
    assert len(memo) == 2, len(memo)
    assert {key[2] for key in memo} == {
        context_key(parse_context(b"")),
        context_key(parse_context(b"device=tablet")),
    }
    assert max(len(key[2]) for key in memo) < 256
    contexts = app._contexts
    assert len(contexts) <= contexts.maxsize
    assert all(len(query) <= contexts.max_query_bytes for query in contexts)  # no 8 KB pads
    assert len(app._encodings) <= 256
    assert service.server.stats["renders"] <= 2  # junk never made the server render again


def test_the_memo_key_ignores_unknown_parameters_order_and_spelling(
    served: tuple[TestClient, LayoutApp],
) -> None:
    client, app = served
    queries = [
        "device=tablet&dark=1",
        "dark=true&device=tablet",
        "utm=x&device=tablet&dark=1",
        "device=tablet&fbclid=abc&dark=1&_=12345",
        f"dark=1&device=tablet&pad={PAD}",
    ]
    etags = {client.get(f"/v1/layouts/home?{q}").headers["etag"] for q in queries}
    assert len(etags) == 1
    assert len(app.service.cache.requests) == 1
    keys = {context_key(parse_context(q.encode())) for q in queries}
    assert len(keys) == 1
    assert context_key(parse_context(b"device=phone")) == context_key(parse_context(b""))


def test_the_context_memo_is_bounded_by_count_and_size() -> None:
    memo = ContextMemo(maxsize=100, max_query_bytes=64)
    for i in range(1000):
        memo.parse(f"utm={i}".encode())
        memo.parse(f"utm={i}&pad={PAD}".encode())
        memo.parse(f"width=x{i}".encode())  # errors are bounded too
    assert len(memo) == 100
    assert all(len(query) <= 64 for query in memo)
    error = memo.parse(b"width=abc")
    assert not isinstance(error, tuple) and error.__traceback__ is None


# --------------------------------------------------------------------------- BoundedDict


def test_bounded_dict_evicts_the_oldest_present_key() -> None:
    d: BoundedDict[int, int] = BoundedDict(3)
    for i in range(3):
        d[i] = i
    del d[0]  # a deletion other than eviction leaves a stale key in the order
    d[3] = 3
    d[4] = 4  # full: 1 is the oldest still present
    assert list(d) == [2, 3, 4]
    d[2] = 20  # an update keeps its place
    d[5] = 5
    assert list(d) == [3, 4, 5]


def test_bounded_dict_order_stays_bounded_under_delete_and_reinsert() -> None:
    d: BoundedDict[int, int] = BoundedDict(100)
    for round_ in range(1000):
        for i in range(50):
            d[i] = round_
        for i in range(50):
            del d[i]
    assert len(d._order) <= 2 * d.maxsize + 16
    d.clear()
    assert len(d) == 0 and len(d._order) == 0


def test_bounded_dict_order_follows_the_live_keys_not_the_bound() -> None:
    """A large bound with few live keys (a memo whose users' profiles keep being dropped) keeps
    no more than about as many dead keys as live ones, not up to twice the bound."""
    d: BoundedDict[str, int] = BoundedDict(100_000)
    for round_ in range(200):
        for i in range(500):
            d[f"user-{round_}-{i}"] = i
            assert len(d._order) <= 2 * len(d) + 16  # checked as each key goes in
        for i in range(450):
            del d[f"user-{round_}-{i}"]
    assert len(d) == 200 * 50
    assert set(d) <= set(d._order)


def test_bounded_dict_fifo_at_100k_keeps_exactly_the_newest() -> None:
    d: BoundedDict[int, int] = BoundedDict(100_000)
    for i in range(300_000):
        d[i] = i
    assert len(d) == 100_000 and min(d) == 200_000 and len(d._order) == 100_000


def test_request_memo_index_follows_evictions() -> None:
    memo = RequestMemo(4)
    entry: Any = object()
    for i in range(10):
        memo[(f"u{i % 3}", "home", b"k%d" % i)] = entry
    assert len(memo) == 4
    indexed = {key for keys in memo._by_user.values() for key in keys}
    assert indexed == set(memo)
    memo.drop_user("u0")
    assert all(key[0] != "u0" for key in memo)
    memo[("u9", "home", b"k")] = entry
    assert len(memo) <= 4

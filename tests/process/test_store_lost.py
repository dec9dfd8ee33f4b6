"""A Redis that comes back empty has lost the templates: `/readyz` says not ready (naming the
pages) until they are back in the store, and the process puts them back itself from the
versions it serves (the last-known-good), as soon as Redis takes writes. Real redis-server
(no persistence), real `uiserver serve`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
import redis

from tests.helpers.processes import ServeProcess, eventually
from tests.helpers.redis import RedisServer
from uiserver.store.base import TemplateRecord

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def server_on_volatile_redis(
    redis_factory: Callable[..., RedisServer], tmp_path: Path
) -> Iterator[tuple[RedisServer, httpx.Client]]:
    server = redis_factory()  # no persistence: a restart comes back empty
    serve = ServeProcess(tmp_path / "uiserver", server.url).start()
    try:
        serve.wait_ready()
        with serve.client() as client:
            yield server, client
    finally:
        serve.stop()


def test_templates_lost_with_redis_make_it_unready_until_republished(
    server_on_volatile_redis: tuple[RedisServer, httpx.Client],
) -> None:
    server, http = server_on_volatile_redis
    served = http.get("/v1/layouts/home").json()["template_version"]

    # Redis restarts empty and, for now, refuses writes (no replica for min-replicas-to-write):
    # the templates cannot be put back yet.
    server.stop()
    server.extra = ["--min-replicas-to-write", "1"]
    server.start()

    def lost() -> bool:
        body = http.get("/readyz").json()
        return body["store"] is True and "home" in body["templates_lost"]

    eventually(lost, "/readyz names the lost templates")
    ready = http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["ready"] is False
    assert http.get("/v1/layouts/home").json()["template_version"] == served  # still served

    with redis.Redis(port=server.port) as client:
        assert client.hget("uiserver:live", "home") is None
        client.config_set("min-replicas-to-write", 0)  # writes accepted again
        eventually(lambda: http.get("/readyz").status_code == 200, "ready once republished")
        assert http.get("/readyz").json()["templates_lost"] == []
        raw = client.hget("uiserver:live", "home")
    assert raw is not None
    assert msgspec.msgpack.decode(raw, type=TemplateRecord).version == served
    assert http.get("/v1/layouts/home").json()["template_version"] == served


def test_templates_flushed_while_connected_are_noticed_by_the_probe(
    server_on_volatile_redis: tuple[RedisServer, httpx.Client],
) -> None:
    """FLUSHALL on the connected Redis (no restart, so no reconnect and no resubscription):
    before, nothing reloaded the pages, /readyz said ready for ever and the store kept no
    template (a replica started next would serve nothing). Now the probe sees them lost,
    names them while Redis refuses writes, and republishes them once it takes writes."""
    server, http = server_on_volatile_redis
    served = http.get("/v1/layouts/home").json()["template_version"]
    with redis.Redis(port=server.port) as client:
        client.flushall()  # then writes refused, so the lost pages can be seen before repair
        client.config_set("min-replicas-to-write", 1)

        def lost() -> bool:
            body = http.get("/readyz").json()
            return body["store"] is True and "home" in body["templates_lost"]

        eventually(lost, "/readyz names the flushed templates")
        assert http.get("/readyz").status_code == 503
        assert http.get("/v1/layouts/home").json()["template_version"] == served
        client.config_set("min-replicas-to-write", 0)
        eventually(lambda: http.get("/readyz").status_code == 200, "ready once republished")
        raw = client.hget("uiserver:live", "home")
    assert raw is not None
    assert msgspec.msgpack.decode(raw, type=TemplateRecord).version == served

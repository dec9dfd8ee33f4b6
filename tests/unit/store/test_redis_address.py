"""`--store` URLs of the Redis store: one server, Sentinel, Cluster; malformed ones refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from uiserver.store.factory import open_store
from uiserver.store.redis.address import Address, is_redis_url, parse
from uiserver.store.redis.store import RedisStore


def test_a_single_server_url_passes_through_without_the_wait_options() -> None:
    assert parse("redis://127.0.0.1:6379/2") == Address("single", url="redis://127.0.0.1:6379/2")
    parsed = parse("redis://h:1/0?wait_replicas=2&wait_timeout_ms=250&health_check_interval=3")
    assert parsed == Address("single", url="redis://h:1/0?health_check_interval=3", wait=(2, 250))
    assert parse("unix:///run/redis.sock?db=1").url == "unix:///run/redis.sock?db=1"


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_db() -> None:
    parsed = parse("redis+sentinel://s1:26380,s2,[::1]:26381/uiserver/3")
    assert parsed == Address(
        "sentinel",
        nodes=(("s1", 26380), ("s2", 26379), ("::1", 26381)),
        service="uiserver",
        db=3,
        wait=(1, 1000),  # durable writes wait for one replica by default
    )
    assert parse("redis+sentinel://s1/svc").db == 0
    assert parse("redis+sentinel://s1/svc?wait_replicas=0").wait == (0, 1000)


def test_a_cluster_url_names_its_nodes() -> None:
    parsed = parse("redis-cluster://n1:7000,n2:7001")
    assert parsed == Address("cluster", nodes=(("n1", 7000), ("n2", 7001)))
    with pytest.raises(ValueError, match="not supported on a cluster"):
        parse("redis-cluster://n1?wait_replicas=1&wait_timeout_ms=100")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+sentinel://s1:26379", "service/db"),
        ("redis+sentinel://s1:26379/a/b/c", "service/db"),
        ("redis+sentinel://s1:26379/svc/x", "db must be"),
        ("redis+sentinel:///svc/0", "no host"),
        ("redis+sentinel://:26379/svc/0", "without a host"),
        ("redis-cluster://n1:70000", "port must be"),
        ("redis-cluster://n1:7000/2", "only database 0"),
        ("redis://h/0?wait_timeout_ms=0", "wait_timeout_ms must be"),  # WAIT n 0 blocks forever
        ("redis://h/0?wait_replicas=-1", "wait_replicas must be"),
        ("redis://h/0?wait_timeout_ms=99999", "wait_timeout_ms must be"),
        ("memcached://h", "unknown store"),
    ],
)
def test_malformed_urls_are_refused_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(url)


def test_the_factory_opens_every_redis_scheme(tmp_path: Path) -> None:
    for url in ("redis://127.0.0.1:1/0", "redis+sentinel://127.0.0.1:1/svc/0"):
        assert is_redis_url(url)
        assert isinstance(open_store(url, tmp_path), RedisStore)
    assert not is_redis_url("redisx://h") and not is_redis_url("redis")
    with pytest.raises(ValueError, match=r"redis\+sentinel"):
        open_store("postgres://x", tmp_path)

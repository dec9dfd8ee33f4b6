"""Where the Redis store's Redis is: one server, a Sentinel-watched primary, or a Cluster.

`--store` URLs (README, "Configuration"; DEPLOY.md, "Redis Sentinel" and "Redis Cluster"):

  redis://host:port/db, rediss://..., unix://...    one server (redis-py's `from_url`)
  redis+sentinel://h1:p1,h2:p2,h3:p3/service/db      the primary Sentinel names `service`
  redis-cluster://h1:p1,h2:p2,...                    a Redis Cluster (any reachable nodes)

Each may end in `?wait_replicas=N&wait_timeout_ms=T`: the writes that must survive a failover
(template writes and erasure, `durable`) then wait, with Redis's `WAIT N T`, until N replicas
have them. Defaults: 1 replica within 1000 ms for Sentinel (a failover promotes a replica, so
what no replica had is lost), none for one server. Other query options of a `redis://` URL are
redis-py's own and pass through.

Errors: ValueError naming what is wrong (no hosts, a bad port, no service name, a bad number).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

SENTINEL_SCHEME = "redis+sentinel"
CLUSTER_SCHEME = "redis-cluster"
SINGLE_SCHEMES = ("redis", "rediss", "unix")
SCHEMES = (*SINGLE_SCHEMES, SENTINEL_SCHEME, CLUSTER_SCHEME)
SENTINEL_WAIT = (1, 1000)  # (replicas, ms): what a Sentinel store waits for by default
MAX_WAIT_MS = 10_000  # a durable write never waits longer than this for its replicas

Kind = Literal["single", "sentinel", "cluster"]


@dataclass(frozen=True, slots=True)
class Address:
    """A parsed `--store` URL. `url`: redis-py's URL (single server, wait options removed);
    `nodes`: (host, port) of the sentinels or cluster nodes; `service`, `db`: the Sentinel
    service name and database; `wait`: (replicas, timeout ms) for durable writes."""

    kind: Kind
    url: str = ""
    nodes: tuple[tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    wait: tuple[int, int] = (0, 0)


def is_redis_url(url: str) -> bool:
    """Whether `url` names a Redis store (any of `SCHEMES`)."""
    return url.partition("://")[0] in SCHEMES and "://" in url


def parse(url: str) -> Address:
    """The address a `--store` URL names; ValueError when it is malformed."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    wait = _wait(query, SENTINEL_WAIT if parts.scheme == SENTINEL_SCHEME else (0, 0))
    if parts.scheme in SINGLE_SCHEMES:
        base = url.partition("?")[0]
        return Address("single", url=f"{base}?{urlencode(query)}" if query else base, wait=wait)
    nodes = _nodes(parts.netloc, url)
    if parts.scheme == SENTINEL_SCHEME:
        segments = [s for s in parts.path.split("/") if s]
        if not segments or len(segments) > 2:
            raise ValueError(f"{url!r}: expected redis+sentinel://host:port,.../service/db")
        db = _number(segments[1], "db") if len(segments) == 2 else 0
        return Address("sentinel", nodes=nodes, service=segments[0], db=db, wait=wait)
    if parts.scheme == CLUSTER_SCHEME:
        if parts.path not in ("", "/", "/0"):
            raise ValueError(f"{url!r}: a cluster has only database 0")
        if wait[0]:
            raise ValueError(f"{url!r}: wait_replicas is not supported on a cluster yet")
        return Address("cluster", nodes=nodes, wait=wait)
    raise ValueError(f"unknown store {url!r}: expected one of {', '.join(SCHEMES)}")


def _nodes(netloc: str, url: str) -> tuple[tuple[str, int], ...]:
    """`h1:p1,h2:p2` as (host, port) pairs; the port defaults to 26379 (sentinel) or 6379."""
    default = 26379 if url.startswith(SENTINEL_SCHEME) else 6379
    out = []
    for item in filter(None, netloc.split(",")):
        host, colon, port = item.rpartition(":")
        if not colon:
            host, port = item, str(default)
        host = host.strip("[]")
        if not host:
            raise ValueError(f"{url!r}: a node without a host")
        out.append((host, _number(port, "port", 1, 65535)))
    if not out:
        raise ValueError(f"{url!r}: no host:port given")
    return tuple(out)


def _wait(query: dict[str, str], default: tuple[int, int]) -> tuple[int, int]:
    """(replicas, timeout ms) from the query (removed from it), else `default`."""
    replicas = query.pop("wait_replicas", None)
    timeout = query.pop("wait_timeout_ms", None)
    return (
        default[0] if replicas is None else _number(replicas, "wait_replicas", 0, 100),
        # never 0: `WAIT n 0` blocks until n replicas answer, however long that takes
        default[1] if timeout is None else _number(timeout, "wait_timeout_ms", 1, MAX_WAIT_MS),
    )


def _number(text: str, name: str, low: int = 0, high: int = 1 << 31) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not {text!r}")
    return int(text)

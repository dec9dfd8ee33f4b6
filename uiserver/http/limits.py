"""What one server process allows a connection: header size and count, how long it may take to
send its headers, how long it may idle between requests, and how many connections it may hold.

`uiserver serve` puts these in `UISERVER_*` variables (like every other option), so each worker
reads the same `ConnectionLimits.from_env()`; uvicorn applies them through
`uvicorn_protocol.LimitedHttpToolsProtocol`, granian through its own HTTP/1 settings
(`commands/serve.py`). The numbers and why, and what nginx adds in front: docs/DEPLOY.md
"Connections an attacker holds open".
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from uiserver.http.errors import error_body

# Header bytes per request (request line included). 16 KiB is h11's default
# (`max_incomplete_event_size`) and 2x nginx's default single header buffer
# (`large_client_header_buffers 4 8k`); a launch sends ~1 KB, a console request with its
# cookies ~2 KB. Every open connection may hold this much, so it bounds memory per connection.
MAX_HEADER_BYTES = 16 * 1024
# Header fields per request: hyper's (granian's) fixed limit is 100 too.
MAX_HEADERS = 100
# Seconds from connecting (or from the previous response) to a request's last header byte:
# a slowloris client sending one line every 3 s is cut after this (nginx's
# `client_header_timeout` default is 60 s; Go's guidance and common hardening use 5-10 s).
HEADER_TIMEOUT = 10.0
# Seconds allowed between two reads of a request body (nginx's `client_body_timeout`, 60 s by
# default): a client that sends its headers and then trickles, or stops sending, its body is
# answered 408 and closed instead of holding a connection that is never evicted.
BODY_TIMEOUT = 10.0
# Seconds an idle keep-alive connection is kept (uvicorn's default; the nginx upstream
# `keepalive_timeout 4s` in docs/DEPLOY.md is set below it).
KEEPALIVE_TIMEOUT = 5
# Listen backlog: connections the kernel queues before accept (capped by net.core.somaxconn).
BACKLOG = 2048
# Connections per worker when not set: enough for the 5,000 idle + 3,000 slow with room
# to spare, and a memory bound: each may hold up to `max_header_bytes` of unfinished headers plus
# ~5 KB of protocol state, so 16,384 x 21 KB = ~340 MB at worst. The open-files limit (less
# FD_RESERVE) caps it further; systemd's default hard limit (524,288) would otherwise allow 10 GB.
DEFAULT_MAX_CONNECTIONS = 16_384
# File descriptors a worker keeps for everything but client connections: the listening socket,
# SQLite's database, WAL and shm files, Redis connections, logs, the event loop's own.
FD_RESERVE = 64


@dataclass(frozen=True)
class ConnectionLimits:
    """Per worker process. `max_connections` 0 means `DEFAULT_MAX_CONNECTIONS`; either way
    never above what the open-files limit allows (`connection_cap`)."""

    max_header_bytes: int = MAX_HEADER_BYTES
    max_headers: int = MAX_HEADERS
    header_timeout: float = HEADER_TIMEOUT
    body_timeout: float = BODY_TIMEOUT
    keepalive_timeout: int = KEEPALIVE_TIMEOUT
    max_connections: int = 0
    backlog: int = BACKLOG

    @classmethod
    def from_env(cls) -> ConnectionLimits:
        """`UISERVER_MAX_HEADER_BYTES`, `_MAX_HEADERS`, `_HEADER_TIMEOUT`, `_BODY_TIMEOUT`,
        `_KEEPALIVE_TIMEOUT` (seconds), `_MAX_CONNECTIONS`, `_BACKLOG`; defaults above.
        Raises ValueError for a value that is not a positive number."""
        env = os.environ
        limits = cls(
            max_header_bytes=int(env.get("UISERVER_MAX_HEADER_BYTES", MAX_HEADER_BYTES)),
            max_headers=int(env.get("UISERVER_MAX_HEADERS", MAX_HEADERS)),
            header_timeout=float(env.get("UISERVER_HEADER_TIMEOUT", HEADER_TIMEOUT)),
            body_timeout=float(env.get("UISERVER_BODY_TIMEOUT", BODY_TIMEOUT)),
            keepalive_timeout=int(env.get("UISERVER_KEEPALIVE_TIMEOUT", KEEPALIVE_TIMEOUT)),
            max_connections=int(env.get("UISERVER_MAX_CONNECTIONS", 0)),
            backlog=int(env.get("UISERVER_BACKLOG", BACKLOG)),
        )
        limits.check()
        return limits

    def check(self) -> None:
        """Raises ValueError naming the first setting out of range."""
        if self.max_header_bytes < 1024:
            raise ValueError("max header bytes must be at least 1024")
        if self.max_headers < 1:
            raise ValueError("max headers must be at least 1")
        if self.header_timeout <= 0 or self.body_timeout <= 0 or self.keepalive_timeout < 1:
            raise ValueError("header, body and keep-alive timeouts must be positive (seconds)")
        if self.max_connections < 0 or self.backlog < 1:
            raise ValueError("max connections must be >= 0 (0: the default)")

    def connections(self) -> int:
        """The connections one worker may hold: `max_connections` (0: the default), never
        more than the open-files limit allows (`connection_cap`)."""
        return min(self.max_connections or DEFAULT_MAX_CONNECTIONS, connection_cap())


def connection_cap(reserve: int = FD_RESERVE) -> int:
    """The soft RLIMIT_NOFILE of this process less `reserve` (at least 1): past it, accept()
    fails with EMFILE and the event loop stops accepting everyone for a while."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1_000_000
    return max(1, soft - reserve)


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit (allowed without privileges; workers
    inherit it). Returns (before, after); after == before when it could not be raised."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= soft:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, hard


class HeaderCountLimit:
    """ASGI middleware: a JSON 431 (RFC 6585 section 5) with `Connection: close` for a request
    with more than `most` header fields. For granian, whose own limit is hyper's fixed 100;
    uvicorn counts in its protocol (`LimitedHttpToolsProtocol`)."""

    def __init__(self, app: ASGIApp, most: int) -> None:
        self.app = app
        self.most = most

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and len(scope["headers"]) > self.most:
            body = error_body("headers_too_large", "the request's headers are too many")
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            await send({"type": "http.response.start", "status": 431, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

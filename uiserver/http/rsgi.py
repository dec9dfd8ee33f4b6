"""The app on granian's RSGI interface: layouts and event batches answered natively, everything
else in ASGI.

RSGI (granian's own interface, docs/spec/RSGI.md in granian) hands the app a scope object and
a protocol it answers with one call (`response_bytes`); no per-message dicts or awaited
`send`s. On a warm layout GET that is most of what an ASGI server costs (issue 26: a raw RSGI
app serves the same bytes 1.2x faster than a raw ASGI one on granian). So:

- `GET`/`HEAD /v1/layouts/{page}` is answered here by `LayoutApp.answer`, the same code the
  ASGI entry point calls: the same bytes, headers, ETag/304 and JSON errors. The header-count
  limit (`http/limits.py`, `UISERVER_MAX_HEADERS` below granian's fixed 100) is checked first.
  A warm request (a token verified before, a query parsed before, the request memo valid:
  `LayoutApp.known`) awaits nothing and is answered with the text headers made once for its
  cached body (`LayoutApp.ready`); both paths answer from the same `Ready` objects.
- A warm answer is kept in a table by the request's inputs (path, query string,
  Authorization: `_known`), so the next identical request is one lookup and a few checks
  instead of the token, revocation, query and memo checks (issue 26: 29,744 -> 20,122
  instructions a warm GET in `loadtests/warm_path.py`). An entry is used only while
  `Service.generation` is unchanged (bumped by every invalidation but a user's, every page
  reload, every revocation applied), its memo entry and profile are still the current
  objects (a user's change drops them), its day is still `today()` and its token not
  expired (`exp` + leeway against the clock); X-UI-Capabilities, If-None-Match,
  Accept-Encoding and HEAD are read from each request as before.
- `POST /v1/me/events` (one per launch, the most frequent write) is answered here by
  `me.answer_events`, the function the ASGI route calls: the same limits, auth, decoding,
  errors and 202 body, counted in the same metrics (`RSGIApp._events`). Through the bridge a
  batch cost more server CPU on granian than on uvicorn (docs/BENCHMARKS.md, "Issue 25").
- Every other request goes to the ASGI app through `ASGIBridge`: an ASGI scope built from the
  RSGI one, `receive` reading the body as it streams, `send` answering in one call or
  streaming. The lifespan (store open and close) runs in `__rsgi_init__`/`__rsgi_del__`.

Response header values go out as the bytes the app sent, as an ASGI server sends them:
granian's RSGI takes them as text and writes that text's UTF-8, so each value is handed over
as its bytes read as UTF-8 (exact for ASCII and for UTF-8, e.g. an RFC 5987/6266 filename or a
UTF-8 value from the console). A value that is not UTF-8 (a lone latin-1 byte, which no text
given to granian writes back) is handed over read as latin-1: the client gets the same
characters in UTF-8 (`café` as C3 A9 instead of E9), the one difference left in what is sent.

Differences from granian's own ASGI interface: request header values that are not visible
ASCII are not passed to the ASGI routes (granian's RSGI headers read them as text and leave
those out; an `Authorization` so sent is passed as `\x00`, a bad token, as the native routes
read it), and `raw_path` is the percent-encoded decoded path. On the layout route such an
`If-None-Match` or `Accept-Encoding` is read as not sent (uvicorn reads it: a 304 or a 406
there can be a 200 here; the body is the same layout), and the header-count limit counts such
fields by name (`header_fields`).
On the layout route, an `X-UI-Capabilities` sent with such a value is a 400 `bad_capabilities`
saying it is not visible ASCII (the ASGI path can quote the value; granian does not pass it on),
never a layout served as if no header had been sent. One case stays unseen: such a field after
a readable `X-UI-Capabilities` field (uvicorn: 400, two different values; here the readable one
is served), since granian's headers show nothing of it (`keys` names the header once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from time import perf_counter
from typing import Any, Protocol
from urllib.parse import quote

from starlette.types import ASGIApp, Message

from uiserver.datastructures import BoundedDict
from uiserver.http.errors import error_body
from uiserver.http.failures import internal_error, request_id
from uiserver.http.layouts import (
    PREFIX,
    REPEATED_CAPABILITY,
    UNREADABLE_CAPABILITY,
    Known,
    LayoutApp,
    text_headers,
)
from uiserver.http.me import EVENTS_PATH, answer_events, post_events
from uiserver.http.negotiation import matching_tag
from uiserver.serving import layouts as serving_layouts
from uiserver.serving.cache import BodyEntry

log = logging.getLogger("uiserver")

HeaderList = list[tuple[str, str]]


class RSGIHeaders(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...
    def items(self) -> list[tuple[str, str]]: ...
    def keys(self) -> list[str]: ...
    def __contains__(self, key: str) -> bool: ...


class RSGIScope(Protocol):
    proto: str
    http_version: str
    client: str
    server: str
    scheme: str
    method: str
    path: str
    query_string: str

    @property
    def headers(self) -> RSGIHeaders: ...


class RSGIProtocol(Protocol):
    def __aiter__(self) -> Any: ...
    async def client_disconnect(self) -> None: ...
    def response_bytes(self, status: int, headers: HeaderList, body: bytes) -> None: ...


_text = text_headers  # ASGI byte pairs as RSGI text (`layouts.text_headers`)
PREFIX_LENGTH = len(PREFIX)
# The table of warm answers: at most this many entries (first in, first out), each keyed by at
# most KNOWN_KEY_MAX characters of query string and Authorization (longer: never kept, asked
# again each time). An entry holds a request memo entry, its profile and body, shared with the
# memo while current: what it can keep alive on its own (stale ones, until asked again or
# pushed out) is bounded by KNOWN_MAX bodies and profiles.
KNOWN_MAX = 8192
KNOWN_KEY_MAX = 2048


def _address(text: str) -> tuple[str, int] | None:
    """`host:port` (IPv6 in brackets) as the ASGI pair; None when it is not one."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def header_fields(headers: RSGIHeaders) -> int:
    """How many header fields a request has, at least, as granian's RSGI headers show them:
    every field `items` gives, plus one for each name `keys` lists that `items` never gives.
    granian leaves a field out of `items` when its value is not visible ASCII (obs-text, RFC
    9110 5.5), yet `keys` still names it; counted by `items` alone, thirty fields `X-<n>: <byte
    E9>` passed `--max-headers 20` (uvicorn's protocol, which sees every field,
    answered 431). Such a field beside a readable one of the same name is still not seen (one
    name counts once): granian gives no count of them, and hyper's own limit (100) holds."""
    items = headers.items()
    shown = {name for name, _ in items}
    names = headers.keys()  # the names, each once (`RSGIHeaders.keys`)
    return len(items) + sum(1 for name in names if name not in shown)


class RSGIApp:
    """`__rsgi__` for granian: layouts and event batches natively, the rest through
    `ASGIBridge` to `asgi`. With fault injection on, event batches take the bridge (its
    middleware raises where asked), and with `native` False (JSON logs or tracing on) every
    request does.

    `layouts` is the app's `LayoutApp` (the edge `create_app` returns); `asgi` is what serves
    everything else, the edge itself wrapped in the server's middleware (forwarded headers).
    `max_headers`: header fields a request may have (431 past it, as `HeaderCountLimit`).
    """

    def __init__(
        self, layouts: LayoutApp, asgi: ASGIApp, max_headers: int = 100, native: bool = True
    ) -> None:
        self.native = native  # False: layouts too go through `asgi` (its middleware wraps them)
        self.layouts = layouts
        self.bridge = ASGIBridge(asgi)
        self.max_headers = max_headers
        self.metrics = layouts.metrics
        self.layout_latency = layouts.metrics.layout_latency
        self.events_latency = layouts.metrics.latency.series(EVENTS_PATH, "POST")
        self.faulty = type(layouts).injected is not LayoutApp.injected
        self._text: dict[int, HeaderList] = {}
        # The table of warm answers (`__rsgi__`): (path, query string, Authorization) -> what
        # the answer rests on (`layouts.Known`), and what each use checks it against.
        self._known: BoundedDict[tuple[str, str, str | None], Known] = BoundedDict(KNOWN_MAX)
        service = layouts.service
        server = service.server
        self._generation = service.generation
        self._poll = service.live.invalidations.poll
        self._memo = service.cache.requests
        self._profiles = service.loader.cache
        self._served = server.served
        self._stats = server.stats

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.bridge.startup())

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.bridge.shutdown())

    async def __rsgi__(self, scope: RSGIScope, protocol: RSGIProtocol) -> None:
        path = scope.path
        method = scope.method
        query = scope.query_string
        if not query.isascii():
            # Raw bytes past ASCII in the request target (RFC 3986 allows none): granian passes
            # them on as UTF-8 text, uvicorn (httptools) refuses the request. Refused here as
            # there, never re-encoded (as latin-1 it raised: a bare 500).
            protocol.response_bytes(*_NOT_HTTP)
            return
        if not self.native or not path.startswith(PREFIX) or method not in ("GET", "HEAD"):
            if path == EVENTS_PATH and method == "POST" and self.native and not self.faulty:
                await self._events(scope, protocol)
            elif self.max_headers < 100 and header_fields(scope.headers) > self.max_headers:
                # As `HeaderCountLimit` answers in the bridge's stack, counting what it cannot
                # see: the fields granian leaves out of the headers it passes (`header_fields`)
                protocol.response_bytes(431, *_TOO_MANY_HEADERS)
            else:
                await self.bridge(scope, protocol)
            return
        started = perf_counter()
        headers = scope.headers
        status = 500
        try:
            if self.max_headers < 100 and header_fields(headers) > self.max_headers:
                status, text, body = 431, *_TOO_MANY_HEADERS
            else:
                # The warm path: a cached body for a known token, answered with the headers
                # made when the body was cached (`LayoutApp.ready`), as `LayoutApp.answer`
                # would; anything else (errors too) is `_layout`. First the table of warm
                # answers by the request's inputs (`_known`), then `LayoutApp.known`'s checks.
                authorization = headers.get("authorization")
                entry = None
                if (
                    not self.faulty
                    and "x-ui-capabilities" not in headers
                    and (authorization is not None or "authorization" not in headers)
                ):
                    request = (path, query, authorization)
                    known = self._known.get(request)
                    if known is not None:
                        self._poll()  # other processes' invalidations (SQLite; rate-limited)
                        memo = known.memo()  # None: the memo dropped it, and it was freed
                        user_id = known.memo_key[0]
                        if (
                            memo is not None
                            and known.generation == self._generation.value
                            and self._memo.get(known.memo_key) is memo
                            and (not user_id or self._profiles.get(user_id) is memo.profile)
                            and memo.day == serving_layouts.today()
                            and time.time() < known.until
                        ):
                            entry = memo.entry
                            self._served[known.live.served_key] += 1
                            self._stats["hits"] += 1
                    if entry is None:
                        known = self.layouts.known(
                            path[PREFIX_LENGTH:], authorization, query.encode("latin-1")
                        )
                        memo = None if known is None else known.memo()
                        if known is not None and memo is not None:
                            entry = memo.entry
                            self._served[known.live.served_key] += 1
                            self._stats["hits"] += 1
                            self._remember(request, known)
                if entry is None:
                    status, answer, body = await self._layout(scope, headers, path)
                    text = _text(answer)
                else:
                    status, text, body = self._warm(entry, headers)
            protocol.response_bytes(status, text, b"" if method == "HEAD" else body)
        finally:
            # By status class, as `LayoutApp.__call__` counts (before, every answer was a 2xx)
            self.layout_latency.observe(perf_counter() - started, status)

    async def _events(self, scope: RSGIScope, protocol: RSGIProtocol) -> None:
        """`POST /v1/me/events` answered by `me.answer_events`, the code the ASGI route runs:
        the same limits, errors and 202 body, counted in the same latency series
        (`uiserver_request_duration_seconds{route="/v1/me/events"}`) and in-flight gauge as
        the ASGI edge counts it (`LayoutApp.__call__`); a bug is the same JSON 500 that closes
        (`failures.internal_error`), logged and counted under the route. The header-count
        limit answers 431 first, uncounted, as `HeaderCountLimit` does before the edge."""
        headers = scope.headers
        if self.max_headers < 100 and header_fields(headers) > self.max_headers:
            protocol.response_bytes(431, *_TOO_MANY_HEADERS)
            return
        started = perf_counter()
        latency = self.metrics.latency
        latency.in_flight += 1
        status = 500
        try:
            authorization = headers.get("authorization")
            if authorization is None and "authorization" in headers:
                authorization = "\x00"  # sent, but not text: a bad token, as ASGI finds it
            layouts = self.layouts
            try:
                status, answer, body = await answer_events(
                    layouts.service,
                    layouts.verifier(),
                    authorization,
                    headers.get("content-length"),
                    protocol.__aiter__(),
                    layouts.body_timeout,
                )
            except Exception as exc:  # a bug: one JSON 500 that closes, logged and counted
                rid = request_id([(b"x-request-id", (headers.get("x-request-id") or "").encode())])
                where = {"path": EVENTS_PATH, "method": "POST", "endpoint": post_events}
                layouts.failures.record(where, exc, STAGE, rid)
                status, answer, body = internal_error(rid)
            protocol.response_bytes(status, _text(answer), body)
        finally:
            latency.in_flight -= 1
            self.events_latency.observe(perf_counter() - started, status)

    def _remember(self, request: tuple[str, str, str | None], known: Known) -> None:
        """Keep a warm answer under the request's inputs (path, query string, Authorization),
        when they are short enough: the table's memory stays bounded (`KNOWN_MAX` entries of at
        most `KNOWN_KEY_MAX` characters of key) whatever the URLs and tokens sent."""
        authorization = request[2]
        if len(request[1]) + (0 if authorization is None else len(authorization)) <= (
            KNOWN_KEY_MAX
        ):
            self._known[request] = known

    def _warm(self, entry: BodyEntry, headers: RSGIHeaders) -> tuple[int, HeaderList, bytes]:
        """`LayoutApp.answer`'s 200, 304 or 406 for a warm body (`LayoutApp.warm`), in text."""
        layouts = self.layouts
        accept_encoding = headers.get("accept-encoding")
        if accept_encoding is None:  # identity: `ready`'s first Ready, once it was made
            ready = entry.ready[0] or layouts.ready(entry, False, None)
        else:
            ready = layouts.ready(entry, False, accept_encoding.encode("latin-1"))
        if ready is None:
            status, answer, body = layouts.not_acceptable()
            return status, _text(answer), body
        if_none_match = headers.get("if-none-match")
        if if_none_match is not None:
            held = matching_tag(if_none_match.encode("latin-1"), ready.etag, ready.other)
            if held is not None:
                layouts.metrics.not_modified.count += 1
                if held is ready.etag:
                    return 304, ready.same_text, b""
                return 304, _text(ready.not_modified(held)), b""
        return 200, ready.ok_text, ready.body

    async def _layout(
        self, scope: RSGIScope, headers: RSGIHeaders, path: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        authorization = headers.get("authorization")
        if authorization is None and "authorization" in headers:
            authorization = "\x00"  # sent, but not text: a bad token, as ASGI would find it
        if_none_match = headers.get("if-none-match")
        accept_encoding = headers.get("accept-encoding")
        query = scope.query_string.encode("latin-1")
        capability = headers.get("x-ui-capabilities")
        if capability is None and "x-ui-capabilities" in headers:
            capability = UNREADABLE_CAPABILITY  # sent, not visible ASCII: a 400 that says so
        elif capability is not None and any(
            name == "x-ui-capabilities" and value != capability for name, value in headers.items()
        ):
            capability = REPEATED_CAPABILITY  # two different values: a 400, as on ASGI
        try:
            if self.faulty:
                self.layouts.injected(headers.get("x-uiserver-fault"), query)
            return await self.layouts.answer(
                path[len(PREFIX) :],
                authorization,
                None if if_none_match is None else if_none_match.encode("latin-1"),
                None if accept_encoding is None else accept_encoding.encode("latin-1"),
                query,
                capability,
            )
        except Exception as exc:  # a bug: one JSON 500 that closes, logged and counted
            rid = request_id([(b"x-request-id", (headers.get("x-request-id") or "").encode())])
            self.layouts.failures.record({"path": path, "method": scope.method}, exc, STAGE, rid)
            return internal_error(rid)


STAGE = "before_response"


_NOT_HTTP_BODY = error_body("bad_request", "the request is not valid HTTP/1.1 (RFC 9112)")
# The 400 uvicorn's protocol answers a request it cannot parse (`uvicorn_protocol.MESSAGES`).
_NOT_HTTP: tuple[int, HeaderList, bytes] = (
    400,
    [
        ("content-type", "application/json"),
        ("content-length", str(len(_NOT_HTTP_BODY))),
        ("connection", "close"),
    ],
    _NOT_HTTP_BODY,
)
_TOO_MANY_BODY = error_body("headers_too_large", "the request's headers are too many")
# The 431 `HeaderCountLimit` answers: (headers, body).
_TOO_MANY_HEADERS = (
    [
        ("content-type", "application/json"),
        ("content-length", str(len(_TOO_MANY_BODY))),
        ("connection", "close"),
    ],
    _TOO_MANY_BODY,
)


class ASGIBridge:
    """An ASGI app served from RSGI calls, and its lifespan."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._lifespan: asyncio.Queue[Message] = asyncio.Queue()
        self._replies: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        """Run the app's lifespan startup; raises RuntimeError if it fails."""
        self._lifespan = asyncio.Queue()
        self._replies = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}

        async def run() -> None:
            await self.app(scope, self._lifespan.get, self._replies.put)

        self._task = asyncio.get_running_loop().create_task(run())
        await self._lifespan.put({"type": "lifespan.startup"})
        reply = await self._reply()
        if reply["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"lifespan startup failed: {reply.get('message', '')}")

    async def shutdown(self) -> None:
        """Run the app's lifespan shutdown (the store closes); logs a failure."""
        if self._task is None:
            return
        await self._lifespan.put({"type": "lifespan.shutdown"})
        reply = await self._reply()
        if reply["type"] != "lifespan.shutdown.complete":
            log.error("lifespan shutdown failed: %s", reply.get("message", ""))
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def _reply(self) -> Message:
        assert self._task is not None
        getting = asyncio.ensure_future(self._replies.get())
        await asyncio.wait({getting, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if getting.done():
            return getting.result()
        getting.cancel()
        error = self._task.exception()
        return {"type": "lifespan.failed", "message": repr(error)}

    async def __call__(self, scope: RSGIScope, protocol: RSGIProtocol) -> None:
        path = scope.path
        headers = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in scope.headers.items()
        ]
        if "authorization" in scope.headers and scope.headers.get("authorization") is None:
            # Sent, but not text (granian leaves such a value out): a bad token, as the native
            # routes and ASGI find it. Left out, the caller was anonymous: a 201 from
            # `POST /v1/capabilities` (README: "a bad token is still 401"), "a bearer token is
            # required" from `/v1/me`.
            headers.append((b"authorization", b"\x00"))
        asgi_scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": scope.http_version,
            "method": scope.method,
            "scheme": scope.scheme,
            "path": path,
            "raw_path": quote(path).encode("ascii"),
            "query_string": scope.query_string.encode("latin-1"),
            "root_path": "",
            "headers": headers,
            "client": _address(scope.client),
            "server": _address(scope.server),
            "state": {},
        }
        exchange = _Exchange(protocol)
        await self.app(asgi_scope, exchange.receive, exchange.send)
        if exchange.finished:
            return
        if exchange.started:  # gave up mid-body (`failures.py`: an error while streaming)
            exchange.cut()
            return
        status, headers, body = internal_error(request_id(asgi_scope["headers"]))
        protocol.response_bytes(status, _text(headers), body)  # returned without answering


class _Exchange:
    """`receive` and `send` of one request over its RSGI protocol.

    A body sent in parts (Starlette's static files) is gathered and answered in one call when
    its last part arrives: once an RSGI stream has started, granian always ends it cleanly, so
    a failure mid-body could only look like a short *complete* body. Gathered, an unfinished
    body is answered (`cut`) with a Content-Length one byte past what the app sent: the client
    sees a truncated response, never a short whole one (what ASGI servers do by aborting).
    """

    __slots__ = ("body", "finished", "parts", "protocol", "read", "started", "status", "text")

    def __init__(self, protocol: RSGIProtocol) -> None:
        self.protocol = protocol
        self.body = protocol.__aiter__()
        self.read = False
        self.started = False
        self.finished = False
        self.status = 200
        self.text: HeaderList = []
        self.parts: list[bytes] = []

    async def receive(self) -> Message:
        if not self.read:
            try:
                chunk = await self.body.__anext__()
            except StopAsyncIteration:
                self.read = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": bytes(chunk), "more_body": True}
        await self.protocol.client_disconnect()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            self.text = _text(message.get("headers", ()))
            self.started = True
            return
        if kind != "http.response.body" or self.finished:
            return
        body = message.get("body", b"")
        if message.get("more_body", False):
            self.parts.append(body)
            return
        self.finished = True
        if self.parts:
            body = b"".join([*self.parts, body])
        self.protocol.response_bytes(self.status, self.text, body)

    def cut(self) -> None:
        """The app stopped mid-body: answer what it sent, announced one byte longer."""
        partial = b"".join(self.parts)
        headers = [
            (k, v) for k, v in self.text if k.lower() not in ("content-length", "connection")
        ]
        headers.append(("content-length", str(len(partial) + 1)))
        # ... and the connection closed after it: kept alive, the client would wait for the
        # missing byte until its own timeout (test_unexpected_errors, granian, was flaky).
        headers.append(("connection", "close"))
        self.protocol.response_bytes(self.status, headers, partial)

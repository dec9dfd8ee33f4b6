"""`GET /v1/layouts/{page}` as pure ASGI: the hot path every launch takes.

Starlette's routing, Request object and middleware stack cost more than the whole budget of a
warm GET (DESIGN section 7), so this handler reads the raw scope: a cached token check, a memo of
parsed query strings, one dict lookup for the body, and preencoded headers. Everything it does
not handle (other methods, other paths) goes to the Starlette app.

Every cache here is keyed by what the request means, never by its raw bytes: the query by its
parsed context (`ContextMemo`, `context_key`), `Accept-Encoding` by its parsed choice
(`EncodingMemo`), and each keeps only short values, so junk parameters or headers cannot grow
memory.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from uiserver.auth import AuthError, TokenVerifier
from uiserver.engine.capability import CapabilityError
from uiserver.engine.check import LayoutRuleError
from uiserver.http.errors import Answer, error_body
from uiserver.http.failures import Failures
from uiserver.http.limits import BODY_TIMEOUT
from uiserver.http.metrics import Metrics
from uiserver.http.negotiation import EncodingMemo, matching_tag
from uiserver.schema import Context
from uiserver.service import Service
from uiserver.serving.cache import GZIP_MIN_BYTES, BodyEntry, RequestEntry, RequestKey
from uiserver.serving.capabilities import UnknownTypes
from uiserver.serving.context import ContextMemo, QueryError
from uiserver.serving.layouts import Served
from uiserver.serving.pages import LivePage, NotDrawable, UnknownPage
from uiserver.store.base import StoreUnavailable
from uiserver.users.ids import shown

PREFIX = "/v1/layouts/"


class LayoutApp:
    """The ASGI entry point: layouts here, everything else to `fallback`. `body_timeout`: the
    app's body timeout (`create_app`), for the RSGI entry's events route (`http/rsgi.py`)."""

    def __init__(
        self,
        service: Service,
        verifier: Callable[[], TokenVerifier | None],
        metrics: Metrics,
        fallback: ASGIApp,
        route_paths: Mapping[Any, str] | None = None,
        failures: Failures | None = None,
        body_timeout: float = BODY_TIMEOUT,
    ) -> None:
        self.service = service
        self.body_timeout = body_timeout  # `--body-timeout`, seconds (`deps.read_stream`)
        self.verifier = verifier
        self.metrics = metrics
        self.fallback = fallback
        self.route_paths = route_paths or {}  # endpoint -> path template (latency labels)
        self.failures = failures or Failures(metrics.unexpected_errors, self.route_paths)
        self._contexts = ContextMemo()
        self._encodings = EncodingMemo()
        cache_control = service.config.cache_control.encode()
        self._common = [
            (b"content-type", b"application/json"),
            (b"cache-control", cache_control),
            (b"vary", b"Authorization, Accept-Encoding, X-UI-Capabilities"),
        ]
        # A degraded answer (store unreachable: the base layout, or templates possibly one
        # version behind) is shown once and never stored: `no-store` keeps the client's stored
        # layout (its own, personalized one, if it has it) in place of the base one, and the
        # next launch asks again. A 304 repeats these headers, as RFC 9110 15.4.5 asks.
        self._degraded = [
            (b"content-type", b"application/json"),
            (b"cache-control", b"no-store"),
            (b"vary", b"Authorization, Accept-Encoding, X-UI-Capabilities"),
            (b"x-uiserver-degraded", b"1"),
        ]
        self._common_text = text_headers(self._common)
        self._degraded_text = text_headers(self._degraded)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.fallback(scope, receive, send)
            return
        started = time.perf_counter()
        latency = self.metrics.latency
        latency.in_flight += 1
        if not scope["path"].startswith(PREFIX) or scope["method"] not in ("GET", "HEAD"):
            answered = [0]

            async def sending(message: Message) -> None:
                if message["type"] == "http.response.start":
                    answered[0] = message["status"]
                await send(message)

            try:
                await self.failures.guard(self.fallback, scope, receive, sending)
            finally:
                latency.in_flight -= 1
                route = self.route_paths.get(scope.get("endpoint"), "other")
                latency.series(route, scope["method"]).observe(
                    time.perf_counter() - started, answered[0]
                )
            return
        status = 500
        try:
            try:
                status, headers, body = await self._layout(scope)
            except Exception as exc:  # a bug: one JSON 500 that closes, logged and counted
                status = 500
                await self.failures.answer(scope, send, exc)
                return
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send(
                {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
            )
        finally:
            latency.in_flight -= 1
            self.metrics.layout_latency.observe(time.perf_counter() - started, status)

    async def _serve(
        self, user_id: str, page: str, key: bytes, context: Context, capability: str | None
    ) -> Served | Answer:
        """The layout for the client's capability (None: every type), or the error answer."""
        can_draw = None
        if capability is not None:
            refused, cap_key, can_draw = await self._drawable(capability)
            if refused is not None:
                return refused
            key = key + b"\x1f" + cap_key.encode()
        try:
            return await self.service.server.layout(user_id, page, key, context, can_draw)
        except UnknownPage:
            return self._error(404, "unknown_page", f"no page {shown(page)}", "page")
        except (NotDrawable, LayoutRuleError) as exc:
            reason = (exc.message if isinstance(exc, NotDrawable) else str(exc))[:300]
            if can_draw is None:
                # Every type drawable, and even the base layout breaks a rule: the live version
                # (stored before the rule, or a catalogue changed under it) needs a designer's
                # fix. Before, the answer blamed "the types this client declared".
                return self._error(
                    406,
                    "not_drawable",
                    f"no layout of {shown(page)} meets the layout rules; a designer must "
                    "publish a fixed version: " + reason,
                    "page",
                )
            return self._error(
                406,
                "not_drawable",
                f"no layout of {shown(page)} can be drawn with the types this client declared: "
                + reason,
                "X-UI-Capabilities",
            )

    async def _drawable(self, raw: str) -> tuple[Answer | None, str, frozenset[str] | None]:
        """(None, the canonical capability, the types this client may be sent), or the error
        answer first:
        400 `bad_capabilities` (malformed), 428 `capabilities_unknown` (a types hash never
        registered: `POST /v1/capabilities`, then ask again), 503 (the store cannot say)."""
        field = "X-UI-Capabilities"
        if raw == UNREADABLE_CAPABILITY:
            message = "not visible ASCII text: send r=MAJOR.MINOR.PATCH;t=<8 lowercase hex digits>"
            return self._error(400, "bad_capabilities", message, field), "", None
        if raw == REPEATED_CAPABILITY:
            message = "sent twice with different values: send one r=MAJOR.MINOR.PATCH[;t=...]"
            return self._error(400, "bad_capabilities", message, field), "", None
        try:
            return None, *await self.service.capabilities.resolve(raw)
        except CapabilityError as exc:
            return self._error(400, "bad_capabilities", exc.message, field), "", None
        except UnknownTypes as exc:
            message = (
                f"types hash {exc.capability.types} is not registered: POST /v1/capabilities "
                '{"renderer", "types"}, then ask again'
            )
            return self._error(428, "capabilities_unknown", message, field), "", None
        except StoreUnavailable:
            return self._error(503, "unavailable", "the store cannot be reached", field), "", None

    def _error(self, status: int, code: str, message: str, field: str | None = None) -> Answer:
        body = error_body(code, message, field)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="uiserver"'))
        return status, headers, body

    async def _layout(self, scope: Scope) -> Answer:
        """The answer to a layout GET or HEAD: (status, headers, body); sent by `__call__`, so
        an error raised here is always answered before anything went out."""
        authorization, if_none_match, accept_encoding, capability = _request_headers(
            scope["headers"]
        )
        return await self.answer(
            scope["path"][len(PREFIX) :],
            authorization,
            if_none_match,
            accept_encoding,
            scope["query_string"],
            capability,
        )

    def injected(self, kind: str | None, query: bytes) -> None:
        """Fault injection's hook for the RSGI entry point (`http/rsgi.py`): nothing here."""

    async def answer(
        self,
        page: str,
        authorization: str | None,
        if_none_match: bytes | None,
        accept_encoding: bytes | None,
        query: bytes,
        capability: str | None = None,
    ) -> Answer:
        """The answer for one layout request, whichever interface (ASGI here, RSGI in
        `http/rsgi.py`) received it: (status, headers, body), headers as ASGI bytes pairs. The
        body of a HEAD is the caller's to drop."""
        user_id = ""
        if authorization:
            verifier = self.verifier()
            if verifier is None:
                return self._error(401, "bad_token", "this server does not accept tokens")
            try:
                user_id = verifier.identify(authorization).user_id
            except AuthError as exc:
                return self._error(401, exc.code, exc.message)
        parsed = self._contexts.get(query)
        if parsed is None:
            parsed = self._contexts.parse(query)
        if isinstance(parsed, QueryError):
            return self._error(400, "bad_query", parsed.message, parsed.field)
        context, key = parsed
        if capability is None and query.find(b"caps=") >= 0:  # the same value as a parameter
            capability = query_capability(query)
        served = await self._serve(user_id, page, key, context, capability)
        if not isinstance(served, Served):
            return served
        ready = self.ready(served.entry, served.degraded, accept_encoding)
        if ready is None:
            return self.not_acceptable()
        if if_none_match is not None:
            held = matching_tag(if_none_match, ready.etag, ready.other)
            if held is not None:
                self.metrics.not_modified.count += 1
                return 304, ready.same if held is ready.etag else ready.not_modified(held), b""
        return 200, ready.ok, ready.body

    def warm(self, page: str, authorization: str | None, query: bytes) -> BodyEntry | None:
        """The cached body of a warm request, found without awaiting anything, or None: then
        `answer` (which also counts and answers every error) is the way. Warm: no capability
        (header or `caps=`, the caller checks the header), a token this process verified before
        and still good (`TokenVerifier.known`), a query parsed before and valid, and the
        request memo's entry still valid (`LayoutServer.warm`). The answer is then exactly what
        `answer` makes of it with `ready` (never degraded: the store is current)."""
        known = self.known(page, authorization, query)
        if known is None:
            return None
        memo = known.memo()  # alive: the request memo holds it
        if memo is None:
            return None
        self.service.server.count_warm(known.live)
        return memo.entry

    def known(self, page: str, authorization: str | None, query: bytes) -> Known | None:
        """`warm`'s checks, counting nothing: what a warm answer of this request rests on
        (`Known`), for a caller that keeps it by the request's inputs, or None."""
        generation = self.service.generation.value  # before any poll below can bump it
        user_id = ""
        until = _FOREVER
        if authorization:
            verifier = self.verifier()
            if verifier is None:
                return None
            identity = verifier.known(authorization)
            if identity is None:
                return None
            user_id = identity.user_id
            until = verifier.valid_until(identity)
        parsed = self._contexts.get(query)
        # `query.find`, not `in`: bytes' `in` first tries the operand as an int and formats a
        # TypeError (~2,000 instructions, a tenth of a warm GET: loadtests/warm_path.py).
        if (
            parsed is None
            or isinstance(parsed, QueryError)
            or (query and query.find(b"caps=") >= 0)
        ):
            return None
        memo_key = (user_id, page, parsed[1])
        found = self.service.server.warm_memo(*memo_key)
        if found is None:
            return None
        return Known(generation, until, memo_key, weakref.ref(found[0]), found[1])

    def ready(
        self, entry: BodyEntry, degraded: bool, accept_encoding: bytes | None
    ) -> Ready | None:
        """The representation `Accept-Encoding` picks of a cached body (None: it refuses both,
        406), its headers made once per body and kept on the entry (`BodyEntry.ready`)."""
        use_gzip = False  # no header: identity (`negotiation.NO_HEADER`)
        if accept_encoding is not None:
            choices = self._encodings.get(accept_encoding)
            chosen = choices[0] if len(entry.body) >= GZIP_MIN_BYTES else choices[1]
            if chosen is None:
                return None
            use_gzip = chosen
        index = use_gzip + 2 * degraded
        ready: Ready | None = entry.ready[index]
        if ready is None:
            ready = entry.ready[index] = Ready(
                entry,
                use_gzip,
                self._degraded if degraded else self._common,
                self._degraded_text if degraded else self._common_text,
            )
        return ready

    def not_acceptable(self) -> Answer:
        """406 `not_acceptable`: Accept-Encoding refuses both encodings a layout has."""
        return self._error(
            406,
            "not_acceptable",
            "Accept-Encoding refuses both gzip and identity, the only encodings of a layout",
            "Accept-Encoding",
        )


_FOREVER = float("inf")  # an anonymous request's answer expires with no token


class Known:
    """What one warm answer rests on (`LayoutApp.known`), kept by the RSGI edge under the
    request's own inputs (`http.rsgi.RSGIApp`) and used again while each still holds:

    - `generation`: `Service.generation` when it was made (pages, revocations, every
      invalidation but a user's bump it);
    - `until`: Unix seconds from which the token is expired (`exp` + leeway; inf without one);
    - `memo` is still the request memo's entry at `memo_key` (user, page, context key) and its
      profile still the cached one (a user's invalidation, eviction or refresh drops them). It
      is a weak reference: an entry the memo dropped is freed with its body even while this
      table still holds its key (issue 26, memory: up to `KNOWN_MAX` bodies of ~13 KB);
    - `memo.day` is still `serving.layouts.today()`.
    """

    __slots__ = ("generation", "live", "memo", "memo_key", "until")

    def __init__(
        self,
        generation: int,
        until: float,
        memo_key: RequestKey,
        memo: weakref.ref[RequestEntry],
        live: LivePage,
    ) -> None:
        self.generation = generation
        self.until = until
        self.memo_key = memo_key
        self.memo = memo
        self.live = live


class Ready:
    """One representation (identity or gzip, normal or degraded) of a cached body as the edge
    answers it, made once per body (`LayoutApp.ready`) instead of on every request: the 200's
    headers (Content-Type, Cache-Control, Vary, [X-Uiserver-Degraded,] ETag,
    [Content-Encoding,] Content-Length) and the 304's (the same but the last two or three,
    RFC 9110 15.4.5), as ASGI byte pairs and as RSGI text pairs. Never mutate the lists."""

    __slots__ = ("body", "common", "etag", "ok", "ok_text", "other", "same", "same_text")

    def __init__(
        self,
        entry: BodyEntry,
        use_gzip: bool,
        common: list[tuple[bytes, bytes]],
        common_text: list[tuple[str, str]] | None = None,
    ) -> None:
        """`common_text`: `text_headers(common)`, made once by the caller and shared by every
        body's lists (a body's own pairs are its ETag, encoding and length: ASCII), so a
        cached body holds ~1 KB less of header strings (issue 26, memory)."""
        self.common = common
        if common_text is None:
            common_text = text_headers(common)
        if use_gzip:
            self.etag, self.other, self.body = entry.etag_gz, entry.etag, entry.gzipped()
            coding = [(b"content-encoding", b"gzip")]
        else:
            self.etag, self.other, self.body = entry.etag, entry.etag_gz, entry.body
            coding = []
        length = str(len(self.body))
        self.same = [*common, (b"etag", self.etag)]
        self.ok = [*self.same, *coding, (b"content-length", length.encode())]
        self.same_text = [*common_text, ("etag", self.etag.decode("ascii"))]
        self.ok_text = [*self.same_text, *text_headers(coding), ("content-length", length)]

    def not_modified(self, held: bytes) -> list[tuple[bytes, bytes]]:
        """The 304's headers when If-None-Match named the other encoding's tag (`held`)."""
        return [*self.common, (b"etag", held)]


def text_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """ASGI response headers as granian's RSGI takes them: text it writes back as UTF-8, so a
    UTF-8 (or ASCII) value leaves as the same bytes (see `http/rsgi.py` for other values).
    Read as latin-1, a UTF-8 value was written double-encoded (`é`, C3 A9, as C3 83 C2 A9)."""
    return [(name.decode("latin-1"), _header_value(value)) for name, value in headers]


def _header_value(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# What the RSGI path passes for an X-UI-Capabilities header granian sent without its value
# (not visible ASCII: granian's RSGI headers leave such values out, `http/rsgi.py`).
UNREADABLE_CAPABILITY = "\x00"
# What either path passes for X-UI-Capabilities sent twice (two field lines, or two `caps`
# parameters) with different values: a client is one renderer, so which one it is cannot be
# told (the comma-joined form RFC 9110 5.3 lets a proxy make is refused as malformed too).
REPEATED_CAPABILITY = "\x00\x00"


def query_capability(query: bytes) -> str | None:
    """The `caps` query parameter (percent-decoded; UTF-8, else latin-1), for clients and
    caches that key on the URL rather than on `Vary: X-UI-Capabilities`; the header wins when
    both are sent. Its length is bounded where it is parsed (`engine.capability.MAX_CAPABILITY`)."""
    found: str | None = None
    for part in query.split(b"&"):
        if part.startswith(b"caps="):
            value = _header_value(unquote_to_bytes(part[5:].replace(b"+", b" ")))
            if found is not None and value != found:
                return REPEATED_CAPABILITY
            found = value
    return found


def _request_headers(
    headers: Iterable[tuple[bytes, bytes]],
) -> tuple[str | None, bytes | None, bytes | None, str | None]:
    """Authorization (text), If-None-Match and Accept-Encoding (bytes) and X-UI-Capabilities
    (text) of a launch request, the only headers the fast path reads; None for each absent. A
    header sent twice counts by its first field, as granian's RSGI headers read it
    (`http/rsgi.py`), except X-UI-Capabilities sent with two different values
    (`REPEATED_CAPABILITY`: a 400)."""
    authorization = if_none_match = accept_encoding = capability = None
    for name, value in headers:
        if name == b"authorization":
            if authorization is None:
                authorization = value.decode("latin-1")
        elif name == b"if-none-match":
            if if_none_match is None:
                if_none_match = value
        elif name == b"accept-encoding":
            if accept_encoding is None:
                accept_encoding = value
        elif name == b"x-ui-capabilities":
            # UTF-8 (else latin-1) as sent, so an error names it readably, not as mojibake
            text = _header_value(value)
            if capability is None:
                capability = text
            elif text != capability:
                capability = REPEATED_CAPABILITY
    return authorization, if_none_match, accept_encoding, capability

"""What every Starlette handler needs: the caller's identity and a size-limited JSON body."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, TypeVar

from starlette.requests import ClientDisconnect, Request

from uiserver import documents
from uiserver.auth import AuthError, Identity, TokenVerifier
from uiserver.documents import DocumentError
from uiserver.http import limits
from uiserver.http.errors import ApiError, api_error
from uiserver.service import Service
from uiserver.store.base import ErasedMeanwhile, StoreUnavailable

T = TypeVar("T")

# Bytes per second a body must keep up after the body timeout's grace: Apache
# mod_reqtimeout's default `body=...,MinRate=500`. A 20 MB segment import may take 11 hours at it.
MIN_BODY_RATE = 500
log = logging.getLogger("uiserver")
LOG_EVERY_S = 10.0
_last_logged = float("-inf")


def service_of(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


# The scope key by which the console's bridge (`http.console.api`) hands the admin routes the
# identity of a console session. Only the bridge sets it: a client cannot put objects in a scope.
BRIDGED = "uiserver.identity"


def identity(request: Request) -> Identity:
    """The verified caller; anonymous when there is no Authorization header."""
    bridged = request.scope.get(BRIDGED)
    if isinstance(bridged, Identity):
        return bridged
    return identify(request.app.state.verifier, request.headers.get("authorization"))


def identify(verifier: TokenVerifier | None, header: str | None) -> Identity:
    """The caller an Authorization header (`header`, None when absent) names: anonymous
    without one; ApiError 401 `bad_token` when this server takes no tokens, or the code the
    verifier gives (`AuthError`)."""
    if header and verifier is None:
        raise ApiError(401, "bad_token", "this server does not accept tokens")
    if verifier is None:
        from uiserver.auth import ANONYMOUS

        return ANONYMOUS
    try:
        return verifier.identify(header)
    except AuthError as exc:
        raise ApiError(401, exc.code, exc.message) from None


def user(request: Request) -> str:
    """The user id of a signed-in caller; `/v1/me` routes refuse anonymous callers."""
    return signed_in(identity(request))


def signed_in(who: Identity) -> str:
    """`who`'s user id; ApiError 401 `unauthenticated` when anonymous (no token sent)."""
    if who.anonymous:
        raise ApiError(401, "unauthenticated", "a bearer token is required")
    return who.user_id


def designer(request: Request) -> Identity:
    """A caller with role designer or admin (401 without a token, 403 with a user token)."""
    who = identity(request)
    if who.anonymous:
        raise ApiError(401, "unauthenticated", "a designer or admin token is required")
    if not who.is_designer:
        raise ApiError(403, "forbidden", "this needs the designer or admin role")
    return who


def admin(request: Request) -> Identity:
    """A caller with role admin (401 without a token, 403 with a user or designer token)."""
    who = identity(request)
    if who.anonymous:
        raise ApiError(401, "unauthenticated", "an admin token is required")
    if not who.is_admin:
        raise ApiError(403, "forbidden", "this needs the admin role")
    return who


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` bytes, and with 408
    (`Connection: close`) when it is late: all of it must come within the body timeout
    (`--body-timeout`, `app.state.body_timeout`, seconds) plus one second per
    `MIN_BODY_RATE` bytes. A client that stops sending, or trickles a byte at a time, never
    holds a connection (and a connection with a request in progress is never evicted)."""
    return await read_stream(
        request.stream(), request.headers.get("content-length"), limit, body_timeout(request)
    )


def body_timeout(request: Request) -> float:
    """Seconds a request body may take before its rate allowance (`--body-timeout`)."""
    return float(getattr(request.app.state, "body_timeout", limits.BODY_TIMEOUT))


async def read_stream(
    stream: AsyncIterator[bytes], declared: str | None, limit: int, timeout: float
) -> bytes:
    """A body read from `stream` (its chunks as they arrive) as `read_body` reads it, whichever
    interface received it (ASGI, or granian's RSGI in `http/rsgi.py`): `declared` is its
    Content-Length header (None: absent), 413 past `limit` bytes (declared or read), 400 for a
    Content-Length that is not a number, 408 past `timeout` seconds plus one per
    `MIN_BODY_RATE` bytes, 400 when the stream ends short of its Content-Length.

    A body cut short is never processed (RFC 9112 8: the message is incomplete): granian's
    RSGI body stream just ends when the client closes or half-closes mid-body, so its first
    bytes were read as the whole body (a valid JSON prefix was stored: settings, event
    batches); uvicorn raises Starlette's ClientDisconnect then (also for a chunked body that
    does not parse), which is the client's doing, not a bug: the same 400, which the gone
    client never reads, counted as a 4xx (it was a 500 with a traceback logged at ERROR and
    counted in `uiserver_unexpected_errors_total`, which operators alert on). A chunked body
    cut short ends quietly on granian with nothing to compare it to (docs/DEPLOY.md: nginx in
    front buffers request bodies and sends a Content-Length)."""
    expected = -1
    if declared is not None:
        try:
            expected = int(declared)
        except ValueError:
            raise ApiError(400, "bad_request", "bad Content-Length") from None
        if expected > limit:
            raise ApiError(413, "too_large", f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    started = asyncio.get_running_loop().time()
    while True:
        try:
            async with asyncio.timeout_at(started + timeout + size / MIN_BODY_RATE):
                # `__anext__`, not `anext(stream, None)`: the builtin's wrapper around
                # granian's RSGI body iterator crashed its worker (a segfault, granian 2.8.9).
                chunk = await stream.__anext__()
        except StopAsyncIteration:
            break
        except ClientDisconnect:
            raise ApiError(
                400,
                "bad_request",
                f"the client closed the connection after {size:,} bytes of the body "
                "(nothing was done with it)",
            ) from None
        except TimeoutError:
            raise ApiError(408, "request_timeout", "the request body came too slowly") from None
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too_large", f"body over {limit} bytes")
        chunks.append(chunk)
        if size == expected:
            break  # all of it: the server holds the length to Content-Length (no wait for the end)
    if size < expected:
        raise ApiError(
            400,
            "bad_request",
            f"the body ended after {size:,} of the {expected:,} bytes its Content-Length "
            "announced (nothing was done with it)",
        )
    return b"".join(chunks)


def decode_json(body: bytes, kind: type[T], *, unique_keys: bool = True) -> T:
    """A body decoded by `documents.decode_json`, the one decoding path of every JSON input
    (same size, depth and number limits): malformed or over a limit is 400 `bad_json`, a wrong
    or out-of-range field 422 `invalid` naming it, and so is a member given twice in one
    object (`unique_keys`; the events batch turns it off: its CPU budget)."""
    try:
        return documents.decode_json(body, kind, unique_keys=unique_keys)
    except DocumentError as exc:
        raise api_error(exc) from None


async def json_document(request: Request, limit: int = documents.DEFAULT_LIMITS.max_bytes) -> Any:
    """A JSON body of any shape, at most `limit` bytes (413 past it), decoded with the
    documents' depth and number limits (400 `bad_json`), a member given twice in one object
    422 `invalid` naming it; the admin API's and the console scripts' bodies, checked field
    by field by their handlers."""
    raw = await read_body(request, limit)
    try:
        return documents.decode_json(
            raw,
            None,
            dataclasses.replace(documents.DEFAULT_LIMITS, max_bytes=limit),
            unique_keys=True,
        )
    except DocumentError as exc:
        raise api_error(exc) from None


class store_writes:
    """`with store_writes():` turns an unreachable store into 503 with a clear JSON error
    (`Retry-After` is added by the error handler). Reads of the store (`/v1/me/*`, admin) use it
    too: unlike layouts, they have no cached answer that would be right.

    The body does not name the store's host or port (clients have no use for them); the log does.
    A user write refused because the user was erased while it was in flight is 409 `erased`.
    """

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, ErasedMeanwhile):
            raise ApiError(
                409,
                "erased",
                "the user's data was erased while this request was in flight; nothing was stored",
            ) from None
        if isinstance(exc, StoreUnavailable):
            global _last_logged
            now = time.monotonic()
            if now - _last_logged > LOG_EVERY_S:  # an outage must not flood the log
                _last_logged = now
                log.warning("store unavailable, answering 503: %s", exc)
            raise ApiError(
                503,
                "store_unavailable",
                "the data store is unreachable; try again shortly",
            ) from None

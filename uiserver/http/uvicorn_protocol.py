"""uvicorn's httptools protocol with the limits it lacks (issue 27, section 1).

uvicorn (httptools) bounds neither header size nor header count, and arms no timer before a
request's headers are complete: three connections each sending a never-finished 100 MB header
held +300 MB, and connections sending nothing, or one header line every 3 s, stayed open
forever. With the open-files limit reached, accept() fails (EMFILE) and asyncio stops accepting
*everyone* for a second at a time. `LimitedHttpToolsProtocol` adds, per connection:

- a header deadline: the request's headers must be complete `header_timeout` seconds after the
  connection opened or the previous response (and body) completed; past it the connection is
  closed (with a 408 if part of a request had arrived, RFC 9110 15.5.9);
- a header byte budget, `max_header_bytes` (request line included), and a field count,
  `max_headers`: past either, a 431 (RFC 6585 section 5) and the connection is closed, having
  buffered at most the budget;
- a connection cap per worker, below the open-files limit (`ConnectionLimits.connections()`):
  a new connection past it evicts the connection that has waited longest for its request's
  headers (an idle or slow one: a client whose request is in progress is never cut), and only
  when every connection has a request in progress is the new one refused with a 503.

- pipelining: the head of a request that arrives while the one before it is being answered
  gets the same byte budget (counted from the chunk after the previous request ended, and
  measured whole, request line and fields, when it is complete); one past it is answered 431
  after the answers to the requests before it, and the connection closed; so is uvicorn's 400
  for a pipelined request that does not parse (it used to replace those answers);
- a send deadline: a connection whose write buffer stays full for `body_timeout` (the client
  reads nothing, e.g. thousands of pipelined requests whose answers it never reads) is aborted;
- a lingering close (nginx's `lingering_close`): a connection closed after an answer (a
  `Connection: close` response, a 400/408/431 refusal) shuts its write side once the answer is
  written and reads and drops what the client still sends, until the client closes, `LINGER_S`
  pass or `LINGER_BYTES` arrive; then it is closed. Closed at once with unread bytes (pipelined
  requests behind the close, the rest of a refused head), the kernel sends a reset that
  discards the answer still in its send queue: a client reading late lost the answer.

uvicorn's own keep-alive timer (`timeout_keep_alive`) still closes idle keep-alive connections.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from uiserver.http.errors import error_body
from uiserver.http.limits import ConnectionLimits

log = logging.getLogger("uiserver.connections")
SWEEP_S = 0.25  # how often expired header deadlines are looked for
# A lingering close's bounds: nginx's `lingering_timeout` default (5 s) for the whole linger,
# and 1 MiB, about a loopback socket's receive buffer (what a client has in flight when it sees
# the close); past either the connection is closed as before.
LINGER_S = 5.0
LINGER_BYTES = 1 << 20

REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}
MESSAGES = {
    400: ("bad_request", "the request is not valid HTTP/1.1 (RFC 9112)"),
    408: ("request_timeout", "the request's headers took too long"),
    431: ("headers_too_large", "the request's headers are too large or too many"),
    503: ("too_many_connections", "the server holds all the connections it can; retry"),
}


class HeldHead:
    """A response cycle's transport that holds the response head until its body: uvicorn writes
    them in two `transport.write` calls, two send(2) calls a response; joined, one. On loopback
    and behind a proxy the send is a large share of a small request's CPU (an events batch:
    about half of the server's CPU under load was in these two writes).

    Only a final response head is held (never `100 Continue`, which the client waits for before
    sending the body). The held head goes out with the next write, on `complete()` (the
    cycle's `on_response`: a HEAD answer has no body write) or before `close()`. Everything
    else is the real transport's.

    Each cycle has its own: with pipelining, the protocol's `cycle` is the last request
    parsed, not the one whose response just completed, so `complete` flushes this cycle's head
    (a pipelined HEAD's answer was lost when the protocol flushed `self.cycle`'s), then calls
    `then` (the protocol's `on_response_complete`, which starts the next pipelined request).
    `close()` (a `Connection: close` answer written, or a response the app broke) flushes the
    head and calls `closer` (the protocol's lingering close)."""

    __slots__ = ("closer", "held", "then", "transport")

    def __init__(
        self, transport: asyncio.Transport, then: Callable[[], None], closer: Callable[[], None]
    ) -> None:
        self.transport = transport
        self.then = then
        self.closer = closer
        self.held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self.held
        if held is not None:
            self.held = None
            self.transport.write(held + bytes(data))
        elif data[:9] == b"HTTP/1.1 " and data[9:12] != b"100":
            self.held = bytes(data)
        else:
            self.transport.write(data)

    def flush(self) -> None:
        held, self.held = self.held, None
        if held is not None and not self.transport.is_closing():
            self.transport.write(held)

    def complete(self) -> None:
        self.flush()
        self.then()

    def close(self) -> None:
        self.flush()
        self.closer()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


def open_connections() -> int | None:
    """Connections this uvicorn worker holds now; None before the first one (or on granian,
    which keeps its connections in Rust and reports none)."""
    held = LimitedHttpToolsProtocol.held
    return None if held is None else len(held)


def _answer(status: int) -> bytes:
    code, message = MESSAGES[status]
    body = error_body(code, message)
    return b"".join(
        [
            b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status]),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class _Waiting:
    """The connections of one server waiting for a request's headers, oldest first, with the
    loop time each began waiting. One sweep every `SWEEP_S` closes those past the deadline:
    cheaper per request than a timer per connection (a dict insert and delete, no
    `call_later`/`cancel`), at the cost of up to `SWEEP_S` of slack on the deadline."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.order: dict[LimitedHttpToolsProtocol, float] = {}
        self.loop = loop
        self.timeout = timeout
        self.handle: asyncio.TimerHandle | None = None

    def add(self, connection: LimitedHttpToolsProtocol) -> None:
        """`connection` starts waiting (it is not in `order`: `stop_waiting` took it out)."""
        self.order[connection] = self.loop.time()
        if self.handle is None:
            self.handle = self.loop.call_later(SWEEP_S, self.sweep)

    def discard(self, connection: LimitedHttpToolsProtocol) -> None:
        self.order.pop(connection, None)

    def oldest(self) -> LimitedHttpToolsProtocol | None:
        return next(iter(self.order), None)

    def sweep(self) -> None:
        self.handle = None
        cutoff = self.loop.time() - self.timeout
        expired = []
        for connection, since in self.order.items():
            if since > cutoff:
                break
            expired.append(connection)
        for connection in expired:
            connection.header_timeout()
        if self.order:
            self.handle = self.loop.call_later(SWEEP_S, self.sweep)


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` with header limits, a header deadline and a connection cap; the
    limits come from `ConnectionLimits.from_env()` (read once per worker)."""

    limits: ConnectionLimits | None = None
    cap = 0
    # This worker's open connections (uvicorn's own set), for `uiserver_open_connections`.
    held: set[Any] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cls = type(self)
        if cls.limits is None:
            cls.limits = ConnectionLimits.from_env()
            cls.cap = cls.limits.connections()
        LimitedHttpToolsProtocol.held = self.connections
        self.policy: ConnectionLimits = cls.limits
        self.max_header_bytes = self.policy.max_header_bytes
        self.max_headers = self.policy.max_headers
        waiting = getattr(self.server_state, "uiserver_waiting", None)
        if waiting is None:
            waiting = _Waiting(self.loop, self.policy.header_timeout)
            self.server_state.uiserver_waiting = waiting  # type: ignore[attr-defined]
        self.waiting: _Waiting = waiting
        self.in_head = False  # waiting for a request's headers
        self.draining = False  # answered, but the request's body is still coming (discarded)
        self.stalled: asyncio.TimerHandle | None = None  # armed while the client reads nothing
        self.header_bytes = 0
        self.reading_body = False
        # Bytes after a request that is still being answered are the next request's head: they
        # are counted (`next_head`) until it is complete or waited for; a head that began in
        # an uncounted chunk (`pipelined`) is measured whole when complete (`_head_size`).
        self.pipelined = False
        self.next_head = False
        # The refusal of a pipelined request (a head over the budget, one that does not parse),
        # sent once the requests before it are answered: never in place of their answers.
        self.late: Callable[[], None] | None = None
        self.refused = False
        # Armed by `linger` (the write side is shut): closes the connection at the time bound.
        self.lingering: asyncio.TimerHandle | None = None
        self.linger_left = LINGER_BYTES

    # Connection lifetime -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        full = len(self.connections) >= self.cap
        oldest = self.waiting.oldest() if full else None
        if oldest is not None:
            oldest.close_waiting()
        super().connection_made(transport)
        if full and oldest is None:
            log.warning("connection cap %d reached, every connection busy: refused", self.cap)
            self.refuse(503)
            return
        self.start_waiting()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_waiting()
        if self.lingering is not None:
            self.lingering.cancel()
        if self.stalled is not None:
            self.stalled.cancel()
            self.stalled = None
        super().connection_lost(exc)

    def close_waiting(self) -> None:
        """Evicted to make room: closed without an answer (it had no request in progress)."""
        self.stop_waiting()
        self.refused = True
        self.transport.close()

    # The header phase ------------------------------------------------------------------------
    def start_waiting(self) -> None:
        if not self.next_head:  # else the pipelined head's bytes so far stay counted
            self.header_bytes = 0
        self.next_head = False
        self.in_head = True
        self.waiting.add(self)

    def stop_waiting(self) -> None:
        if self.in_head:
            self.in_head = False
            self.waiting.discard(self)

    def is_waiting(self) -> bool:
        return self.in_head

    def header_timeout(self) -> None:
        """The header deadline passed (called by the sweep)."""
        self.stop_waiting()
        if self.header_bytes and not self.draining:
            self.refuse(408)
        else:
            self.refused = True
            self.transport.close()

    def refuse(self, status: int) -> None:
        """Answer `status` (JSON, `Connection: close`) and close; nothing more is parsed. A
        503 (the connection cap) closes at once: lingering would hold a descriptor past the
        cap; the others linger (`linger`)."""
        self.stop_waiting()
        self.refused = True
        if not self.transport.is_closing() and self.lingering is None:
            self.transport.write(_answer(status))
            if status == 503:
                self.transport.close()
            else:
                self.linger()

    def linger(self) -> None:
        """Close after what is written: the write side is shut once it is sent (FIN), and the
        input read and dropped until the client closes (EOF: the transport closes), `LINGER_S`
        pass or `LINGER_BYTES` arrive. Nothing more is parsed or answered."""
        transport = self.transport
        if self.lingering is not None or transport.is_closing():
            return
        self.stop_waiting()
        self.refused = True
        if not transport.can_write_eof():  # pragma: no cover (TCP transports can)
            transport.close()
            return
        transport.write_eof()
        self.lingering = self.loop.call_later(LINGER_S, transport.close)
        self.flow.resume_reading()  # paused while pipelined requests waited

    def maybe_wait(self) -> None:
        """Back to waiting for headers once the request is answered, and nothing is queued
        behind it (pipelining). Answered before its body ended (a 413, a 408, a route that
        reads no body), the rest of the body is discarded under the same deadline, so a
        client trickling an unread body is closed too."""
        cycle = self.cycle
        if (
            self.is_waiting()
            or self.refused
            or self.pipeline
            or (cycle is not None and not cycle.response_complete)
            or self.transport.is_closing()
        ):
            return
        self.draining = self.reading_body
        self.start_waiting()

    # Bytes and parser callbacks --------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self.lingering is not None:
            self.linger_left -= len(data)
            if self.linger_left <= 0:
                self.transport.close()
            return
        if self.refused:
            return
        if (self.in_head or self.next_head) and not self.draining:
            room = self.max_header_bytes - self.header_bytes
            if len(data) > room:
                # Feed only what fits; if the headers end within it, the rest is body.
                head, data = data[: max(room, 0)], data[max(room, 0) :]
                self.header_bytes += len(head)
                if head:
                    super().data_received(head)
                if self.refused or self.transport.is_closing():
                    return
                if self.is_waiting():
                    self.refuse(431)
                    return
                if self.next_head and self.header_bytes >= self.max_header_bytes:
                    self.refuse_head()
                    return
            else:
                self.header_bytes += len(data)
        super().data_received(data)

    def answering(self) -> bool:
        """Whether a request before the one being parsed is still being answered (`self.cycle`
        is the last request parsed; pipelined ones are answered in order before it)."""
        return self.cycle is not None and not self.cycle.response_complete

    def refuse_head(self) -> None:
        """A 431 for a head over a limit, after the answers to the requests before it."""
        if self.answering():
            self.refused = True
            self.late = lambda: self.refuse(431)
        else:
            self.refuse(431)

    def send_400_response(self, msg: str) -> None:
        """A JSON 400 (uvicorn's was text/plain) for bytes that do not parse, after the answers
        to the requests before it: a valid request followed by a malformed one got only the
        400 (its own answer was dropped as the connection closed)."""
        if self.answering():
            self.refused = True
            self.late = lambda: self.refuse(400)
        else:
            self.refuse(400)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.next_head:  # its first bytes came in a chunk that was not counted
            self.pipelined = True

    # on_url and on_header stay uvicorn's (no extra call per header): after a
    # refusal they only fill a scope nobody runs; the header count is `len(self.headers)`.
    def on_headers_complete(self) -> None:
        if self.refused:
            return
        if len(self.headers) > self.max_headers or (
            self.pipelined and self._head_size() > self.max_header_bytes
        ):
            self.refuse_head()
            return
        if self.in_head:
            self.in_head = False
            del self.waiting.order[self]
        self.pipelined = self.next_head = False
        self.reading_body = True
        super().on_headers_complete()
        held = HeldHead(self.transport, self.on_response_complete, self.linger)
        self.cycle.transport = held  # type: ignore[assignment]
        self.cycle.on_response = held.complete

    def on_body(self, body: bytes) -> None:
        if not self.refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self.refused:
            return
        self.reading_body = False
        super().on_message_complete()
        if self.draining:  # the unread body ended: the next request's head starts now
            self.draining = False
            self.stop_waiting()
        if self.cycle.response_complete:  # else on_response_complete will look
            self.maybe_wait()
        else:  # any bytes after it are a pipelined request's head
            self.header_bytes = 0
            self.next_head = True

    def on_response_complete(self) -> None:
        if self.lingering is not None:  # closing: no pipelined request starts, no timer
            self.server_state.total_requests += 1
            return
        super().on_response_complete()
        if self.late is not None:
            if not self.answering() and not self.pipeline and not self.transport.is_closing():
                answer, self.late = self.late, None
                answer()
            return
        self.maybe_wait()

    def _head_size(self) -> int:
        """Bytes of the parsed head: the request line (method and version at most 16) and
        each field with its ": " and CRLF."""
        return len(self.url) + 16 + sum(len(n) + len(v) + 4 for n, v in self.headers)

    # A client that stops reading its answers -------------------------------------------------
    def pause_writing(self) -> None:
        """The write buffer is full (the client reads nothing): if it stays full for the body
        timeout, the connection is aborted (its unsent bytes dropped; `close` would wait for
        them for ever). nginx's `send_timeout` is the same rule."""
        super().pause_writing()
        if self.stalled is None:
            self.stalled = self.loop.call_later(self.policy.body_timeout, self.abort_stalled)

    def resume_writing(self) -> None:
        if self.stalled is not None:
            self.stalled.cancel()
            self.stalled = None
        super().resume_writing()

    def abort_stalled(self) -> None:
        self.stalled = None
        self.stop_waiting()
        self.refused = True
        self.transport.abort()

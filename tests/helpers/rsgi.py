"""The app served through its RSGI entry point (`uiserver/http/rsgi.py`, what `uiserver serve`
runs on granian) inside a `TestClient`, so in-process tests run on both interfaces.

`through_rsgi(edge)` is an ASGI app: each HTTP request is handed to `RSGIApp.__rsgi__` as
granian hands it (a scope with text headers, a protocol whose body is read by iterating it and
answered by one `response_bytes` call), and the answer goes back to the client as ASGI
messages; the lifespan goes to the edge itself. Request headers are read as granian's RSGI
headers read them: `get` gives a field's first value, and a value that is not visible ASCII is
left out (the name is still `in` the headers). Attributes (`service`, `metrics`) are the edge's,
as tests read them from `client.app`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from uiserver.http.layouts import LayoutApp
from uiserver.http.rsgi import RSGIApp

ANSWERS = ("asgi", "rsgi")  # the interfaces a test parametrized with `interfaced` runs on


def interfaced(edge: ASGIApp, interface: str) -> ASGIApp:
    """`edge` as it is (`asgi`) or through its RSGI entry point (`rsgi`)."""
    return edge if interface == "asgi" else through_rsgi(edge)


def _visible(value: str) -> bool:
    return all(" " <= ch <= "~" or ch == "\t" for ch in value)


class Headers:
    """granian's RSGI request headers (`RSGIHeaders`): text, first field wins in `get`."""

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]

    def get(self, key: str, default: Any = None) -> Any:
        for name, value in self.pairs:
            if name == key:
                return value if _visible(value) else default
        return default

    def items(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.pairs if _visible(v)]

    def keys(self) -> list[str]:
        return [k for k, _ in self.pairs]

    def __contains__(self, key: object) -> bool:
        return any(name == key for name, _ in self.pairs)


class RSGIScope:
    def __init__(self, scope: Scope) -> None:
        self.proto = "http"
        self.http_version = scope.get("http_version", "1.1")
        client = scope.get("client") or ("127.0.0.1", 5000)
        self.client = f"{client[0]}:{client[1]}"
        self.server = "127.0.0.1:8000"
        self.scheme = scope.get("scheme", "http")
        self.method = scope["method"]
        self.path = scope["path"]
        self.query_string = scope.get("query_string", b"").decode("latin-1")
        self.headers = Headers(list(scope["headers"]))


class RSGIProtocol:
    """The body from ASGI `receive` as an async iterator of chunks; the one answer kept."""

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.answer: tuple[int, list[tuple[str, str]], bytes] | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        while True:
            message = await self.receive()
            if message["type"] != "http.request":
                return
            body = message.get("body", b"")
            if body:
                yield body
            if not message.get("more_body", False):
                return

    async def client_disconnect(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        assert self.answer is None, "answered twice"
        self.answer = (status, list(headers), body)


class through_rsgi:
    """`edge` (the app `create_app` returns) served through `RSGIApp(edge, edge)`."""

    def __init__(self, edge: ASGIApp) -> None:
        inner: Any = edge
        while not isinstance(inner, LayoutApp):
            inner = inner.app
        self.edge = edge
        self.rsgi = RSGIApp(inner, edge, native=inner is edge)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.edge, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.edge(scope, receive, send)
            return
        protocol = RSGIProtocol(receive)
        await self.rsgi.__rsgi__(RSGIScope(scope), protocol)
        assert protocol.answer is not None, "returned without answering"
        status, headers, body = protocol.answer
        raw = [(k.encode("latin-1"), v.encode("utf-8")) for k, v in headers]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

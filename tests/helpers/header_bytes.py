"""A tiny ASGI app answering response headers whose values are not visible ASCII, served as
`asgi` by uvicorn and as `rsgi` (through the RSGI bridge, `uiserver.http.rsgi.ASGIBridge`) by
granian, for `tests/process/test_rsgi_header_bytes.py`."""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from uiserver.http.rsgi import ASGIBridge, RSGIProtocol, RSGIScope

# (name, the value's bytes as the app sends them)
HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-disposition", b'attachment; filename="caf\xc3\xa9 \xe2\x82\xac.json"'),
    (b"x-console-note", "prévisualisation — 草稿".encode()),
    (b"x-tab", b"a\tb"),
    (b"x-latin-1", b"caf\xe9"),  # not UTF-8: the one value granian's RSGI cannot write as is
]


async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    body = b"{}"
    headers = [*HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _Bridged:
    def __init__(self) -> None:
        self.bridge = ASGIBridge(asgi)

    async def __rsgi__(self, scope: RSGIScope, protocol: RSGIProtocol) -> None:
        await self.bridge(scope, protocol)


rsgi = _Bridged()

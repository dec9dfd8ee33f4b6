"""`http.rsgi.ASGIBridge` hands response headers to granian's RSGI as text whose UTF-8 is the
bytes the ASGI app sent (granian writes that UTF-8); the process test
`tests/process/test_rsgi_header_bytes.py` checks the bytes on the wire."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.helpers.header_bytes import HEADERS, asgi
from uiserver.http.rsgi import ASGIBridge


class _Headers:  # granian's RSGIHeaders shape
    fields = (("host", "127.0.0.1"),)

    def items(self) -> list[tuple[str, str]]:
        return list(self.fields)

    def get(self, name: str, default: str | None = None) -> str | None:
        return dict(self.fields).get(name, default)

    def __contains__(self, name: str) -> bool:
        return name in dict(self.fields)


class _Scope:
    proto = "http"
    http_version = "1.1"
    client = "127.0.0.1:5000"
    server = "127.0.0.1:8000"
    scheme = "http"
    method = "GET"
    path = "/export"
    query_string = ""
    headers = _Headers()


class _Protocol:
    def __init__(self) -> None:
        self.sent: list[tuple[int, list[tuple[str, str]], bytes]] = []

    def __aiter__(self) -> Any:
        async def nothing() -> Any:
            return
            yield b""

        return nothing()

    async def client_disconnect(self) -> None:
        await asyncio.Event().wait()

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.sent.append((status, headers, body))


def test_values_are_handed_over_as_text_granian_writes_back_as_the_same_bytes() -> None:
    protocol = _Protocol()
    asyncio.run(ASGIBridge(asgi)(_Scope(), protocol))  # type: ignore[arg-type]
    [(status, headers, body)] = protocol.sent
    assert (status, body) == (200, b"{}")
    written = {name.encode(): value.encode("utf-8") for name, value in headers}
    for name, value in HEADERS[:3]:  # UTF-8 and ASCII with a tab: the same bytes
        assert written[name] == value
    assert written[b"x-latin-1"] == "café".encode()  # not UTF-8: the same characters

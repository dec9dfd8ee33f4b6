"""`deps.read_stream`, every body route's reader on both interfaces, and `rsgi.header_fields`:
what each makes of the request granian's RSGI interface shows the app.

granian ends a body stream quietly when the client goes away mid-body, and leaves a header
field whose value is not visible ASCII out of `items()` (its name stays in `keys()`); the
process tests (`test_rsgi_layouts`, `test_connection_limits`) show both on real servers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from uiserver.http.deps import read_stream
from uiserver.http.errors import ApiError
from uiserver.http.rsgi import header_fields


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _read(declared: str | None, *parts: bytes) -> bytes:
    return asyncio.run(read_stream(_chunks(*parts), declared, 1000, 5.0))


def test_a_body_cut_short_of_its_content_length_is_refused() -> None:
    """A stream that ends before the Content-Length's bytes came (the client closed): 400,
    never its first bytes taken for the body; a whole one, or one without a Content-Length,
    is what came."""
    with pytest.raises(ApiError) as refused:
        _read("20", b'{"events":', b" []}")
    assert refused.value.status == 400 and refused.value.code == "bad_request"
    assert "14 of the 20 bytes" in refused.value.message
    with pytest.raises(ApiError):
        _read("1")  # nothing came at all
    assert _read("14", b'{"events":', b" []}") == b'{"events": []}'
    assert _read(None, b'{"events":', b" []}") == b'{"events": []}'
    assert _read("0") == b""


class _Headers:
    """granian's RSGI headers as seen for `A: 1`, `A: 2`, `E: <E9>`, `E: ok`, `F: <E9>`
    (checked against granian 2.8.9): `keys` names each once, `items` leaves out F and the
    first E."""

    def items(self) -> list[tuple[str, str]]:
        return [("host", "x"), ("a", "1"), ("a", "2"), ("e", "ok")]

    def keys(self) -> list[str]:
        return ["host", "a", "e", "f"]

    def get(self, key: str, default: object = None) -> object:
        return dict(self.items()).get(key, default)

    def __contains__(self, key: str) -> bool:
        return key in self.keys()


def test_header_fields_counts_names_granian_shows_no_value_of() -> None:
    """Six fields were sent: the four `items` lists, plus one for F (only in `keys`); the
    unreadable E beside a readable one cannot be seen."""
    assert header_fields(_Headers()) == 5

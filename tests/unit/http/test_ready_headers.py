"""`http.layouts.Ready`: a cached body's prepared headers, as ASGI byte pairs and as RSGI text
pairs; the text pairs every body has in common are made once and shared, not per body."""

from __future__ import annotations

import pytest

from uiserver.http.layouts import Ready, text_headers
from uiserver.serving.cache import BodyEntry

COMMON = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"private, max-age=60"),
    (b"vary", b"Authorization, Accept-Encoding, X-UI-Capabilities"),
]


@pytest.mark.parametrize("use_gzip", [False, True])
def test_the_text_headers_are_the_byte_headers_as_text(use_gzip: bool) -> None:
    entry = BodyEntry.of(b'{"schema":1,' + b" " * 2000 + b"}")
    for ready in (
        Ready(entry, use_gzip, COMMON),
        Ready(entry, use_gzip, COMMON, text_headers(COMMON)),
    ):
        assert ready.same_text == text_headers(ready.same)
        assert ready.ok_text == text_headers(ready.ok)
        assert ("content-length", str(len(ready.body))) in ready.ok_text
        assert (("content-encoding", "gzip") in ready.ok_text) is use_gzip


def test_bodies_share_the_common_text_pairs() -> None:
    common_text = text_headers(COMMON)
    one = Ready(BodyEntry.of(b'{"a":1}'), False, COMMON, common_text)
    two = Ready(BodyEntry.of(b'{"b":2}'), False, COMMON, common_text)
    for ready in (one, two):
        assert all(a is b for a, b in zip(ready.ok_text, common_text, strict=False))
    assert one.ok_text[3] != two.ok_text[3]  # each its own ETag

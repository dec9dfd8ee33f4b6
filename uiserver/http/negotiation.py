"""Which representation of a layout a request gets, and whether the client already holds it.

- `Accept-Encoding` (RFC 9110 12.5.3): a list of codings, case-insensitive, each with an
  optional `q` (0 to 1, three decimals; `q=0` means "not acceptable"); `*` stands for every
  coding not listed; `identity` (no coding) is acceptable unless refused by `identity;q=0`, or
  by `*;q=0` with no entry of its own. An empty value asks for identity only. A member with a
  malformed `q` is ignored. For a body worth compressing the higher q wins (gzip on a tie); an
  unlisted identity is acceptable but ranks below every listed coding, so `br, gzip;q=0.5`
  gets gzip. A small body goes as identity whenever identity is acceptable. When both are
  refused the answer is 406 (RFC 9110 12.5.3 and 15.5.7).
- Each representation has its own strong ETag (`"<digest>"` for identity, `"<digest>-gz"`
  for gzip, RFC 9110 8.8.3: a strong validator differs whenever the bytes differ).
- `If-None-Match` (RFC 9110 13.1.2): `*`, or a list of tags compared weakly (`W/` ignored);
  a client holding either representation's tag gets a 304 carrying that tag.

Parsing costs a few microseconds, so choices are remembered per distinct header value
(`EncodingMemo`, bounded in count and in the length of the values it keeps).
"""

from __future__ import annotations

import re

from uiserver.datastructures import BoundedDict

# A choice is True (gzip), False (identity) or None (both refused: 406).
Choice = bool | None
# (choice for a body worth compressing, choice for a small one)
Choices = tuple[Choice, Choice]

NO_HEADER: Choices = (False, False)  # no Accept-Encoding: identity (any coding is allowed)
_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)\Z")
_GZIP = ("gzip", "x-gzip")  # x-gzip: RFC 9110 8.4.1.3 asks recipients to treat it as gzip
_UNLISTED_IDENTITY = 0.0001  # acceptable, below the smallest qvalue a client can write (0.001)


def parse_accept_encoding(header: str) -> dict[str, float]:
    """Coding (lowercase) -> q for each well-formed member; a repeated coding keeps its
    highest q."""
    prefs: dict[str, float] = {}
    for member in header.split(","):
        name, *params = member.split(";")
        coding = name.strip().lower()
        if not coding:
            continue
        q: float | None = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                text = value.strip()
                q = float(text) if _QVALUE.match(text) else None
        if q is not None:
            prefs[coding] = max(q, prefs.get(coding, 0.0))
    return prefs


def _q(prefs: dict[str, float], codings: tuple[str, ...], default: float) -> float:
    for coding in codings:
        if coding in prefs:
            return prefs[coding]
    return prefs.get("*", default)


def choose(header: bytes) -> Choices:
    """The representation for a body worth compressing and for a small one (see module)."""
    prefs = parse_accept_encoding(header.decode("latin-1"))
    gzip = _q(prefs, _GZIP, 0.0)
    identity = _q(prefs, ("identity",), _UNLISTED_IDENTITY)
    if gzip <= 0 and identity <= 0:
        return None, None
    return gzip >= identity and gzip > 0, identity <= 0


class EncodingMemo:
    """`choose` remembered per header value: browsers and SDKs send a handful of distinct
    values, so a warm GET pays one dict lookup. Values longer than `max_chars` are parsed every
    time and never kept (a client cannot grow this with junk)."""

    def __init__(self, maxsize: int = 256, max_chars: int = 256) -> None:
        self._memo: BoundedDict[bytes, Choices] = BoundedDict(maxsize)
        self._max_chars = max_chars

    def __len__(self) -> int:
        return len(self._memo)

    def get(self, header: bytes | None) -> Choices:
        if header is None:
            return NO_HEADER
        choices = self._memo.get(header)
        if choices is None:
            choices = choose(header)
            if len(header) <= self._max_chars:
                self._memo[header] = choices
        return choices


def matching_tag(header: bytes, selected: bytes, other: bytes) -> bytes | None:
    """The tag to answer a 304 with, if `If-None-Match: header` names one of ours: `selected`
    (the representation this request would get) or `other` (the other encoding's); None for a
    200. Weak comparison, so `W/"x"` matches `"x"`."""
    if header == selected:
        return selected
    if header == other:
        return other
    if header.strip() == b"*":
        return selected
    tags = {tag.strip().removeprefix(b"W/") for tag in header.split(b",")}
    if selected in tags:
        return selected
    if other in tags:
        return other
    return None

"""What a user id may be, checked once wherever one enters (a token's `sub`, a segment import,
`uiserver token USER`), and how names a caller sent are echoed back in an error.

A user id is a key in every store (SQLite text, Redis key names), in every cache and in the
export a user downloads, so it must be text every one of them can hold and a person can read:

- non-blank: at least one visible character, by the labels' rule
  (`engine.labels.has_visible_text`: "", whitespace, a zero-width space or a Hangul filler
  alone would be a user nobody can read or tell apart from another);
- at most `USER_ID_MAX` characters (128: room for a UUID, an email address or an OpenID
  `sub`, which OIDC Core 1.0 section 2 limits to 255 ASCII characters; a longer id is a
  mistake, not a user);
- valid Unicode: no lone surrogates (JSON's `"\\ud800"` escape decodes to one in Python; it
  cannot be encoded as UTF-8, so a store write would fail with a 500);
- no control characters (Unicode category Cc, C0 and C1, and the line/paragraph separators
  U+2028/U+2029): they break log lines, Redis key listings and CSV exports.

A user id is otherwise opaque and compared exactly, code point by code point, in every store:
"Ana" and "ana", or "é" composed (NFC) and decomposed (NFD), are different users. The operator's
identity provider mints them (OpenID Connect Core 1.0 section 5.7: `sub` is case sensitive and
compared as given); folding them here could hand one user another's data.
"""

from __future__ import annotations

import re

from uiserver.engine.labels import has_visible_text

USER_ID_MAX = 128
ECHO_MAX = 64  # characters of a caller's name an error message repeats

# C0 and C1 controls, DEL, lone surrogates, U+2028/U+2029: one C-level scan.
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")


def user_id_problem(value: object) -> str | None:
    """Why `value` cannot be a user id, in words for a client developer; None when it can."""
    if not isinstance(value, str):
        return "a user id must be a string"
    if len(value) > USER_ID_MAX:
        return f"a user id is at most {USER_ID_MAX} characters"
    bad = _FORBIDDEN.search(value)
    if bad is not None:
        char = bad.group()
        if "\ud800" <= char <= "\udfff":
            return "a user id must be valid Unicode (it contains a lone surrogate)"
        return f"a user id must not contain control characters (U+{ord(char):04X})"
    if not has_visible_text(value):
        return "a user id must not be blank (it needs a visible character)"
    return None


def shown(name: str, limit: int = ECHO_MAX) -> str:
    """`name` quoted for an error message, cut to `limit` characters (a 404 for an 8,000
    character page name must not repeat it), control characters escaped by `repr`."""
    if len(name) <= limit:
        return repr(name)
    return f"{name[:limit]!r}... ({len(name)} characters)"

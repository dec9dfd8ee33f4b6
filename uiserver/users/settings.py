"""The settings object as clients send it: `PUT` replaces it whole, `PATCH` merges into it.

PUT (`replacement`): every field of `schema.Settings` is required, so a client that sends
`{"font_scale": 1.2}` learns that it would have reset the rest: 422 naming the first missing
field (in the order of the contract's table), instead of a silent reset to defaults. Fields
added after the contract's table (`ADDITIVE`: `elderly_prompt`) may be left out by clients
written before them: the stored value is kept (`kept`), so an old client's PUT never re-asks a
user who already answered the 长辈版 prompt.

PATCH (`merge_patch`): a JSON Merge Patch (RFC 7396) of the stored object. The patch must be an
object (a non-object patch would replace the whole settings object with a non-object: 422); each
member names a settings field (unknown: 422) and gives its new value, or `null` to reset it to
its default (RFC 7396 "null removes the member", and a removed setting reads as its default).
Settings are flat, so a member's value is never merged recursively: an object where a setting
is expected is a wrong type (422). `{}` changes (and writes) nothing. The values are validated
before the store is touched; the returned function applies them to whatever is stored when the
write runs, inside the store's transaction.

Errors are `documents.DocumentError`: malformed JSON is 400 `bad_json`, the rest 422 `invalid`
with `field` naming the setting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from uiserver.documents import DocumentError, convert, decode_json, named_field
from uiserver.schema import Settings

# The media type of a JSON Merge Patch (RFC 7396 section 4); `PATCH /v1/me/settings` takes it.
MERGE_PATCH = "application/merge-patch+json"

SETTINGS_FIELDS = tuple(field.name for field in msgspec.structs.fields(Settings))

# Settings fields added after the contract's table: optional in a PUT (the stored one is kept).
ADDITIVE: tuple[str, ...] = ("elderly_prompt",)

# `Settings` with every field of the contract required: what a whole replacement must name.
SettingsDocument = msgspec.defstruct(
    "SettingsDocument",
    [
        (field.name, field.type | msgspec.UnsetType, msgspec.UNSET)
        if field.name in ADDITIVE
        else (field.name, field.type)
        for field in msgspec.structs.fields(Settings)
    ],
    forbid_unknown_fields=True,
)

_DEFAULTS: dict[str, Any] = msgspec.to_builtins(Settings())


def _named(exc: DocumentError) -> DocumentError:
    """The error with `field` set to the setting a missing/unknown-field message names."""
    field = named_field(exc.field, exc.message)
    if field == exc.field:
        return exc
    return DocumentError(exc.message, field, schema=exc.schema, named=True)


def replacement(body: bytes) -> Settings:
    """A whole settings object (PUT). Raises DocumentError; a missing field is named. An
    `ADDITIVE` field left out has its default here: `kept` says which to keep from the store."""
    try:
        document = decode_json(body, SettingsDocument, unique_keys=True)
    except DocumentError as exc:
        raise _named(exc) from None
    values = msgspec.structs.asdict(document)
    return Settings(**{k: v for k, v in values.items() if v is not msgspec.UNSET})


def kept(body: bytes) -> Callable[[Settings, Settings], Settings] | None:
    """For a PUT body already read by `replacement`: None when it names every `ADDITIVE` field,
    else a function (new, stored) -> new with the left-out ones taken from the stored object."""
    document = decode_json(body, SettingsDocument)
    missing = [name for name in ADDITIVE if getattr(document, name) is msgspec.UNSET]
    if not missing:
        return None
    return lambda new, stored: msgspec.structs.replace(
        new, **{name: getattr(stored, name) for name in missing}
    )


def merge_patch(body: bytes) -> Callable[[Settings], Settings] | None:
    """A JSON Merge Patch (PATCH) as a function from the stored settings to the new ones; None
    for `{}` (nothing to write: the stored object is the answer).

    Raises DocumentError before anything is stored: not an object, an unknown field, a value
    of the wrong type or out of range.
    """
    patch = decode_json(body, unique_keys=True)
    if not isinstance(patch, dict):
        raise DocumentError(
            f"a merge patch of the settings must be a JSON object, not {_kind(patch)}",
            schema=True,
        )
    for name in patch:
        if name not in _DEFAULTS:
            raise DocumentError(
                f"Object contains unknown field `{name}`", name, schema=True, named=True
            )
    # Validate the new values in place of the defaults: every field is independent, so a value
    # valid here is valid over whatever is stored.
    candidate = {**_DEFAULTS, **{k: v for k, v in patch.items() if v is not None}}
    validated = convert(candidate, Settings)
    values = {name: getattr(validated, name) for name in patch}
    if not values:
        return None
    return lambda current: msgspec.structs.replace(current, **values)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"

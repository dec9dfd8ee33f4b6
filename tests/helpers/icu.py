"""ICU itself, through ctypes, as the oracle of a locale's writing direction.

No Python binding is needed: the machine's ICU4C (`libicuuc`, which Chromium and libicu-dev
bring; `scripts/install` installs both) exports a C API whose symbols carry the ICU major
version as a suffix (`uloc_isRightToLeft_72`).

`icu_direction(tag)` is ICU's answer for a BCP 47 tag: `uloc_forLanguageTag` must parse the
whole tag (else None: ICU refuses it), then `uloc_isRightToLeft` (the script subtag decides, else
the likely script of CLDR's likely subtags). One step ICU's C function skips is done here with
ICU's own data: UTS #35 section 3.2.1 canonicalization of a deprecated or macrolanguage-member
language code and of a deprecated region (`arb` -> `ar`, `pes` -> `fa`, `YD` -> `YE`) from
ICU's `metadata` resource (the CLDR alias table), so `arb` (Standard Arabic) counts as Arabic.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import re
from collections.abc import Callable
from typing import Any

_BUFFER = 512
UCHAR_SCRIPT = 0x100A


@functools.cache
def _library() -> tuple[ctypes.CDLL, str]:
    name = ctypes.util.find_library("icuuc")
    if name is None:
        raise RuntimeError("libicuuc not found: install libicu-dev (scripts/install does)")
    lib = ctypes.CDLL(name)
    match = re.search(r"\.so\.(\d+)", name)
    if match is not None:
        return lib, f"_{match.group(1)}"
    for version in range(100, 49, -1):  # a library name without its version
        if hasattr(lib, f"uloc_isRightToLeft_{version}"):
            return lib, f"_{version}"
    return lib, ""


def _function(name: str, restype: Any, argtypes: list[Any]) -> Callable[..., Any]:
    lib, suffix = _library()
    function = getattr(lib, name + suffix)
    function.restype = restype
    function.argtypes = argtypes
    return function  # type: ignore[no-any-return]


_INT_P = ctypes.POINTER(ctypes.c_int)


def _string_call(name: str, value: bytes) -> str | None:
    """An ICU `f(const char*, char* out, int32_t capacity, UErrorCode*)` function's output."""
    function = _function(
        name, ctypes.c_int32, [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int32, _INT_P]
    )
    out = ctypes.create_string_buffer(_BUFFER)
    error = ctypes.c_int(0)
    function(value, out, _BUFFER, ctypes.byref(error))
    return None if error.value > 0 else out.value.decode()


def icu_version() -> str:
    return _library()[1].lstrip("_")


def locale_id(tag: str) -> str | None:
    """ICU's locale id for a BCP 47 tag (`ar-SA-u-nu-latn` -> `ar_SA@numbers=latn`), or None
    when ICU does not parse the whole tag."""
    function = _function(
        "uloc_forLanguageTag",
        ctypes.c_int32,
        [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_int32), _INT_P],
    )
    out = ctypes.create_string_buffer(_BUFFER)
    parsed = ctypes.c_int32(0)
    error = ctypes.c_int(0)
    function(tag.encode(), out, _BUFFER, ctypes.byref(parsed), ctypes.byref(error))
    if error.value > 0 or parsed.value != len(tag.encode()):
        return None
    return out.value.decode()


def _part(name: str, locale: str) -> str:
    return _string_call(name, locale.encode()) or ""


def _is_rtl(locale: str) -> bool:
    function = _function("uloc_isRightToLeft", ctypes.c_int8, [ctypes.c_char_p])
    return bool(function(locale.encode()))


@functools.cache
def aliases(kind: str) -> dict[str, str]:
    """ICU's CLDR alias table `kind` (`language`, `territory`, `script`): code -> replacement."""
    error = ctypes.c_int(0)
    void_p = ctypes.c_void_p
    open_direct = _function("ures_openDirect", void_p, [ctypes.c_char_p, ctypes.c_char_p, _INT_P])
    by_key = _function("ures_getByKey", void_p, [void_p, ctypes.c_char_p, void_p, _INT_P])
    by_index = _function("ures_getByIndex", void_p, [void_p, ctypes.c_int32, void_p, _INT_P])
    size = _function("ures_getSize", ctypes.c_int32, [void_p])
    key = _function("ures_getKey", ctypes.c_char_p, [void_p])
    string = _function(
        "ures_getUTF8StringByKey",
        ctypes.c_char_p,
        [
            void_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_int32),
            ctypes.c_int8,
            _INT_P,
        ],
    )
    close = _function("ures_close", None, [void_p])
    metadata = open_direct(None, b"metadata", ctypes.byref(error))
    alias = by_key(metadata, b"alias", None, ctypes.byref(error))
    table = by_key(alias, kind.encode(), None, ctypes.byref(error))
    if error.value > 0:
        raise RuntimeError(f"ICU has no alias table {kind!r} ({error.value})")
    found: dict[str, str] = {}
    for i in range(size(table)):
        item = by_index(table, i, None, ctypes.byref(error))
        out = ctypes.create_string_buffer(_BUFFER)
        length = ctypes.c_int32(_BUFFER)
        string(item, b"replacement", out, ctypes.byref(length), 1, ctypes.byref(error))
        found[key(item).decode()] = out.value.decode()
        close(item)
    for handle in (table, alias, metadata):
        close(handle)
    return found


def _canonical(locale: str) -> str:
    """The language and region of an ICU locale id replaced by their CLDR aliases (the
    replacement's region only when the locale names none, UTS #35 section 3.2.1)."""
    language = _part("uloc_getLanguage", locale)
    script = _part("uloc_getScript", locale)
    region = _part("uloc_getCountry", locale)
    replacement = aliases("language").get(language, "")
    if not re.fullmatch(r"[a-z]{2,3}(_[A-Z][a-z]{3})?(_[A-Z]{2}|_\d{3})?", replacement):
        replacement = ""  # none, or one that adds a variant: keep the code
    if replacement:
        language, _, rest = replacement.partition("_")
        for part in rest.split("_") if rest else []:
            if len(part) == 4 and not script:
                script = part
            elif len(part) in (2, 3) and not region:
                region = part
    region = aliases("territory").get(region, region).split(" ")[0]
    return language + "".join(f"_{part}" for part in (script, region) if part)


def icu_direction(tag: str) -> str | None:
    """ICU's `ltr`/`rtl` for a BCP 47 tag, or None when ICU does not parse the whole tag."""
    locale = locale_id(tag)
    if locale is None:
        return None
    return "rtl" if _is_rtl(_canonical(locale)) else "ltr"


def iso_codes(kind: str) -> list[str]:
    """The ISO 639 language (`languages`) or ISO 3166 region (`countries`) codes ICU knows."""
    function = _function(f"uloc_getISO{kind.capitalize()}", ctypes.POINTER(ctypes.c_char_p), [])
    pointer = function()
    codes: list[str] = []
    while pointer[len(codes)] is not None:
        codes.append(pointer[len(codes)].decode())
    return codes


def rtl_scripts() -> dict[str, bool]:
    """Every script code ICU knows (ISO 15924) -> whether it is written right to left."""
    max_value = _function("u_getIntPropertyMaxValue", ctypes.c_int32, [ctypes.c_int])
    short_name = _function("uscript_getShortName", ctypes.c_char_p, [ctypes.c_int])
    is_rtl = _function("uscript_isRightToLeft", ctypes.c_int8, [ctypes.c_int])
    found: dict[str, bool] = {}
    for code in range(max_value(UCHAR_SCRIPT) + 1):
        name = short_name(code)
        if name:
            found[name.decode()] = bool(is_rtl(code))
    return found

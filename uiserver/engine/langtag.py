"""Language tags (BCP 47, RFC 5646 section 2.1), parsed into their subtags.

A client's `locale` is a tag such as `ar-SA-u-nu-latn` (Arabic in Saudi Arabia, Latin digits):
what it says about the language is only in the language, extlang and script subtags (and the
region, for the likely script); extensions (`-u-nu-latn`, RFC 6067) and private use (`-x-...`)
say nothing about it, so nothing may be read from them by looking for words in the text.

    tag = parse_tag("ar-SA-u-nu-latn")
    tag.language, tag.region, tag.extensions    # "ar", "SA", (("u", ("nu", "latn")),)
    parse_tag("en-US-u-nu-arab").script          # None: "arab" here is a numbering system
    parse_tag("zh-yue").language                 # "yue": the extlang form (RFC 5646 4.5)
    parse_tag("ar-SA-!!")                        # None: not a well-formed tag

Rules: the ABNF of RFC 5646 section 2.1 (case-insensitive, section 2.1.1), with the two checks
of "valid" (section 2.2.9) that need no registry: no variant and no extension singleton twice.
The grandfathered tags of section 2.2.8 are recognised whole and carry the registry's preferred
value. `_` separates subtags as `-` does (Unicode locale identifiers, UTS #35 section 3.1:
WeChat's `wx.getSystemInfo().language` says `zh_CN`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# RFC 5646 section 2.1, the `langtag` production, over lower-cased text.
_LANGTAG = re.compile(
    r"""
    (?P<language>[a-z]{2,3}(?P<extlang>(?:-[a-z]{3}){0,3}) | [a-z]{4,8})
    (?:-(?P<script>[a-z]{4}))?
    (?:-(?P<region>[a-z]{2}|[0-9]{3}))?
    (?P<variants>(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*)
    (?P<extensions>(?:-[a-wyz0-9](?:-[a-z0-9]{2,8})+)*)
    (?:-x(?P<private>(?:-[a-z0-9]{1,8})+))?
    """,
    re.VERBOSE,
)
_PRIVATE_USE = re.compile(r"x(?P<private>(?:-[a-z0-9]{1,8})+)")
_EXTENSION = re.compile(r"-([a-wyz0-9])((?:-[a-z0-9]{2,8})+)")

# RFC 5646 section 2.2.8 (grandfathered tags) with the IANA Language Subtag Registry's
# Preferred-Value of each ("" where it has none).
GRANDFATHERED: dict[str, str] = {
    "en-gb-oed": "en-GB-oxendict",
    "i-ami": "ami",
    "i-bnn": "bnn",
    "i-default": "",
    "i-enochian": "",
    "i-hak": "hak",
    "i-klingon": "tlh",
    "i-lux": "lb",
    "i-mingo": "",
    "i-navajo": "nv",
    "i-pwn": "pwn",
    "i-tao": "tao",
    "i-tay": "tay",
    "i-tsu": "tsu",
    "sgn-be-fr": "sfb",
    "sgn-be-nl": "vgt",
    "sgn-ch-de": "sgg",
    "art-lojban": "jbo",
    "cel-gaulish": "",
    "no-bok": "nb",
    "no-nyn": "nn",
    "zh-guoyu": "cmn",
    "zh-hakka": "hak",
    "zh-min": "",
    "zh-min-nan": "nan",
    "zh-xiang": "hsn",
}


@dataclass(frozen=True, slots=True)
class LanguageTag:
    """A well-formed tag's subtags, in their conventional case (RFC 5646 section 2.1.1).

    `language` is the primary language subtag, or the extlang where the tag uses the extlang
    form (`zh-yue` is `yue`, section 4.5), or the grandfathered tag's preferred value; `und`
    for a private-use tag (`x-...`) and for a grandfathered tag without one. `script` is
    title case (`Arab`), `region` upper case (`SA`) or three digits (`419`); extensions are
    (singleton, subtags) pairs; `grandfathered` is the registered tag when the tag is one.
    """

    language: str
    script: str | None = None
    region: str | None = None
    variants: tuple[str, ...] = ()
    extensions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    private_use: tuple[str, ...] = ()
    extlangs: tuple[str, ...] = ()
    grandfathered: str | None = None


def _subtags(text: str | None) -> tuple[str, ...]:
    return tuple(text.strip("-").split("-")) if text else ()


def _grandfathered(key: str) -> LanguageTag:
    preferred = GRANDFATHERED[key]
    tag = parse_tag(preferred) if preferred else None
    language = tag.language if tag is not None else "und"
    region = tag.region if tag is not None else None
    variants = tag.variants if tag is not None else ()
    return LanguageTag(language, None, region, variants, grandfathered=key)


def parse_tag(text: str) -> LanguageTag | None:
    """The subtags of a BCP 47 tag, or None when it is not well-formed (RFC 5646 section 2.1)
    or repeats a variant or an extension singleton (section 2.2.9)."""
    key = text.replace("_", "-").lower()
    if not key.isascii():
        return None
    if key in GRANDFATHERED:
        return _grandfathered(key)
    private = _PRIVATE_USE.fullmatch(key)
    if private is not None:
        return LanguageTag("und", private_use=_subtags(private.group("private")))
    match = _LANGTAG.fullmatch(key)
    if match is None:
        return None
    variants = _subtags(match.group("variants"))
    extensions = tuple(
        (singleton, _subtags(subtags))
        for singleton, subtags in _EXTENSION.findall(match.group("extensions"))
    )
    singletons = [singleton for singleton, _ in extensions]
    if len(set(variants)) != len(variants) or len(set(singletons)) != len(singletons):
        return None
    extlangs = _subtags(match.group("extlang"))
    script = match.group("script")
    region = match.group("region")
    return LanguageTag(
        language=extlangs[0] if extlangs else match.group("language").partition("-")[0],
        script=script.title() if script else None,
        region=region.upper() if region else None,
        variants=variants,
        extensions=extensions,
        private_use=_subtags(match.group("private")),
        extlangs=extlangs,
    )

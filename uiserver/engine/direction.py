"""Writing direction of a locale: `rtl` for Arabic, Hebrew, Persian, Urdu..., else `ltr`.

The layout's theme carries it (`theme.direction`, schema 1, additive) so a client lays the page
out mirrored without a locale table of its own; the H5 preview sets `dir` from it.

The answer comes from the language and the script only, as ICU's `uloc_isRightToLeft` decides
(and these tables are checked against ICU in tests/unit/engine/test_direction.py):

1. the tag is parsed (`engine.langtag`, RFC 5646 section 2.1); a tag that is not well-formed is
   `ltr` (the default; the route does not refuse it: the contract takes any `locale` text);
2. a script subtag decides: `az-Arab` is rtl, `ar-Latn` ltr (the scripts whose characters are
   right-to-left, Unicode UAX #9 bidi class R/AL: `RTL_SCRIPTS`);
3. otherwise the language's likely script decides (Unicode CLDR likely subtags, UTS #35
   section 4.3), which for a few languages depends on the region (`pa` is Gurmukhi, `pa-PK`
   Arabic; `sd` is Arabic, `sd-IN` Devanagari; `und-SA` is Arabic): `RTL_LANGUAGES`, then
   `REGION_FLIPS`. Extensions and private use (`ar-SA-u-nu-latn`, `en-US-u-nu-arab`,
   `en-x-arab`) say nothing about the direction and are never read.

The tables are CLDR 42's likely subtags as ICU 72 applies them (the ICU Debian 12 ships), with
CLDR's language and region aliases applied first (`arb` -> `ar`, `pes` -> `fa`, `YD` -> `YE`:
UTS #35 section 3.2.1), which ICU's C function skips; `Gara` (Garay, Unicode 16) is added to
ICU 72's right-to-left scripts. `tests/helpers/icu.py` reads ICU's answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from uiserver.engine.langtag import LanguageTag, parse_tag
from uiserver.types import Direction


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Languages (ISO 639 codes, with CLDR's aliases) whose likely script is right to left.
RTL_LANGUAGES = _codes(
    "ae aeb ajt apc apd ar ara arb arc arq ars ary arz ave avl bal bcc bej bft bgn bqi brh "
    "cja ckb cld dcc dgl div drw dv fa fas fia fub gbz gjk gju glk grc gwc gwt haz he heb hnd "
    "hno iw ji kas kby khw ks kvx kxp kzh lad lah lki lrc luz mde mfa mki mvy myz mzn nqo oru "
    "ota otk oui pal pbu per pes phl phn pnb pra prd prs ps pus rhg rmt scl sd sdh shu skr "
    "smp snd sog swb syr tnf trw ug uig ur urd wni xco xld xmn xmr xna xpr xsa ydd yi yid zdj"
)
# ISO 15924 scripts written right to left (ICU `uscript_isRightToLeft`).
RTL_SCRIPTS = _codes(
    "Adlm Arab Armi Avst Chrs Cprt Elym Hatr Hebr Hung Khar Lydi Mand Mani Mend Merc Mero "
    "Narb Nbat Nkoo Orkh Ougr Palm Phli Phlp Phnx Prti Rohg Samr Sarb Sogd Sogo Syrc Thaa "
    "Yezi Gara"
)
# Language -> the regions where its likely script has the other direction (`und`: no
# language given, the region's likely language decides).
REGION_FLIPS: Mapping[str, frozenset[str]] = {
    "az": _codes("IQ IR 364 368"),
    "ha": _codes("CM SD 120 729 736"),
    "kk": _codes("AF CN IR MN 004 156 364 496"),
    "ku": _codes("LB 422"),
    "ky": _codes("CN 156"),
    "ms": _codes("CC 166"),
    "pa": _codes("PK 586"),
    "sd": _codes("IN 356"),
    "tg": _codes("PK 586"),
    "ug": _codes("KZ MN 398 496"),
    "uz": _codes("AF 004"),
    "aze": _codes("IQ IR 364 368"),
    "azj": _codes("IQ IR 364 368"),
    "emk": _codes("GN 324"),
    "hau": _codes("CM SD 120 729 736"),
    "kaz": _codes("AF CN IR MN 004 156 364 496"),
    "kir": _codes("CN 156"),
    "kmr": _codes("LB 422"),
    "kur": _codes("LB 422"),
    "man": _codes("GN 324"),
    "may": _codes("CC 166"),
    "mnk": _codes("GN 324"),
    "msa": _codes("CC 166"),
    "pan": _codes("PK 586"),
    "snd": _codes("IN 356"),
    "tgk": _codes("PK 586"),
    "uig": _codes("KZ MN 398 496"),
    "und": _codes(
        "AE AF BH DZ EG EH IL IQ IR JO KM KW LB LY MA MR MV NT OM PK PS QA SA SD SY TN YD "
        "YE 004 012 015 048 145 174 275 364 368 376 400 414 422 434 462 478 504 512 536 "
        "586 634 682 720 729 732 736 760 784 788 818 886 887"
    ),
    "uzb": _codes("AF 004"),
    "uzn": _codes("AF 004"),
    "zsm": _codes("CC 166"),
}


def tag_direction(tag: LanguageTag) -> Direction:
    """`rtl` or `ltr` for a parsed tag, from its script, else its language (and region)."""
    if tag.script is not None:
        return "rtl" if tag.script in RTL_SCRIPTS else "ltr"
    rtl = tag.language in RTL_LANGUAGES
    if tag.region is not None and tag.region in REGION_FLIPS.get(tag.language, ()):
        rtl = not rtl
    return "rtl" if rtl else "ltr"


@lru_cache(maxsize=4096)  # clients send a handful of locales; bounded for hostile ones
def direction_for(locale: str) -> Direction:
    """`rtl` or `ltr` for a BCP 47 locale (`ar-SA` -> rtl, `ar-SA-u-nu-latn` -> rtl,
    `en-US-u-nu-arab` -> ltr, `az-Arab` -> rtl, `zh-CN` -> ltr; not a tag -> ltr)."""
    tag = parse_tag(locale)
    return "ltr" if tag is None else tag_direction(tag)

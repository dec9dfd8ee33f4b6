"""A locale's writing direction from its language and script only (RFC 5646 tags), checked
against ICU itself (`tests/helpers/icu.py`: libicuuc through ctypes).

Extensions and private use never decide it: `ar-SA-u-nu-latn` (Arabic, Latin digits) is rtl,
`en-US-u-nu-arab` (English, Arabic-Indic digits) ltr. Every language code of two or three
letters, every region after `und`, and thousands of composed tags get ICU's answer.
"""

from __future__ import annotations

import itertools
import random
import string

import pytest

from tests.helpers.icu import icu_direction, locale_id, rtl_scripts
from uiserver.engine.direction import REGION_FLIPS, RTL_SCRIPTS, direction_for
from uiserver.engine.langtag import GRANDFATHERED, LanguageTag, parse_tag

LETTERS = string.ascii_lowercase
LANGUAGES = [a + b for a, b in itertools.product(LETTERS, repeat=2)] + [
    a + b + c for a, b, c in itertools.product(LETTERS, repeat=3)
]
REGIONS = [a + b for a, b in itertools.product(string.ascii_uppercase, repeat=2)] + [
    f"{n:03d}" for n in range(1000)
]


def mismatches(tags: list[str]) -> list[tuple[str, str, str | None]]:
    return [
        (t, direction_for(t), icu)
        for t in tags
        if (icu := icu_direction(t)) is not None and direction_for(t) != icu
    ]


@pytest.mark.parametrize(
    ("locale", "direction"),
    [
        # The inputs: a numbering system (`-u-nu-`, RFC 6067) is not a script.
        pytest.param("ar-SA-u-nu-latn", "rtl", id="arabic-latin-digits"),
        pytest.param("en-US-u-nu-arab", "ltr", id="english-arabic-digits"),
        # Siblings: the same subtags in extensions and private use, other languages.
        pytest.param("fa-IR-u-nu-latn", "rtl", id="persian-latin-digits"),
        pytest.param("he-IL-u-ca-gregory-nu-latn", "rtl", id="hebrew-two-keywords"),
        pytest.param("ur-PK-u-nu-arabext", "rtl", id="urdu-extended-digits"),
        pytest.param("en-x-arab", "ltr", id="private-use-arab"),
        pytest.param("en-GB-x-hebr-rtl", "ltr", id="private-use-hebr"),
        pytest.param("zh-CN-u-nu-arab", "ltr", id="chinese-arabic-digits"),
        pytest.param("ja-JP-t-ar-m0-ungegn", "ltr", id="transform-from-arabic"),
        pytest.param("de-a-arab-b-hebr", "ltr", id="other-singletons"),
        pytest.param("ar-EG-u-ca-islamic-x-latn", "rtl", id="arabic-private-latn"),
        pytest.param("en-arab", "rtl", id="script-subtag-arab"),
        pytest.param("az-Arab", "rtl", id="script-wins-rtl"),
        pytest.param("ar-Latn", "ltr", id="script-wins-ltr"),
        pytest.param("AR_sa", "rtl", id="case-and-underscore"),
        pytest.param("pa-PK", "rtl", id="likely-script-by-region"),
        pytest.param("sd-IN", "ltr", id="likely-script-by-region-ltr"),
        pytest.param("und-SA", "rtl", id="undetermined-language"),
        pytest.param("ar-arb", "rtl", id="extlang"),
        pytest.param("iw", "rtl", id="deprecated-hebrew"),
        pytest.param("x-arab", "ltr", id="private-use-only"),
        pytest.param("ar-SA-!!", "ltr", id="malformed"),
        pytest.param("ar-SA-u", "ltr", id="empty-extension"),
        pytest.param("ar-u-nu-latn-u-ca-islamic", "ltr", id="repeated-singleton"),
        pytest.param("", "ltr", id="empty"),
        pytest.param("ar--SA", "ltr", id="empty-subtag"),
        pytest.param("عربي", "ltr", id="not-ascii"),
    ],
)
def test_direction_comes_from_language_and_script(locale: str, direction: str) -> None:
    assert direction_for(locale) == direction
    assert icu_direction(locale) in (direction, None)  # ICU agrees, or refuses the tag


def test_every_language_code_gets_icus_answer() -> None:
    """All 18,252 codes of two and three letters (ISO 639-1/2/3 and unassigned ones)."""
    assert mismatches(LANGUAGES) == []


def test_every_region_gets_icus_answer_without_a_language() -> None:
    """`und-XX` and `und-NNN` (UN M.49): the region's likely language decides."""
    assert mismatches([f"und-{region}" for region in REGIONS]) == []


def test_regions_that_change_a_languages_script_get_icus_answer() -> None:
    languages = [*(lang for lang in REGION_FLIPS if len(lang) == 2), "und", "ar", "fa", "en", "mn"]
    assert mismatches([f"{lang}-{region}" for lang in languages for region in REGIONS]) == []


def test_a_sample_of_languages_and_regions_gets_icus_answer() -> None:
    rng = random.Random(5646)
    tags = [f"{rng.choice(LANGUAGES)}-{rng.choice(REGIONS)}" for _ in range(10_000)]
    assert mismatches(tags) == []


def test_every_script_icu_knows_decides_as_icu() -> None:
    scripts = rtl_scripts()
    assert {s for s, rtl in scripts.items() if rtl} <= RTL_SCRIPTS
    tags = [f"{lang}-{script}" for script in scripts for lang in ("und", "ar", "en", "he")]
    assert mismatches(tags) == []


def composed_tags() -> list[str]:
    """Language, script, region, variants, extensions and private use, combined."""
    languages = ["ar", "he", "fa", "ur", "en", "zh", "az", "pa", "sd", "ug", "und", "arb", "yi"]
    scripts = ["", "-Arab", "-Latn", "-Hebr", "-Cyrl", "-Hant", "-Thaa", "-Zyyy", "-Qaaa"]
    regions = ["", "-SA", "-US", "-IR", "-PK", "-IN", "-CN", "-419", "-145"]
    tails = [
        "",
        "-u-nu-arab",
        "-u-nu-latn",
        "-u-ca-islamic-nu-arabext",
        "-x-arab",
        "-x-hebr-rtl",
        "-x-latn",
        "-a-arab-b-latn",
        "-t-ar-m0-ungegn",
        "-1901",
        "-fonipa-u-nu-thai",
        "-valencia-x-arab",
    ]
    rng = random.Random(4646)
    combos = list(itertools.product(languages, scripts, regions, tails))
    return ["".join(parts) for parts in rng.sample(combos, 1500)]


def test_composed_tags_get_icus_answer() -> None:
    tags = composed_tags()
    assert all(locale_id(t) is not None for t in tags)  # ICU takes every one of them
    assert mismatches(tags) == []


@pytest.mark.parametrize("tag", sorted(GRANDFATHERED))
def test_grandfathered_tags_get_icus_answer(tag: str) -> None:
    assert direction_for(tag) == icu_direction(tag)


def test_parse_tag_names_every_subtag() -> None:
    assert parse_tag("ar-Arab-SA-1994-u-nu-latn-ca-islamic-x-private-use") == LanguageTag(
        language="ar",
        script="Arab",
        region="SA",
        variants=("1994",),
        extensions=(("u", ("nu", "latn", "ca", "islamic")),),
        private_use=("private", "use"),
    )
    assert parse_tag("EN-latn-gb") == LanguageTag("en", "Latn", "GB")
    assert parse_tag("zh_Hant_TW") == LanguageTag("zh", "Hant", "TW")
    assert parse_tag("es-419") == LanguageTag("es", None, "419")


def test_parse_tag_reads_extlang_and_grandfathered_forms() -> None:
    assert parse_tag("zh-yue-HK") == LanguageTag("yue", None, "HK", extlangs=("yue",))
    assert parse_tag("i-klingon") == LanguageTag("tlh", grandfathered="i-klingon")
    assert parse_tag("sgn-BE-FR") == LanguageTag("sfb", grandfathered="sgn-be-fr")
    assert parse_tag("en-GB-oed") == LanguageTag(
        "en", None, "GB", ("oxendict",), grandfathered="en-gb-oed"
    )
    assert parse_tag("x-whatever") == LanguageTag("und", private_use=("whatever",))


@pytest.mark.parametrize(
    "tag",
    [
        "a",
        "abcdefghi",
        "en-",
        "-en",
        "en--US",
        "en-US-",
        "en-u",
        "en-x",
        "en-x-abcdefghi",
        "en-a-b",
        "en-1234567890",
        "en-Latn-Latn",
        "en-US-US",
        "en-fonipa-fonipa",
        "en-u-nu-latn-u-ca-gregory",
        "en US",
        "en-ÜS",
        "12-US",
    ],
)
def test_malformed_tags_are_refused_as_icu_refuses_them(tag: str) -> None:
    assert parse_tag(tag) is None
    assert locale_id(tag) is None
    assert direction_for(tag) == "ltr"

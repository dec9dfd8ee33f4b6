"""Writing direction of a locale: `rtl` for Arabic, Hebrew, Persian, Urdu..., else `ltr`.

The layout's theme carries it (`theme.direction`, schema 1, additive) so a client lays the page
out mirrored without a locale table of its own; the H5 preview sets `dir` from it.
"""

from __future__ import annotations

from uiserver.types import Direction

# Languages written right to left (CLDR likely scripts Arab, Hebr, Thaa, Syrc, Nkoo, Adlm...),
# and scripts that decide it when a locale names its script (`az-Arab`, `ku-Arab`, `ur-Latn`).
RTL_LANGUAGES = frozenset(
    {
        "ar",
        "arc",
        "ckb",
        "dv",
        "fa",
        "he",
        "iw",
        "ks",
        "mzn",
        "pnb",
        "ps",
        "sd",
        "syr",
        "ug",
        "ur",
        "yi",
    }
)
RTL_SCRIPTS = frozenset({"arab", "hebr", "thaa", "syrc", "nkoo", "adlm", "rohg", "mand"})
LTR_SCRIPTS = frozenset({"latn", "cyrl", "hans", "hant", "jpan", "kore", "deva"})


def direction_for(locale: str) -> Direction:
    """`rtl` or `ltr` for a BCP 47 locale (`ar-SA` -> rtl, `az-Arab` -> rtl, `zh-CN` -> ltr)."""
    parts = locale.replace("_", "-").lower().split("-")
    for part in parts[1:]:
        if part in RTL_SCRIPTS:
            return "rtl"
        if part in LTR_SCRIPTS:
            return "ltr"
    return "rtl" if parts[0] in RTL_LANGUAGES else "ltr"

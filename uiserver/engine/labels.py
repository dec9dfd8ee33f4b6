"""Whether a label has visible text: the one rule lint, the engine's check and the console share.

`str.strip()` only removes whitespace; a zero-width space (U+200B, category Cf), a no-break space
(Zs) or a lone combining mark (Mn) survive it and are read out as nothing. A label needs at least
one character outside the invisible Unicode categories: other (Cc, Cf, Cs, Co, Cn), separators
(Zs, Zl, Zp) and marks (Mn, Mc, Me), which only decorate a base character (WCAG 4.1.2, 1.1.1).

A few characters of visible categories have no glyph either: the Hangul fillers (Lo; Unicode's
Default_Ignorable_Code_Point, DerivedCoreProperties.txt: U+115F, U+1160, U+3164, U+FFA0) and
the braille pattern blank U+2800 (So, a cell with no dots). They count as invisible too.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# First letters of the Unicode general categories that never carry visible text on their own.
INVISIBLE_CLASSES = frozenset("CZM")
# Letters and symbols drawn as nothing (see the module docstring).
BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


@lru_cache(maxsize=4096)  # a template's labels, checked on every cold render; bounded
def has_visible_text(label: str | None) -> bool:
    """True when `label` has a character a reader would see (a letter, digit, symbol...).

    Returns on the first visible character, so an ordinary label costs one lookup; the answer
    per label is cached.
    """
    if not label:
        return False
    category = unicodedata.category
    return any(category(ch)[0] not in INVISIBLE_CLASSES and ch not in BLANK_GLYPHS for ch in label)

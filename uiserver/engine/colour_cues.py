"""Not by colour alone (WCAG 1.4.1 use of colour; MIIT APP ageing-friendly specification 1.4,
clause number from memory): a state or badge prop (catalogue `PropSpec.state`) must carry text
or an icon, never a colour only. One rule for lint (refuses the template), the serving final
check (`engine.check`) and the assessment report (`engine.assess`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# A CSS colour: #RGB .. #RRGGBBAA, rgb()/rgba()/hsl()/hsla().
COLOUR = re.compile(r"#[0-9A-Fa-f]{3,8}|(rgb|hsl)a?\(.*\)", re.IGNORECASE)
# What carries a state besides its colour: text, or an icon.
CUES: tuple[str, ...] = ("text", "icon")


def colour_only(value: object) -> bool:
    """A state value that only a colour carries: a colour string, or an object with neither a
    non-blank text nor an icon (its colour alone)."""
    if isinstance(value, str):
        return COLOUR.fullmatch(value.strip()) is not None
    if isinstance(value, Mapping):
        cues = [value.get(k) for k in CUES]
        return not any(isinstance(cue, str) and cue.strip() for cue in cues)
    return False

"""Contrast readouts for the designer's colour pickers: each pair's ratio against the floor it
must meet, with the WCAG criterion, from the same tables as lint and serving (`engine.theme.PAIRS`,
`CONTRAST_FLOORS`, the policy's numbers), so the picker and the publish check cannot disagree.

    readouts(policy, palette={"text": "#777777", "background": "#FFFFFF", ...})
    -> [Readout("text", "background", "text", 4.48, 4.5, "WCAG 1.4.3", False), ...]
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import msgspec

from uiserver.engine.contrast import contrast_ratio
from uiserver.engine.theme import CONTRAST_FLOORS, PAIRS, PairKind
from uiserver.policy import Policy
from uiserver.schema import HexColour


class Pair(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A foreground on a background; `kind` text (words) or ui (shapes, WCAG 1.4.11)."""

    fg: HexColour
    bg: HexColour
    kind: PairKind = "text"
    name: str = ""  # what the caller calls it ("components[3].props.color")


class ContrastRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    palette: dict[str, HexColour | None] = {}
    pairs: list[Pair] = msgspec.field(default_factory=list)
    enhanced: bool = False  # the high-contrast (AAA) floors, as for `high_contrast_palette`


class Readout(msgspec.Struct):
    fg: str  # the palette field or the pair's name
    bg: str
    kind: PairKind
    fg_colour: str
    bg_colour: str
    ratio: float  # rounded down to 2 places, so a failing ratio never shows as passing
    floor: float
    source: str
    ok: bool


def readout(
    policy: Policy, fg: str, bg: str, fg_colour: str, bg_colour: str, kind: PairKind, enhanced: bool
) -> Readout:
    field, source = CONTRAST_FLOORS[kind, enhanced]
    floor: float = getattr(policy, field)
    ratio = contrast_ratio(fg_colour, bg_colour)
    return Readout(
        fg,
        bg,
        kind,
        fg_colour,
        bg_colour,
        math.floor(ratio * 100) / 100,
        floor,
        source,
        ratio >= floor,
    )


def readouts(policy: Policy, request: ContrastRequest) -> list[Readout]:
    """Every palette pair the engine checks (skipping unset colours), then the given pairs."""
    out = []
    palette: Mapping[str, str | None] = request.palette
    for fg, bg, kind in PAIRS:
        fg_colour, bg_colour = palette.get(fg), palette.get(bg)
        if fg_colour and bg_colour:
            out.append(readout(policy, fg, bg, fg_colour, bg_colour, kind, request.enhanced))
    for pair in request.pairs:
        out.append(
            readout(policy, pair.name or "fg", "bg", pair.fg, pair.bg, pair.kind, request.enhanced)
        )
    return out

"""Palettes and motion: pick the palette for (dark, enhanced), prove every pair meets its floor.

A template's palette is used as written when it passes; a failing pair is repaired by pushing the
foreground toward black or white (the smallest step that passes); a palette that cannot be
repaired is replaced by a built-in one. All of this runs once per template version in `compile`,
so a request never computes a contrast ratio on the hot path except in the final check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

from uiserver.engine.contrast import contrast_ratio
from uiserver.engine.explain import Reason
from uiserver.policy import Policy
from uiserver.schema import LayoutPalette, Palette, Settings, ThemeSpec
from uiserver.types import Motion

PairKind = Literal["text", "ui"]

# Every pair of a served palette: (foreground, background, kind). The same pairs as the lint
# (uiserver/lint/contrast.py): "text" pairs carry words, "ui" pairs shapes (WCAG 1.4.11).
PAIRS: tuple[tuple[str, str, PairKind], ...] = (
    ("text", "background", "text"),
    ("muted", "background", "text"),
    ("text", "surface", "text"),
    ("muted", "surface", "text"),
    ("on_primary", "primary", "text"),
    ("primary", "background", "ui"),
    ("primary", "surface", "ui"),
)

# (kind, enhanced) -> (policy field holding the floor, the criterion it comes from): the one table
# the lint and serving both read. Text pairs use the normal-size floor: a palette colours every
# size of text on the page, so the strictest size decides.
CONTRAST_FLOORS: Mapping[tuple[PairKind, bool], tuple[str, str]] = {
    ("text", False): ("text_contrast", "WCAG 1.4.3"),
    ("text", True): ("enhanced_text_contrast", "WCAG 1.4.6"),
    ("ui", False): ("ui_contrast", "WCAG 1.4.11"),
    ("ui", True): ("ui_contrast", "WCAG 1.4.11"),
}

FIELDS = ("text", "background", "primary", "on_primary", "muted", "surface")

# Built-in palettes, proved against the enhanced floors by
# tests/unit/engine/test_pipeline_stages.py.
LIGHT = LayoutPalette("#1F1F1F", "#FFFFFF", "#0842A0", "#FFFFFF", "#4A4A4A", "#F7F7F7")
DARK = LayoutPalette("#F2F2F2", "#121212", "#8AB4F8", "#0B1D3A", "#C8C8C8", "#1E1E1E")
HIGH_CONTRAST_LIGHT = LayoutPalette(
    "#000000", "#FFFFFF", "#0B3D91", "#FFFFFF", "#2B2B2B", "#FFFFFF"
)
HIGH_CONTRAST_DARK = LayoutPalette("#FFFFFF", "#000000", "#FFD60A", "#000000", "#E6E6E6", "#000000")
BUILT_IN: Mapping[tuple[bool, bool], LayoutPalette] = {
    (False, False): LIGHT,
    (True, False): DARK,
    (False, True): HIGH_CONTRAST_LIGHT,
    (True, True): HIGH_CONTRAST_DARK,
}

# (dark, enhanced) -> the template palettes to try, in order of preference.
PALETTE_SOURCES: Mapping[tuple[bool, bool], tuple[str, ...]] = {
    (False, False): ("palette",),
    (True, False): ("dark_palette",),
    (False, True): ("high_contrast_palette", "palette"),
    (True, True): ("dark_palette",),
}


def floor(policy: Policy, kind: PairKind, enhanced: bool) -> float:
    value: float = getattr(policy, CONTRAST_FLOORS[kind, enhanced][0])
    return value


def palette_problems(palette: LayoutPalette, policy: Policy, enhanced: bool) -> list[str]:
    """Every pair of `palette` below its floor, as readable problems (empty: it passes)."""
    problems = []
    for fg, bg, kind in PAIRS:
        a, b = getattr(palette, fg), getattr(palette, bg)
        need = floor(policy, kind, enhanced)
        ratio = contrast_ratio(a, b)
        if ratio < need:
            problems.append(f"contrast {fg} {a} on {bg} {b} is {ratio:.2f}:1 < {need:g}:1")
    return problems


def complete(palette: Palette) -> LayoutPalette:
    """The wire palette: `muted` defaults to `text`, `surface` to `background`."""
    return LayoutPalette(
        text=palette.text,
        background=palette.background,
        primary=palette.primary,
        on_primary=palette.on_primary,
        muted=palette.muted or palette.text,
        surface=palette.surface or palette.background,
    )


def _mix(colour: str, target: str, t: float) -> str:
    a = colour.lstrip("#")
    b = target.lstrip("#")
    out = []
    for i in (0, 2, 4):
        x, y = int(a[i : i + 2], 16), int(b[i : i + 2], 16)
        out.append(round(x + (y - x) * t))
    return "#{:02X}{:02X}{:02X}".format(*out)


def push(fg: str, bg: str, need: float) -> str | None:
    """The colour nearest `fg` (toward black or white) with contrast >= `need` on `bg`."""
    found: list[tuple[int, str]] = []
    for target in ("#000000", "#FFFFFF"):
        for step in range(1, 21):
            candidate = _mix(fg, target, step / 20)
            if contrast_ratio(candidate, bg) >= need:
                found.append((step, candidate))
                break
    return min(found)[1] if found else None


def repair(palette: LayoutPalette, policy: Policy, enhanced: bool) -> LayoutPalette | None:
    """Push failing foregrounds until every pair passes; None when that cannot work."""
    colours = {name: getattr(palette, name) for name in FIELDS}
    for _ in range(4):
        failed = False
        for fg, bg, kind in PAIRS:
            need = floor(policy, kind, enhanced)
            if contrast_ratio(colours[fg], colours[bg]) >= need:
                continue
            failed = True
            fixed = push(colours[fg], colours[bg], need)
            if fixed is None:
                return None
            colours[fg] = fixed
        if not failed:
            return LayoutPalette(**colours)
    candidate = LayoutPalette(**colours)
    return None if palette_problems(candidate, policy, enhanced) else candidate


def resolve_palette(
    theme: ThemeSpec, policy: Policy, *, dark: bool, enhanced: bool
) -> tuple[LayoutPalette, tuple[str, ...]]:
    """The palette served for (dark, enhanced) and why: template, repaired, or built-in."""
    reasons: list[str] = []
    if dark:
        reasons.append(Reason.CONTEXT_DARK)
    for source in PALETTE_SOURCES[dark, enhanced]:
        written: Palette | None = getattr(theme, source)
        if written is None:
            continue
        palette = complete(written)
        if not palette_problems(palette, policy, enhanced):
            return palette, tuple(reasons)
        fixed = repair(palette, policy, enhanced)
        if fixed is not None:
            return fixed, (*reasons, Reason.A11Y_CONTRAST_FIX)
        break
    built_in = BUILT_IN[dark, enhanced]
    has_own = any(getattr(theme, s) is not None for s in PALETTE_SOURCES[dark, enhanced])
    if has_own:
        reasons.append(Reason.A11Y_CONTRAST_FALLBACK)
    return built_in, tuple(reasons)


# --------------------------------------------------------------------------- motion

MOTION_RANK: Mapping[Motion, int] = {"full": 0, "reduced": 1, "none": 2}

# (does it apply, motion it asks for, reason). The strongest applicable level wins; every rule
# that asked for motion below "full" is named.
MotionRule = tuple[Callable[[Settings, bool, bool], bool], Motion, str]
MOTION_RULES: tuple[MotionRule, ...] = (
    (lambda s, elderly, low_power: low_power, "none", Reason.CONTEXT_LOW_POWER),
    (lambda s, elderly, low_power: elderly, "reduced", Reason.ELDERLY_MOTION),
    (lambda s, elderly, low_power: s.reduce_motion, "reduced", Reason.A11Y_REDUCE_MOTION),
    (lambda s, elderly, low_power: s.screen_reader, "reduced", Reason.A11Y_SCREEN_READER),
)


def motion_for(
    settings: Settings, elderly: bool, low_power: bool
) -> tuple[Motion, tuple[str, ...]]:
    level: Motion = "full"
    reasons: list[str] = []
    for applies, wanted, reason in MOTION_RULES:
        if applies(settings, elderly, low_power):
            reasons.append(reason)
            if MOTION_RANK[wanted] > MOTION_RANK[level]:
                level = wanted
    return level, tuple(reasons)

"""Contrast lint of template palettes: every pair the engine serves, against the policy's floors.

The pairs and floors are the engine's own tables (`engine.theme.PAIRS`, `CONTRAST_FLOORS`), so
what lint accepts is exactly what serving can use without repair.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

from uiserver.catalog import Catalog
from uiserver.engine.contrast import contrast_ratio
from uiserver.engine.theme import CONTRAST_FLOORS, PAIRS
from uiserver.policy import Policy
from uiserver.schema import Palette, Problem, Template, ThemeSpec

# Theme palette fields, and whether each must meet the enhanced (AAA, 7:1) text floor. The
# pairs checked and their floors are the engine's (`engine.theme.PAIRS`, `CONTRAST_FLOORS`), so
# lint and serving check the same thing.
PALETTE_FIELDS: Mapping[str, bool] = {
    "palette": False,
    "dark_palette": False,
    "high_contrast_palette": True,
}


def check_palettes(template: Template, catalog: Catalog, policy: Policy) -> Iterator[Problem]:
    themes: list[tuple[str, ThemeSpec | None]] = [("theme", template.theme)]
    themes += [(f"variants[{i}].theme", v.theme) for i, v in enumerate(template.variants)]
    for where, theme in themes:
        if theme is None:
            continue
        for field, enhanced in PALETTE_FIELDS.items():
            palette = getattr(theme, field)
            if palette is not None:
                yield from lint_palette(
                    palette, policy, enhanced=enhanced, where=f"{where}.{field}"
                )


def lint_palette(
    palette: Palette, policy: Policy, *, enhanced: bool = False, where: str = "palette"
) -> list[Problem]:
    """Every contrast pair of a palette against the policy's floors (AA, or AAA if enhanced)."""
    problems = []
    for fg_name, bg_name, kind in PAIRS:
        fg, bg = getattr(palette, fg_name), getattr(palette, bg_name)
        if fg is None or bg is None:
            continue
        floor_field, source = CONTRAST_FLOORS[kind, enhanced]
        floor: float = getattr(policy, floor_field)
        ratio = contrast_ratio(fg, bg)
        if ratio < floor:
            # Round as contrast checkers do (4.48), but never up to a passing-looking 4.50.
            shown = round(ratio, 2)
            if shown >= floor:
                shown = math.floor(ratio * 100) / 100
            problems.append(
                Problem(
                    f"{where}.{fg_name}",
                    f"{fg_name} {fg} on {bg_name} {bg} has contrast {shown:.2f}:1, below "
                    f"{floor:g}:1 for {'text' if kind == 'text' else 'UI parts'} ({source})",
                )
            )
    return problems

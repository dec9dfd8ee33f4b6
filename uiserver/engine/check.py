"""The final check: every rule re-verified on the layout itself, not on how it was made.

`render` never returns a layout with a problem here: it falls back to the base layout with
every rule applied, and raises if even that fails (a template lint should have refused).
"""

from __future__ import annotations

from functools import lru_cache

from uiserver.engine.cap import change_count
from uiserver.engine.compiled import CompiledTemplate
from uiserver.engine.labels import has_visible_text
from uiserver.engine.plan import RATIO_DIGITS
from uiserver.engine.rules import ELDERLY_SHOW_TYPES
from uiserver.engine.theme import palette_problems
from uiserver.policy import Policy
from uiserver.schema import Layout, LayoutPalette

EPSILON = 1e-9
# Ratios on the wire are rounded (RATIO_DIGITS decimals): cap vs max_change x strength may
# differ by the two roundings.
WIRE_TOLERANCE = 10.0 ** -RATIO_DIGITS


class LayoutRuleError(RuntimeError):
    """Even the base layout breaks a rule: the template must not be served."""


@lru_cache(maxsize=256)
def _palette_problems(palette: LayoutPalette, policy: Policy, enhanced: bool) -> tuple[str, ...]:
    """Palettes are few (a handful per template version): check each pair once."""
    return tuple(palette_problems(palette, policy, enhanced))


def check_layout(layout: Layout, compiled: CompiledTemplate, policy: Policy) -> list[str]:
    """Every rule of DESIGN section 4 the layout breaks, as readable problems."""
    view = compiled.views.get((layout.variant, layout.mode))
    if view is None:
        return [f"unknown variant {layout.variant!r} / mode {layout.mode!r}"]
    problems: list[str] = []
    elderly = layout.mode == "elderly"
    theme = layout.theme
    enhanced = theme.high_contrast or elderly
    problems.extend(_palette_problems(theme.palette, policy, enhanced))
    if elderly:
        if not theme.high_contrast:
            problems.append("elderly: theme must use the enhanced-contrast palette")
        if theme.font_px < policy.elderly_font_px:
            problems.append(f"elderly: theme font {theme.font_px} < {policy.elderly_font_px}")
        if theme.line_height < policy.elderly_line_height:
            problems.append(
                f"elderly: line height {theme.line_height} < {policy.elderly_line_height}"
            )
        if theme.motion == "full":
            problems.append("elderly: motion must be reduced")

    index = compiled.index
    comps = view.comps
    min_target = policy.min_target_px
    absolute_min = policy.absolute_min_target_px
    elderly_font = policy.elderly_font_px
    elderly_main = policy.elderly_main_target_px
    elderly_other = policy.elderly_target_px
    still = theme.motion != "full"
    ids: list[str] = []
    placements: dict[str, str] = {}
    largest = 0.0
    voice_nav = False
    for lc in layout.components:
        cid = lc.id
        i = index.get(cid)
        if i is None:
            problems.append(f"{cid}: not a component of the template")
            continue
        if cid in placements:
            problems.append(f"{cid}: appears twice")
        ids.append(cid)
        placements[cid] = lc.placement
        c = comps[i]
        font = lc.font_px
        target = lc.min_target_px
        if font > largest:
            largest = font
        if lc.label != c.label or lc.role != c.role or lc.type != c.type:
            problems.append(f"{cid}: renamed (label, role and type never change)")
        if (c.interactive or c.image) and (not lc.role or not has_visible_text(lc.label)):
            problems.append(f"{cid}: interactive or image component without label or role")
        if font < c.min_font_px:
            problems.append(f"{cid}: font {font} < catalogue minimum {c.min_font_px}")
        if target < absolute_min or (c.interactive and target < min_target):
            problems.append(f"{cid}: touch target {target} below the minimum")
        if still and c.animated and lc.props.get("autoplay") is not False:
            problems.append(f"{cid}: animated component auto-plays with motion {theme.motion}")
        if lc.pinned != c.pinned:
            problems.append(f"{cid}: pinned flag changed")
        if lc.placement != c.placement and not c.action:
            problems.append(f"{cid}: only action buttons change placement")
        if elderly:
            if c.type in ELDERLY_SHOW_TYPES:
                voice_nav = True
            if font < elderly_font:
                problems.append(f"{cid}: elderly font {font} < {elderly_font}")
            if c.interactive and target < (elderly_main if c.main else elderly_other):
                problems.append(f"{cid}: elderly target {target} too small")
            if c.ad or c.promo:
                problems.append(f"{cid}: ads and promotions are not shown in elderly mode")
    if elderly and layout.components and largest < policy.elderly_max_font_px:
        problems.append(f"elderly: largest font {largest} < {policy.elderly_max_font_px}")
    if elderly and view.has_voice_nav and not voice_nav:
        problems.append("elderly: voice navigation entry missing")

    # The cap, measured exactly as DESIGN section 5 defines it, against this view's base.
    base_ids = view.base_ids
    n = len(base_ids)
    info = layout.personalization
    changed = change_count(base_ids, view.base_placements, ids, placements, view.base_index)
    ratio = round(changed / n, RATIO_DIGITS) if n else 0.0
    if abs(info.cap - policy.max_change * info.strength) > WIRE_TOLERANCE:
        problems.append(f"cap {info.cap} is not max_change x strength")
    if ratio > info.cap + EPSILON:
        problems.append(f"changed ratio {ratio:.3f} exceeds the cap {info.cap:.3f}")
    if abs(ratio - info.changed_ratio) > EPSILON:
        problems.append(f"reported changed ratio {info.changed_ratio} != measured {ratio}")

    # Pinned components: present, same placement, same place among the common components.
    if view.pinned_ids:
        base_placements = view.base_placements
        common = [cid for cid in ids if cid in base_placements]
        base_common = [cid for cid in base_ids if cid in placements]
        for cid in view.pinned_ids:
            if cid not in placements:
                problems.append(f"{cid}: pinned component hidden")
            elif common.index(cid) != base_common.index(cid):
                problems.append(f"{cid}: pinned component moved")
            elif placements[cid] != base_placements[cid]:
                problems.append(f"{cid}: pinned component changed placement")
    return problems

"""The final check: every rule re-verified on the layout itself, not on how it was made.

`render` never returns a layout with a problem here: it falls back to the base layout with
every rule applied, and raises if even that fails (a template lint should have refused).
"""

from __future__ import annotations

from uiserver.engine.cap import change_count
from uiserver.engine.compiled import CompiledTemplate
from uiserver.engine.rules import ELDERLY_SHOW_TYPES
from uiserver.engine.theme import palette_problems
from uiserver.policy import Policy
from uiserver.schema import Layout

EPSILON = 1e-9


class LayoutRuleError(RuntimeError):
    """Even the base layout breaks a rule: the template must not be served."""


def check_layout(layout: Layout, compiled: CompiledTemplate, policy: Policy) -> list[str]:
    """Every rule of DESIGN section 4 the layout breaks, as readable problems."""
    view = compiled.views.get((layout.variant, layout.mode))
    if view is None:
        return [f"unknown variant {layout.variant!r} / mode {layout.mode!r}"]
    problems: list[str] = []
    elderly = layout.mode == "elderly"
    theme = layout.theme
    enhanced = theme.high_contrast or elderly
    problems.extend(palette_problems(theme.palette, policy, enhanced))
    if elderly:
        if not theme.high_contrast:
            problems.append("elderly: theme must use the enhanced-contrast palette")
        if theme.font_px < policy.elderly_font_px:
            problems.append(f"elderly: theme font {theme.font_px} < {policy.elderly_font_px}")
        if theme.line_height < policy.elderly_line_height:
            problems.append(f"elderly: line height {theme.line_height} < {policy.elderly_line_height}")
        if theme.motion == "full":
            problems.append("elderly: motion must be reduced")

    index = compiled.index
    comps = view.comps
    seen: set[str] = set()
    largest = 0.0
    voice_nav = False
    for lc in layout.components:
        i = index.get(lc.id)
        if i is None:
            problems.append(f"{lc.id}: not a component of the template")
            continue
        if lc.id in seen:
            problems.append(f"{lc.id}: appears twice")
        seen.add(lc.id)
        c = comps[i]
        where = lc.id
        if (c.interactive or c.image) and (not lc.label.strip() or not lc.role):
            problems.append(f"{where}: interactive or image component without label or role")
        if lc.label != c.label or lc.role != c.role or lc.type != c.type:
            problems.append(f"{where}: renamed (label, role and type never change)")
        if lc.font_px < c.min_font_px:
            problems.append(f"{where}: font {lc.font_px} < catalogue minimum {c.min_font_px}")
        if lc.min_target_px < policy.absolute_min_target_px:
            problems.append(f"{where}: target {lc.min_target_px} < {policy.absolute_min_target_px}")
        if c.interactive and lc.min_target_px < policy.min_target_px:
            problems.append(f"{where}: target {lc.min_target_px} < {policy.min_target_px}")
        if c.animated and theme.motion != "full" and lc.props.get("autoplay") is not False:
            problems.append(f"{where}: animated component auto-plays with motion {theme.motion}")
        if lc.pinned != c.pinned:
            problems.append(f"{where}: pinned flag changed")
        if lc.placement != c.placement and not c.action:
            problems.append(f"{where}: only action buttons change placement")
        largest = max(largest, lc.font_px)
        if elderly:
            voice_nav = voice_nav or c.type in ELDERLY_SHOW_TYPES
            if lc.font_px < policy.elderly_font_px:
                problems.append(f"{where}: elderly font {lc.font_px} < {policy.elderly_font_px}")
            if c.interactive:
                need = policy.elderly_main_target_px if c.main else policy.elderly_target_px
                if lc.min_target_px < need:
                    problems.append(f"{where}: elderly target {lc.min_target_px} < {need}")
            if c.ad or c.promo:
                problems.append(f"{where}: ads and promotions are not shown in elderly mode")
    if elderly and layout.components and largest < policy.elderly_max_font_px:
        problems.append(f"elderly: largest font {largest} < {policy.elderly_max_font_px}")
    if elderly and view.has_voice_nav and not voice_nav:
        problems.append("elderly: voice navigation entry missing")

    # The cap, measured exactly as DESIGN section 5 defines it, against this view's base.
    ids = [lc.id for lc in layout.components]
    placements = {lc.id: lc.placement for lc in layout.components}
    base_ids = view.base_ids
    n = len(base_ids)
    info = layout.personalization
    changed = change_count(base_ids, view.base_placements, ids, placements)
    ratio = changed / n if n else 0.0
    if abs(info.cap - policy.max_change * info.strength) > EPSILON:
        problems.append(f"cap {info.cap} is not max_change x strength")
    if ratio > info.cap + EPSILON:
        problems.append(f"changed ratio {ratio:.3f} exceeds the cap {info.cap:.3f}")
    if abs(ratio - info.changed_ratio) > EPSILON:
        problems.append(f"reported changed ratio {info.changed_ratio} != measured {ratio}")

    # Pinned components: present, same placement, same place among the common components.
    if view.pinned_ids:
        present = set(ids)
        base_set = set(base_ids)
        common = [cid for cid in ids if cid in base_set]
        base_common = [cid for cid in base_ids if cid in present]
        for cid in view.pinned_ids:
            if cid not in present:
                problems.append(f"{cid}: pinned component hidden")
            elif common.index(cid) != base_common.index(cid):
                problems.append(f"{cid}: pinned component moved")
            elif placements[cid] != view.base_placements[cid]:
                problems.append(f"{cid}: pinned component changed placement")
    return problems

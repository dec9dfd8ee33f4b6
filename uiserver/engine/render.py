"""`render`: a Plan becomes the wire Layout (DESIGN section 5), every rule applied.

Pure function of (compiled, plan): no clock, no randomness, no user id. Sizes that do not
depend on the user were computed in compile; here only the font multiplier, props patches and
reasons are per call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from uiserver.engine.compiled import (
    RENDERED_LAUNCHES,
    RENDERED_MAX,
    CompiledTemplate,
    static_row,
)
from uiserver.engine.elderly import extras, needs, reflow
from uiserver.engine.explain import Reason
from uiserver.engine.plan import Plan
from uiserver.engine.prop_rules import PROP_RULES, active_patches
from uiserver.engine.variant_base import VariantBase
from uiserver.policy import Policy
from uiserver.schema import (
    ElderlyInfo,
    Layout,
    LayoutComponent,
    LayoutTheme,
    PersonalizationInfo,
)
from uiserver.types import TABLIST

SCHEMA_VERSION = 1


def render_plan(ct: CompiledTemplate, plan: Plan, policy: Policy) -> Layout:
    view = ct.views[plan.variant, plan.mode]
    comps = view.comps
    extra: dict[int, list[str]] = {}
    for i, reason in (*plan.reasons, *plan.folds):
        extra.setdefault(i, []).append(reason)
    folded = {i for i, reason in plan.folds if reason == Reason.ELDERLY_MORE}
    placed = dict(plan.placements)
    patches = active_patches(plan)
    scale = plan.font_scale
    font_reasons = plan.font_reasons
    drops = ct.colour_drops.get((plan.variant, plan.dark)) if plan.enhanced else None

    # Components this plan changes nothing about but the font scale get the shared rendering.
    row_key = (plan.variant, plan.mode, scale, font_reasons if scale != 1.0 else ())
    # A screen-reader user's components all carry `speech`: none is the shared rendering.
    statics = None if plan.speech and not view.paragraph_spacing else static_row(ct, row_key)
    touched = _touched(ct, plan, extra, placed, drops, patches)
    if plan.max_columns:
        touched.update(view.reflowable)
    # Elderly mode touches most components (per-plan fold reasons, reflow): they come from a
    # memo by what their rendering depends on (`_component`). In standard mode the shared
    # rows cover most of them and the memo's keys would cost more than they save.
    memo = _rendered(ct, plan, row_key) if plan.mode == "elderly" else None

    components: list[LayoutComponent] = []
    append = components.append
    for i in plan.order:
        if statics is not None and i not in touched:
            append(statics[i])
            continue
        c = comps[i]
        patched: tuple[tuple[str, Any, str], ...] = ()
        if patches:
            patched = tuple(
                (key, v, reason)
                for flag, key, value, reason in patches
                if getattr(c, flag) and (v := value(c, plan)) is not None
            )
        key = (
            i,
            tuple(extra[i]) if i in extra else (),
            placed.get(i, c.placement) if placed else c.placement,
            patched,
            drops.get(i, ()) if drops else (),
            i in folded,
        )
        if memo is None:
            append(_component(view, plan, *key))
            continue
        lc = memo.get(key)
        if lc is None:
            if len(memo) >= RENDERED_MAX:
                memo.clear()
            lc = memo[key] = _component(view, plan, *key)
        append(lc)

    theme, page_reasons = _theme(ct, plan, policy)
    elderly = _elderly(plan, policy, page_reasons, components) if plan.mode == "elderly" else None
    return Layout(
        schema=SCHEMA_VERSION,
        page=ct.page,
        template_version=ct.version,
        variant=plan.variant,
        mode=plan.mode,
        theme=theme,
        components=components,
        personalization=PersonalizationInfo(
            strength=plan.strength,
            cap=plan.cap,
            changed_ratio=plan.changed_ratio,
            capped=plan.capped,
            changes=list(plan.changes),
        ),
        reasons=page_reasons,
        elderly=elderly,
    )


def _rendered(
    ct: CompiledTemplate, plan: Plan, row_key: tuple[Any, ...]
) -> dict[tuple[Any, ...], LayoutComponent]:
    """The memo of touched components for this launch shape (the static row's key, the reflow
    limits, speech: what `_component` reads of the plan), made on first use (bounded)."""
    launch = (*row_key, plan.max_columns, plan.max_tabs, plan.speech)
    memo = ct.rendered.get(launch)
    if memo is None:
        if len(ct.rendered) >= RENDERED_LAUNCHES:
            ct.rendered.clear()
        memo = ct.rendered[launch] = {}
    return memo


def _component(
    view: VariantBase,
    plan: Plan,
    i: int,
    extra: tuple[str, ...],
    placement: str,
    patched: tuple[tuple[str, Any, str], ...],
    dropped: tuple[str, ...],
    folded: bool,
) -> LayoutComponent:
    """Component `i` of `view` as `plan` serves it: its per-plan reasons (`extra`), placement,
    prop patches (key, value, reason), colour props dropped, folded or not; the font scaled
    and floored, reflowed, with the mode's extra fields. A pure function of its arguments and
    of the plan's font scale, reflow limits and speech (`render_plan` memoizes it by them)."""
    c = view.comps[i]
    reasons = [*extra, *view.static_reasons[i]]
    font = c.font_px
    scale = plan.font_scale
    if scale != 1.0:
        font = round(font * scale, 1)
        reasons.extend(plan.font_reasons)
    if font < view.font_floor[i]:
        font = view.font_floor[i]
        reasons.append(view.font_floor_reason[i])
    props: dict[str, Any] = dict(c.props)
    for key, value, reason in patched:
        props[key] = value
        reasons.append(reason)
    if dropped:
        for key in dropped:
            del props[key]
        reasons.append(Reason.A11Y_COLOUR_DROPPED)
    reflow(c, props, plan.max_tabs if c.role == TABLIST else plan.max_columns, reasons)
    more = extras(c, font, view, speech=plan.speech)
    # Positional: the field order of LayoutComponent (schema.py).
    return LayoutComponent(
        c.id,
        c.type,
        c.role,
        c.label,
        font,
        view.target_px[i],
        placement,
        c.pinned,
        props,
        reasons,
        folded=folded,
        **more,
    )


def _elderly(
    plan: Plan, policy: Policy, page_reasons: list[str], components: list[LayoutComponent]
) -> ElderlyInfo:
    """The elderly block: every need applied, the More entry when something is folded, the help
    entry's kind, the one-time prompt (its reason added to `page_reasons`)."""
    if plan.prompt:
        page_reasons.append(Reason.ELDERLY_PROMPT)
    return ElderlyInfo(
        needs=needs(page_reasons, [lc.reasons for lc in components]),
        max_columns=policy.elderly_max_columns,
        max_entries=policy.elderly_max_entries,
        more_label=policy.elderly_more_label if any(lc.folded for lc in components) else None,
        help=policy.elderly_help if any("help" in lc.props for lc in components) else None,
        prompt="elderly_mode" if plan.prompt else None,
    )


def _touched(
    ct: CompiledTemplate,
    plan: Plan,
    extra: Mapping[int, list[str]],
    placed: Mapping[int, str],
    drops: Mapping[int, tuple[str, ...]] | None,
    patches: Sequence[tuple[str, str, Any, str]],
) -> set[int]:
    """The components this plan changes beyond the font scale (they cannot share a row)."""
    touched: set[int] = set(extra)
    touched.update(placed)
    if drops:
        touched.update(drops)
    if patches:
        flagged = ct.flagged.get(plan.variant)
        if flagged is None:
            comps = ct.views[plan.variant, plan.mode].comps
            flagged = ct.flagged[plan.variant] = {
                flag: frozenset(i for i, c in enumerate(comps) if getattr(c, flag))
                for flag, *_ in PROP_RULES
            }
        for flag, _, _, _ in patches:
            touched.update(flagged[flag])
    return touched


def _theme(ct: CompiledTemplate, plan: Plan, policy: Policy) -> tuple[LayoutTheme, list[str]]:
    """The page's theme (font scaled, never under the elderly body size: MIIT 1.1) and the
    page-level reasons."""
    view = ct.views[plan.variant, plan.mode]
    scale = plan.font_scale
    font_px = round(view.font_px * scale, 1)
    if plan.mode == "elderly" and font_px < policy.elderly_font_px:
        font_px = policy.elderly_font_px
    palette, palette_reasons = ct.palettes[plan.variant, plan.dark, plan.enhanced]
    page_reasons = [*view.page_reasons, *palette_reasons]
    if plan.enhanced_reason is not None:
        page_reasons.append(plan.enhanced_reason)
    page_reasons.extend(plan.motion_reasons)
    page_reasons.extend(plan.font_reasons if scale != 1.0 else ())
    theme = LayoutTheme(
        font_px=font_px,
        line_height=view.line_height,
        motion=plan.motion,
        high_contrast=plan.enhanced,
        palette=palette,
        dark=plan.dark,
        direction=plan.direction,
        paragraph_spacing=view.paragraph_spacing or None,
    )
    return theme, page_reasons

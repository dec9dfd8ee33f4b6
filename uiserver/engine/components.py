"""A component instance resolved against the catalogue for one variant: label (or its fallback),
sizes, flags and props in one flat, immutable record the rest of the engine reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from uiserver.schema import ComponentSpec, ComponentType, ThemeSpec


@dataclass(frozen=True, slots=True)
class ResolvedComponent:
    """One component instance, resolved against the catalogue for one variant."""

    idx: int
    id: str
    type: str
    role: str
    label: str
    label_fallback: bool
    pinned: bool
    visible: bool
    key: str  # affinity key: the category, else the id
    placement: str
    props: Mapping[str, Any]
    font_px: float
    min_font_px: float
    target_px: float
    interactive: bool
    image: bool
    animated: bool
    grid: bool
    columns: int
    main: bool
    action: bool
    essential: bool
    ad: bool
    promo: bool
    show_for: frozenset[str]  # segments, and scenes as `scene:<value>` (see scene_tags)
    hide_for: frozenset[str]

SCENE_PREFIX = "scene:"


def scene_tags(scenes: Iterable[str]) -> frozenset[str]:
    """Scenes as rule tags (`scene:rain`): one rule set serves segments and scenes, and the
    tag is the reason a scene rule gives (`scene:rain`, beside `segment:churn_risk`)."""
    return frozenset(SCENE_PREFIX + s for s in scenes)


def _humanize(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def resolve_component(
    i: int, spec: ComponentSpec, ctype: ComponentType, theme: ThemeSpec, patch: Mapping[str, Any]
) -> ResolvedComponent:
    interactive = ctype.interactive or ctype.action
    needs_label = ctype.label_required or interactive or ctype.image
    label = (spec.label or "").strip()
    fallback = needs_label and not label
    if fallback:
        label = ctype.description.strip() or _humanize(ctype.name)
    font = spec.font_px or round(ctype.default_font_px * theme.font_px / 16.0, 1)
    target = max(spec.min_target_px or ctype.default_target_px, ctype.min_target_px)
    props = {**spec.props, **patch} if patch else dict(spec.props)
    return ResolvedComponent(
        idx=i,
        id=spec.id,
        type=spec.type,
        role=ctype.role,
        label=label,
        label_fallback=fallback,
        pinned=spec.pinned,
        visible=spec.visible,
        key=spec.category or spec.id,
        placement=spec.placement,
        props=props,
        font_px=font,
        min_font_px=ctype.min_font_px,
        target_px=target,
        interactive=interactive,
        image=ctype.image,
        animated=ctype.animated,
        grid=ctype.grid,
        columns=ctype.columns,
        main=ctype.main if spec.main is None else spec.main,
        action=ctype.action,
        essential=ctype.essential,
        ad=ctype.ad,
        promo=ctype.promo,
        show_for=frozenset(spec.show_for_segments) | scene_tags(spec.show_for_scenes),
        hide_for=frozenset(spec.hide_for_segments) | scene_tags(spec.hide_for_scenes),
    )

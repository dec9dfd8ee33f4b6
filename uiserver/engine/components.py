"""A component instance resolved against the catalogue for one variant: label (or its fallback),
sizes, flags and props in one flat, immutable record the rest of the engine reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from uiserver.engine.labels import has_visible_text
from uiserver.engine.speech import speech_for
from uiserver.schema import ComponentSpec, ComponentType, ThemeSpec
from uiserver.types import NAVIGATION_ROLES, TEXTLESS_ROLES

# Catalogue flags that put a user under pressure (MIIT 5.x): the type is never in an elderly
# layout.
PRESSURE_FLAGS: tuple[str, ...] = ("popup", "countdown", "auto_advance", "induces")


def pressure_of(ctype: ComponentType, props: Mapping[str, Any]) -> tuple[str, ...]:
    """The pressure a component exerts: its type's flags, then each pressure prop set truthy."""
    found = [flag for flag in PRESSURE_FLAGS if getattr(ctype, flag)]
    for name, spec in ctype.props.items():
        if spec.pressure is not None and props.get(name) and spec.pressure not in found:
            found.append(spec.pressure)
    return tuple(found)


# NAVIGATION_ROLES are always pinned: lint refuses an unpinned one; serving pins it anyway, so a
# stored template cannot move it.


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
    key: str  # affinity key: the category, else "<page>/<id>" (never shared across pages)
    zone: str | None
    movable: bool  # in a movable zone: affinity and exploration may reorder it
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
    # 长辈版 (issue 24)
    pressure: tuple[str, ...] = ()  # the type's pressure flags and truthy pressure props
    pressure_props: tuple[str, ...] = ()  # the props the catalogue marks as pressure
    state_props: tuple[str, ...] = ()  # state or badge props: text or icon, never colour alone
    confirm: bool = False  # payment or destructive: confirmed first in elderly mode
    help: bool = False  # a one-tap help entry
    column_prop: str | None = None
    row_prop: str | None = None
    row_max: int | None = None  # the row prop's catalogue `maximum`: reflow grows it no further
    text: bool = True  # draws text (paragraph spacing applies)
    speech: str = ""  # what a screen reader or TTS speaks (`engine.speech`)


SCENE_PREFIX = "scene:"


def _maximum(ctype: ComponentType, prop: str | None) -> int | None:
    """The catalogue `maximum` of a type's integer prop (None: no prop, or no maximum)."""
    spec = ctype.props.get(prop) if prop else None
    return None if spec is None or spec.maximum is None else int(spec.maximum)


def scene_tags(scenes: Iterable[str]) -> frozenset[str]:
    """Scenes as rule tags (`scene:rain`): one rule set serves segments and scenes, and the
    tag is the reason a scene rule gives (`scene:rain`, beside `segment:churn_risk`)."""
    return frozenset(SCENE_PREFIX + s for s in scenes)


def _humanize(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def affinity_key(page: str, spec: ComponentSpec) -> str:
    """The key a component's affinity is kept under: its category, shared by every page that
    uses it, else `page/id`, so a component learns on another page only through a category."""
    return spec.category or f"{page}/{spec.id}"


def resolve_component(
    i: int,
    spec: ComponentSpec,
    ctype: ComponentType,
    theme: ThemeSpec,
    patch: Mapping[str, Any],
    *,
    page: str = "",
    movable: bool = True,
) -> ResolvedComponent:
    interactive = ctype.interactive or ctype.action
    needs_label = ctype.label_required or interactive or ctype.image
    label = (spec.label or "").strip()
    if not has_visible_text(label):
        label = ""
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
        pinned=spec.pinned or ctype.role in NAVIGATION_ROLES,
        visible=spec.visible,
        key=affinity_key(page, spec),
        zone=spec.zone,
        movable=movable,
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
        pressure=pressure_of(ctype, props),
        pressure_props=tuple(n for n, p in ctype.props.items() if p.pressure is not None),
        state_props=tuple(n for n, p in ctype.props.items() if p.state),
        confirm=ctype.confirm,
        help=ctype.help,
        column_prop=ctype.column_prop,
        row_prop=ctype.row_prop,
        row_max=_maximum(ctype, ctype.row_prop),
        text=ctype.role not in TEXTLESS_ROLES,
        speech=speech_for(label, props),
    )

"""Prop rules: what the launch's device and power state change in component props.

A table of (catalogue flag, when, prop, value, reason). None of these reorder anything: wider
grids on tablets keep the order, low-power images keep their place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from uiserver.engine.components import ResolvedComponent
from uiserver.engine.explain import Reason

if TYPE_CHECKING:
    from uiserver.engine.plan import Plan

# flag, applies(plan), prop key, value(comp, plan) (None: leave the prop), reason(plan)
PropRule = tuple[
    str,
    Callable[["Plan"], bool],
    str,
    Callable[[ResolvedComponent, "Plan"], Any],
    Callable[["Plan"], str],
]

DEVICE_REASON = {"tablet": Reason.CONTEXT_TABLET, "desktop": Reason.CONTEXT_DESKTOP}


def _columns(c: ResolvedComponent, plan: Plan) -> int | None:
    if c.columns <= 0:
        return None
    return max(c.columns, round(c.columns * plan.columns_factor))


PROP_RULES: tuple[PropRule, ...] = (
    (
        "grid",
        lambda p: p.columns_factor != 1.0,
        "columns",
        _columns,
        lambda p: DEVICE_REASON.get(p.device, Reason.CONTEXT_TABLET),
    ),
    (
        "image",
        lambda p: p.low_power,
        "image_quality",
        lambda c, p: "low",
        lambda p: Reason.CONTEXT_LOW_POWER,
    ),
    (
        "animated",
        lambda p: p.motion != "full",
        "autoplay",
        lambda c, p: False,
        lambda p: p.motion_reasons[0] if p.motion_reasons else Reason.A11Y_NO_AUTOPLAY,
    ),
)

ActivePatch = tuple[str, str, Callable[[ResolvedComponent, "Plan"], Any], str]


def active_patches(plan: Plan) -> list[ActivePatch]:
    """The prop rules this plan triggers: (flag, key, value, reason)."""
    return [
        (flag, key, value, reason(plan))
        for flag, applies, key, value, reason in PROP_RULES
        if applies(plan)
    ]

"""Mode selection and the elderly / accessibility rules, as data tables.

Mode rules (elderly) change the *base* as well as the result: they are needs, not preferences,
so they never count against the personalization cap. The numbers come from the policy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from uiserver.engine.explain import Reason
from uiserver.policy import Policy
from uiserver.schema import Context, Settings
from uiserver.types import VOICE_NAV_TYPE, Mode

# elderly_mode setting -> forced answer (None: decide from the triggers below).
ELDERLY_SETTING: Mapping[str, bool | None] = {"on": True, "off": False, "auto": None}

# In "auto", any trigger makes the page elderly (DESIGN section 4, elderly mode trigger).
ModeTrigger = Callable[[Settings, Context, Policy], bool]
ELDERLY_TRIGGERS: tuple[ModeTrigger, ...] = (
    lambda s, ctx, p: s.age_band in p.elderly_age_bands,
    lambda s, ctx, p: ctx.font_px is not None and ctx.font_px >= p.care_mode_font_px,
)

# Catalogue flag -> reason: components elderly mode removes (MIIT 5.1: no ads, no promotion
# pop-ups, no pay- or download-inducing buttons).
# `pressure`: pop-ups, countdowns, auto-advancing carousels, download/payment-inducing buttons
# (catalogue flags or pressure props; MIIT 5.x, WCAG 2.2.1 / 2.2.2).
ELDERLY_HIDE: tuple[tuple[str, str], ...] = (
    ("ad", Reason.ELDERLY_HIDE_AD),
    ("promo", Reason.ELDERLY_HIDE_PROMO),
    ("pressure", Reason.ELDERLY_NO_PRESSURE),
)

# Component type -> reason: components elderly mode always shows (when the template has one).
ELDERLY_SHOW_TYPES: Mapping[str, str] = {VOICE_NAV_TYPE: Reason.ELDERLY_VOICE_NAV}

# Where action buttons sit: row and side of every placement, and its mirror image.
PLACEMENT_ROW: Mapping[str, str] = {
    "bottom_left": "bottom",
    "bottom_center": "bottom",
    "bottom_right": "bottom",
    "floating_left": "floating",
    "floating_right": "floating",
    "top_left": "top",
    "top_right": "top",
}
PLACEMENT_SIDE: Mapping[str, str] = {
    "bottom_left": "left",
    "bottom_right": "right",
    "floating_left": "left",
    "floating_right": "right",
    "top_left": "left",
    "top_right": "right",
}
MIRROR: Mapping[str, str] = {
    "bottom_left": "bottom_right",
    "bottom_right": "bottom_left",
    "floating_left": "floating_right",
    "floating_right": "floating_left",
    "top_left": "top_right",
    "top_right": "top_left",
}
# Handedness -> the thumb side (unknown: no side, nothing changes).
THUMB_SIDE: Mapping[str, str | None] = {"left": "left", "right": "right", "unknown": None}


# The one-time prompt's answer, in "auto": accepted is elderly, declined is standard (an
# earlier "no" is respected: DESIGN section 4, "unless the user turned it off"), unanswered
# leaves it to the triggers.
PROMPT_ANSWER: Mapping[str, bool | None] = {"accepted": True, "declined": False, "unanswered": None}


def triggered(settings: Settings, context: Context, policy: Policy) -> bool:
    """Any elderly trigger fires: the age band, or the client's care-mode system font."""
    return any(trigger(settings, context, policy) for trigger in ELDERLY_TRIGGERS)


def select_mode(settings: Settings, context: Context, policy: Policy) -> Mode:
    """elderly when the user turned it on or accepted the prompt, or (auto, unanswered) when
    any trigger fires; never when off or declined."""
    forced = ELDERLY_SETTING[settings.elderly_mode]
    if forced is None:
        forced = PROMPT_ANSWER[settings.elderly_prompt]
    if forced is None:
        forced = triggered(settings, context, policy)
    return "elderly" if forced else "standard"


def offers_prompt(settings: Settings, context: Context, policy: Policy) -> bool:
    """The one-time 长辈版 prompt: a user the triggers put in elderly mode who never chose (the
    setting is auto and the prompt unanswered). MIIT APP spec 3.x (from memory): offer the
    ageing-friendly interface prominently on first entry."""
    return (
        settings.elderly_mode == "auto"
        and settings.elderly_prompt == "unanswered"
        and triggered(settings, context, policy)
    )


def font_multiplier(
    settings: Settings, context: Context, policy: Policy
) -> tuple[float, tuple[str, ...]]:
    """The user's font scale times the client's system font (relative to 16 px, never < 1).

    Capped at policy.max_font_scale: WCAG 1.4.4 asks for 200 %, beyond that layouts break.
    """
    reasons: list[str] = []
    scale = settings.font_scale
    if scale > 1.0:
        reasons.append(Reason.A11Y_FONT_SCALE)
    if context.font_px is not None and context.font_px > 16.0:
        scale *= context.font_px / 16.0
        reasons.append(Reason.CONTEXT_FONT_PX)
    scale = round(min(scale, max(policy.max_font_scale, settings.font_scale)), 3)
    return scale, tuple(reasons)

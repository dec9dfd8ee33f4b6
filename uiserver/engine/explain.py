"""Reasons: every change the engine makes names why (DESIGN section 3, step 6).

Designers read them in previews; clients may ignore them. Values are stable strings on the wire,
so a reason may be added but never renamed within a schema version.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # personalization (counted against the cap)
    AFFINITY = "affinity"
    STABILITY = "stability"  # kept where it was last served: the margin was not crossed back
    HANDEDNESS = "handedness"
    EXPLORE = "explore"
    CAP_DROPPED = "cap:dropped"
    # elderly mode (mode rules: applied to the base too, never counted)
    ELDERLY_MIN_FONT = "elderly:min_font"
    ELDERLY_MAX_FONT = "elderly:max_font"
    ELDERLY_LINE_HEIGHT = "elderly:line_height"
    ELDERLY_MIN_TARGET = "elderly:min_target"
    ELDERLY_HIDE_AD = "elderly:hide_ad"
    ELDERLY_HIDE_PROMO = "elderly:hide_promo"
    ELDERLY_VOICE_NAV = "elderly:voice_nav"
    ELDERLY_ESSENTIAL_FIRST = "elderly:essential_first"
    ELDERLY_HIGH_CONTRAST = "elderly:high_contrast"
    ELDERLY_MOTION = "elderly:reduced_motion"
    # 长辈版 2.0 (issue 24): needs too, never counted against the cap
    ELDERLY_PARAGRAPH = "elderly:paragraph_spacing"
    ELDERLY_TARGET_GAP = "elderly:target_gap"
    ELDERLY_REFLOW = "elderly:reflow"
    ELDERLY_MORE = "elderly:more"  # folded behind the page's one "更多 More" entry
    ELDERLY_MOST_USED = "elderly:most_used"  # kept on the page: among the most used
    ELDERLY_RECENT = "elderly:recent"  # kept on the page: opened in the last week
    ELDERLY_NO_PRESSURE = "elderly:no_pressure"  # pop-up, countdown, carousel, inducing button
    ELDERLY_CONFIRM = "elderly:confirm"
    ELDERLY_HELP = "elderly:help"
    ELDERLY_SPEECH = "elderly:speech"
    ELDERLY_PROMPT = "elderly:prompt"
    # accessibility needs (never counted)
    A11Y_FONT_SCALE = "a11y:font_scale"
    A11Y_MIN_FONT = "a11y:min_font"
    A11Y_MIN_TARGET = "a11y:min_target"
    A11Y_LABEL_FALLBACK = "a11y:label_fallback"
    A11Y_HIGH_CONTRAST = "a11y:high_contrast"
    A11Y_CONTRAST_FIX = "a11y:contrast_fix"
    A11Y_CONTRAST_FALLBACK = "a11y:contrast_fallback"
    A11Y_REDUCE_MOTION = "a11y:reduce_motion"
    A11Y_SCREEN_READER = "a11y:screen_reader"
    A11Y_NO_AUTOPLAY = "a11y:no_autoplay"
    A11Y_COLOUR_DROPPED = "a11y:colour_dropped"
    # what the client said about this launch
    CONTEXT_DARK = "context:dark"
    CONTEXT_LOW_POWER = "context:low_power"
    CONTEXT_FONT_PX = "context:font_px"
    CONTEXT_TABLET = "context:tablet"
    CONTEXT_DESKTOP = "context:desktop"
    # render fell back to the base layout because the personalized one failed a rule
    FALLBACK_BASE = "check:fallback_base"


def segment_reason(segment: str) -> str:
    """`segment:<name>`: the operator's segment that showed or hid a module."""
    return f"segment:{segment}"

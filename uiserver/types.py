"""Type aliases shared across the package (kept in one place so names mean one thing)."""

from __future__ import annotations

from typing import Literal

Role = Literal[
    "navigation",
    "button",
    "list",
    "image",
    "region",
    "search",
    "banner",
    "link",
    "status",
    "tablist",
    "heading",
    "text",
]
Placement = Literal[
    "flow",
    "bottom_left",
    "bottom_right",
    "bottom_center",
    "floating_left",
    "floating_right",
    "top_right",
    "top_left",
]
ElderlyMode = Literal["auto", "on", "off"]
# The one-time 长辈版 prompt's answer (`Settings.elderly_prompt`).
ElderlyPrompt = Literal["unanswered", "declined", "accepted"]
# What puts a user under pressure (MIIT 5.x; WCAG 2.2.1, 2.2.2): never in an elderly layout.
Pressure = Literal["popup", "countdown", "auto_advance", "induces"]
Handedness = Literal["left", "right", "unknown"]
AgeBand = Literal["under_18", "18_39", "40_59", "60_plus", "unknown"]
Device = Literal["phone", "tablet", "desktop"]
Mode = Literal["standard", "elderly"]
Motion = Literal["full", "reduced", "none"]
# `impression` (seen: >= 50% visible for 800 ms, once per launch) and `render_error` (a component
# threw or could not be drawn) are what the renderer measures (`engine.telemetry`).
EventKind = Literal["view", "click", "convert", "impression", "render_error"]
ChangeKind = Literal["moved", "hidden", "shown", "placement"]
Daypart = Literal["morning", "noon", "afternoon", "evening", "night"]
Weather = Literal["clear", "rain", "snow", "hot", "cold"]
# A scene a template rule may name: any daypart or weather value (the two sets are disjoint).
Scene = Literal[
    "morning",
    "noon",
    "afternoon",
    "evening",
    "night",
    "clear",
    "rain",
    "snow",
    "hot",
    "cold",
]
Direction = Literal["ltr", "rtl"]

# Roles by what the rules read from them (one set per rule, beside `Role`).
# Navigate between or within pages: always pinned (WCAG 3.2.3 consistent navigation).
NAVIGATION_ROLES: frozenset[Role] = frozenset({"navigation", "tablist"})
TABLIST: Role = "tablist"  # a tab bar: its column prop is the tabs drawn (更多 included)
# Global navigation: named the same on every page (WCAG 3.2.4 consistent identification).
GLOBAL_NAV_ROLES: frozenset[Role] = frozenset({"tablist"})
# What an action button may be; any other role tells a screen reader the wrong thing (WCAG 4.1.2).
ACTION_ROLES: frozenset[Role] = frozenset({"button", "link"})
# Draw no text of their own: a fixed height is an image's aspect, not clipped text.
TEXTLESS_ROLES: frozenset[Role] = frozenset({"image"})
# Take the policy's largest font step in elderly mode (MIIT 1.1: the largest step >= 30 px).
LARGEST_STEP_ROLES: frozenset[Role] = frozenset({"heading"})

# The catalogue type elderly mode shows on every page that has one (MIIT 5.1 voice navigation).
VOICE_NAV_TYPE = "voice_nav_entry"

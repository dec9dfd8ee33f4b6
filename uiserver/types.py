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
Handedness = Literal["left", "right", "unknown"]
AgeBand = Literal["under_18", "18_39", "40_59", "60_plus", "unknown"]
Device = Literal["phone", "tablet", "desktop"]
Mode = Literal["standard", "elderly"]
Motion = Literal["full", "reduced", "none"]
EventKind = Literal["view", "click", "convert"]
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

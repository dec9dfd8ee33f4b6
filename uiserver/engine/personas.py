"""Personas for the designer preview: how typical users get a page. The one list of them: the
preview, the console's panels and the OpenAPI enum all read `PERSONAS` / `PERSONA_TITLES`.

Anonymous ids on purpose: a preview shows the base variant and never an exploration, so the
same template always previews the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

from uiserver.schema import Profile, Settings

# name -> (what it stands for, the profile), in the order the console shows them side by side.
_PERSONAS: tuple[tuple[str, str, Profile], ...] = (
    ("default", "Default", Profile()),
    (
        "elderly",
        "Elderly (60+)",
        Profile(settings=Settings(age_band="60_plus", elderly_mode="auto")),
    ),
    (
        "low_vision",
        "Low vision: left-handed, font scale 2.0, high contrast",
        Profile(settings=Settings(handedness="left", font_scale=2.0, high_contrast=True)),
    ),
    ("screen_reader", "Screen reader", Profile(settings=Settings(screen_reader=True))),
    ("off", "Personalization off", Profile(settings=Settings(personalization=0.0))),
    ("churn_risk", "Churn risk", Profile(segments=frozenset({"churn_risk"}))),
)

PERSONAS: Mapping[str, Profile] = {name: profile for name, _, profile in _PERSONAS}
PERSONA_TITLES: Mapping[str, str] = {name: title for name, title, _ in _PERSONAS}

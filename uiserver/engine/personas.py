"""Personas for the designer preview: how typical users get a page.

Anonymous ids on purpose: a preview shows the base variant and never an exploration, so the
same template always previews the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

from uiserver.schema import Profile, Settings

PERSONAS: Mapping[str, Profile] = {
    "default": Profile(),
    "elderly": Profile(settings=Settings(age_band="60_plus", elderly_mode="auto")),
    "low_vision": Profile(settings=Settings(handedness="left", font_scale=2.0, high_contrast=True)),
    "screen_reader": Profile(settings=Settings(screen_reader=True)),
    "off": Profile(settings=Settings(personalization=0.0)),
    "churn_risk": Profile(segments=frozenset({"churn_risk"})),
}

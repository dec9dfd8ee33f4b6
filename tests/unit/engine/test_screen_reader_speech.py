"""Read aloud for screen-reader users (issue 24): a standard layout served to a profile with
`settings.screen_reader` carries `speech` on every named component, as elderly layouts do; a
standard layout for anyone else is unchanged, byte for byte."""

from __future__ import annotations

import msgspec
import pytest

from tests.helpers.engine import compiled_page, policy, shipped_templates
from uiserver.engine import PERSONAS, check_layout
from uiserver.schema import Context, Profile, Settings


@pytest.mark.parametrize("page", sorted(shipped_templates()))
def test_a_screen_reader_user_hears_every_named_component(page: str) -> None:
    engine, compiled, _ = compiled_page(page)
    layout = engine.layout(compiled, PERSONAS["screen_reader"], Context())
    assert layout.mode == "standard"
    named = [c for c in layout.components if c.label]
    assert named
    for c in named:
        assert c.speech and c.speech.startswith(c.label), c.id
        assert c.paragraph_px is None and c.gap_px is None  # elderly spacing stays elderly
    assert check_layout(layout, compiled, policy()) == []


def test_other_standard_layouts_carry_no_speech_and_keep_their_bytes() -> None:
    engine, compiled, _ = compiled_page("home")
    for profile in (PERSONAS["default"], Profile(settings=Settings(high_contrast=True))):
        layout = engine.layout(compiled, profile, Context())
        assert all(c.speech is None for c in layout.components)
        assert b'"speech"' not in msgspec.json.encode(layout)
    reader = engine.layout(compiled, PERSONAS["screen_reader"], Context())
    plain = engine.layout(compiled, Profile(settings=Settings(reduce_motion=True)), Context())
    # The reader's layout is the reduced-motion one plus `speech` (same components, same order).
    stripped = [msgspec.structs.replace(c, speech=None) for c in reader.components]
    assert [c.id for c in stripped] == [c.id for c in plain.components]

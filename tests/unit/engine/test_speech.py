"""What a component speaks (`engine.speech`, issue 24): its name, then the text its props put on
screen, each once, bounded."""

from __future__ import annotations

import pytest

from uiserver.engine.speech import MAX_SPEECH, speech_for


@pytest.mark.parametrize(
    ("label", "props", "spoken"),
    [
        pytest.param("Search", {"placeholder": " Fruit "}, "Search，Fruit", id="placeholder"),
        pytest.param(
            "Tabs",
            {"items": [{"page": "home", "text": "Home"}, {"label": "Me"}, "cart", 3]},
            "Tabs，Home，Me",
            id="items-text-or-label-never-identifiers",
        ),
        pytest.param("Cart", {"badge": {"text": "3 items"}}, "Cart，3 items", id="badge-text"),
        pytest.param("Cart", {"badge": {"colour": "#FF0000"}}, "Cart", id="badge-without-text"),
        pytest.param("Title", {"title": "Title", "text": ""}, "Title", id="each-once"),
        pytest.param("", {"caption": "Photo"}, "Photo", id="no-label"),
        pytest.param("Steps", {"steps": "not a list"}, "Steps", id="not-a-list"),
    ],
)
def test_speech(label: str, props: dict[str, object], spoken: str) -> None:
    assert speech_for(label, props) == spoken


def test_speech_is_bounded() -> None:
    assert len(speech_for("x" * 500, {})) == MAX_SPEECH

"""What a screen reader or text-to-speech speaks for a component (`LayoutComponent.speech`).

Derived, never written by hand: the component's accessible name (its label, or the catalogue's
fallback), then the text its props put on screen (a search bar's placeholder, a tab bar's tab
names, a badge's text), each once, joined with a Chinese comma ("，"), where readers pause.
WCAG 1.1.1 non-text content and 4.1.2 name, role, value: the spoken text says what the eye
reads; MIIT APP ageing-friendly specification 4.x (screen readers; clause number from memory).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

# Props whose string value is text on screen.
TEXT_PROPS: tuple[str, ...] = ("title", "subtitle", "text", "placeholder", "caption", "hint")
# Props holding a list of items; an item's text is spoken (its `text`, else its `label`).
ITEM_PROPS: tuple[str, ...] = ("items", "tabs", "steps", "methods")
ITEM_TEXT: tuple[str, ...] = ("text", "label")
SEPARATOR = "，"
MAX_SPEECH = 400  # characters: a reader is not a document


def _item_texts(items: object) -> Iterator[str]:
    if not isinstance(items, list):
        return
    for item in items:
        if isinstance(item, str):
            continue  # an identifier (`steps: [search, ...]`), not text on screen
        if isinstance(item, Mapping):
            for key in ITEM_TEXT:
                value = item.get(key)
                if isinstance(value, str) and value.strip():
                    yield value.strip()
                    break


def _texts(props: Mapping[str, Any]) -> Iterator[str]:
    for key in TEXT_PROPS:
        value = props.get(key)
        if isinstance(value, str) and value.strip():
            yield value.strip()
    for key in ITEM_PROPS:
        yield from _item_texts(props.get(key))
    badge = props.get("badge")
    if isinstance(badge, Mapping):
        text = badge.get("text")
        if isinstance(text, str) and text.strip():
            yield text.strip()


def speech_for(label: str, props: Mapping[str, Any]) -> str:
    """The label, then each distinct on-screen text of `props`, at most MAX_SPEECH characters."""
    parts: list[str] = [label] if label else []
    for text in _texts(props):
        if text not in parts:
            parts.append(text)
    return SEPARATOR.join(parts)[:MAX_SPEECH]

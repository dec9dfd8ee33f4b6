"""Reflow for tab bars (issue 24, 长辈版 2.0): an elderly layout draws at most
policy.elderly_max_tabs tabs, the last one 更多 More when more items remain, every item kept; the
standard layout is served unchanged."""

from __future__ import annotations

import msgspec
import pytest

from tests.helpers.engine import compiled_page, policy
from uiserver.catalog import template_version
from uiserver.engine import PERSONAS, Reason, check_layout
from uiserver.engine.elderly import columns_drawn
from uiserver.schema import Context, Layout

TABS = [{"page": f"p{n}", "text": f"页面 {n}"} for n in range(6)]


def _served(persona: str, items: list[dict[str, str]], **extra: object) -> Layout:
    engine, _, template = compiled_page("cart")
    components = [
        msgspec.structs.replace(s, props={**s.props, "items": items, **extra})
        if s.id == "tab_bar"
        else s
        for s in template.components
    ]
    changed = msgspec.structs.replace(template, components=components)
    compiled = engine.compile(changed, template_version(changed))
    layout = engine.layout(compiled, PERSONAS[persona], Context())
    assert check_layout(layout, compiled, policy()) == []
    return layout


def _tab_bar(layout: Layout) -> tuple[dict[str, object], list[str]]:
    bar = next(c for c in layout.components if c.id == "tab_bar")
    return bar.props, bar.reasons


def test_an_elderly_tab_bar_of_six_items_draws_four_tabs_keeping_every_item() -> None:
    props, reasons = _tab_bar(_served("elderly", TABS))
    assert props["visible"] == policy().elderly_max_tabs == 4
    assert props["items"] == TABS
    assert Reason.ELDERLY_REFLOW in reasons


def test_a_wider_visible_count_is_narrowed_and_a_narrower_one_kept() -> None:
    assert _tab_bar(_served("elderly", TABS, visible=6))[0]["visible"] == 4
    props, reasons = _tab_bar(_served("elderly", TABS, visible=3))
    assert props["visible"] == 3 and Reason.ELDERLY_REFLOW not in reasons


def test_four_tabs_and_standard_layouts_are_left_alone() -> None:
    props, reasons = _tab_bar(_served("elderly", TABS[:4]))
    assert "visible" not in props and Reason.ELDERLY_REFLOW not in reasons
    props, reasons = _tab_bar(_served("default", TABS))
    assert "visible" not in props and Reason.ELDERLY_REFLOW not in reasons


@pytest.mark.parametrize(
    ("role", "default", "props", "drawn"),
    [
        ("tablist", 0, {"items": TABS}, 6),
        ("tablist", 0, {"items": TABS, "visible": 4}, 4),
        ("tablist", 0, {"items": TABS[:3], "visible": 5}, 3),
        ("tablist", 0, {}, 0),
        ("tablist", 0, {"items": TABS, "visible": "4"}, None),
        ("list", 2, {}, 2),
        ("list", 2, {"columns": 5}, 5),
        ("list", 2, {"columns": True}, None),
    ],
)
def test_columns_drawn(
    role: str, default: int, props: dict[str, object], drawn: int | None
) -> None:
    key = "visible" if role == "tablist" else "columns"
    assert columns_drawn(key, role, default, props) == drawn
    assert columns_drawn(None, role, default, props) is None

"""The H5 preview renderer: each role drawn as the element a screen reader expects, with the
layout's own font sizes, targets and colours, and labels escaped."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from tests.apphelpers import ROOT
from uiserver.catalog import load_catalog
from uiserver.http.h5 import render_h5
from uiserver.schema import (
    Layout,
    LayoutComponent,
    LayoutPalette,
    LayoutTheme,
    PersonalizationInfo,
)

CATALOG = load_catalog(ROOT / "components")
PALETTE = LayoutPalette("#111111", "#FFFFFF", "#0B57D0", "#FFFFFF", "#444444", "#F2F2F2")


def component(cid: str, ctype: str, role: str, label: str, *, placement: str = "flow",
              props: dict[str, Any] | None = None) -> LayoutComponent:
    return LayoutComponent(cid, ctype, role, label, 24, 60, placement, False, props or {}, [])


def layout(*components: LayoutComponent) -> Layout:
    theme = LayoutTheme(24, 1.5, "reduced", True, PALETTE)
    return Layout(1, "home", "v1", None, "elderly", theme, list(components),
                  PersonalizationInfo(1.0, 0.4, 0.0, False, []))


class Elements(HTMLParser):
    """(tag, attributes) of every start tag."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize(
    ("item", "tag", "attribute"),
    [
        pytest.param(component("buy", "primary_button", "button", "Buy now",
                               placement="bottom_right"), "button", None, id="button"),
        pytest.param(component("tabs", "tab_bar", "tablist", "Main navigation", props={
            "items": [{"page": "home", "text": "Home"}, {"page": "me", "text": "Me"}]}),
            "nav", ("aria-label", "Main navigation"), id="navigation"),
        pytest.param(component("search", "search_bar", "search", "Search products"),
                     "form", ("role", "search"), id="search"),
        pytest.param(component("pics", "detail_images", "image", "Photos of the pears"),
                     "img", ("alt", "Photos of the pears"), id="image"),
        pytest.param(component("grid", "product_grid", "list", "Fresh fruit"), "ul", None,
                     id="list"),
    ],
)
def test_roles_map_to_elements(item: LayoutComponent, tag: str,
                               attribute: tuple[str, str] | None) -> None:
    html = render_h5(layout(item), CATALOG, title="Home")
    matches = [attrs for t, attrs in elements(html) if t == tag]
    assert matches, html
    if attribute is not None:
        assert any(attrs.get(attribute[0]) == attribute[1] for attrs in matches)
    assert item.label in html


def test_search_input_is_labelled_and_sized() -> None:
    html = render_h5(layout(component("search", "search_bar", "search", "Search products")),
                     CATALOG, title="Home")
    found = elements(html)
    label = next(attrs for tag, attrs in found if tag == "label")
    field = next(attrs for tag, attrs in found if tag == "input")
    assert label["for"] == field["id"] and field["type"] == "search"
    assert "min-height:60px;min-width:60px" in (field["style"] or "")
    assert 'style="font-size:24px"' in html


def test_tab_bar_marks_the_current_page() -> None:
    html = render_h5(layout(component("tabs", "tab_bar", "tablist", "Main", props={
        "items": [{"page": "home", "text": "Home"}, {"text": "no page"}, {"page": "me"}]})),
        CATALOG, title="Home")
    links = [attrs for tag, attrs in elements(html) if tag == "a"]
    assert len(links) == 2 and links[0].get("aria-current") == "page"
    assert "aria-current" not in links[1]


def test_palette_and_placements() -> None:
    html = render_h5(layout(
        component("back", "secondary_button", "button", "Back", placement="bottom_left"),
        component("buy", "primary_button", "button", "Buy", placement="bottom_right"),
        component("title", "section_title", "heading", "Deals"),
    ), CATALOG, title="Home")
    assert "background: #0B57D0; color: #FFFFFF" in html
    bottom = html[html.index('class="area area-bottom"'):]
    assert bottom.index("Back") < bottom.index("Buy")
    assert "justify-content:flex-start" in bottom and "justify-content:flex-end" in bottom
    assert "<h2" in html[:html.index('class="area area-bottom"')]


def test_labels_are_escaped() -> None:
    hostile = '<script>alert(1)</script>" onmouseover="x'
    html = render_h5(layout(component("buy", "primary_button", "button", hostile),
                            component("tabs", "tab_bar", "tablist", hostile)),
                     CATALOG, title=hostile)
    assert "<script" not in html
    assert 'onmouseover="x' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34; onmouseover=&#34;x" in html

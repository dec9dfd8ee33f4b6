"""The H5 preview renderer: each role drawn as the element a screen reader expects, with the
layout's own font sizes, targets and colours, and labels escaped; the device frame, direction,
fonts and the marks against a base. What the browser does with it:
tests/browser/test_h5_preview.py."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import msgspec
import pytest

from tests.helpers.app import ROOT
from uiserver.catalog import load_catalog
from uiserver.http.preview.h5 import (
    cjk_font,
    direction_for,
    font_stack,
    frame_for,
    layout_direction,
    problems_by_component,
    render_h5,
)
from uiserver.schema import (
    Change,
    ElderlyInfo,
    Layout,
    LayoutComponent,
    LayoutPalette,
    LayoutTheme,
    PersonalizationInfo,
    Problem,
)

CATALOG = load_catalog(ROOT / "components")
PALETTE = LayoutPalette("#111111", "#FFFFFF", "#0B57D0", "#FFFFFF", "#444444", "#F2F2F2")


def component(
    cid: str,
    ctype: str,
    role: str,
    label: str,
    *,
    placement: str = "flow",
    props: dict[str, Any] | None = None,
) -> LayoutComponent:
    return LayoutComponent(cid, ctype, role, label, 24, 60, placement, False, props or {}, [])


def layout(*components: LayoutComponent, direction: str = "ltr") -> Layout:
    theme = LayoutTheme(24, 1.5, "reduced", True, PALETTE, False, direction)  # type: ignore[arg-type]
    return Layout(
        1,
        "home",
        "v1",
        None,
        "elderly",
        theme,
        list(components),
        PersonalizationInfo(1.0, 0.4, 0.0, False, []),
        [],
    )


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
        pytest.param(
            component("buy", "primary_button", "button", "Buy now", placement="bottom_right"),
            "button",
            None,
            id="button",
        ),
        pytest.param(
            component(
                "tabs",
                "tab_bar",
                "tablist",
                "Main navigation",
                props={"items": [{"page": "home", "text": "Home"}, {"page": "me", "text": "Me"}]},
            ),
            "nav",
            ("aria-label", "Main navigation"),
            id="navigation",
        ),
        pytest.param(
            component("search", "search_bar", "search", "Search products"),
            "form",
            ("role", "search"),
            id="search",
        ),
        pytest.param(
            component("pics", "detail_images", "image", "Photos of the pears"),
            "img",
            ("alt", "Photos of the pears"),
            id="image",
        ),
        pytest.param(
            component("grid", "product_grid", "list", "Fresh fruit"), "ul", None, id="list"
        ),
    ],
)
def test_roles_map_to_elements(
    item: LayoutComponent, tag: str, attribute: tuple[str, str] | None
) -> None:
    html = render_h5(layout(item), CATALOG, title="Home")
    matches = [attrs for t, attrs in elements(html) if t == tag]
    assert matches, html
    if attribute is not None:
        assert any(attrs.get(attribute[0]) == attribute[1] for attrs in matches)
    assert item.label in html


def test_search_input_is_labelled_and_sized() -> None:
    html = render_h5(
        layout(component("search", "search_bar", "search", "Search products")),
        CATALOG,
        title="Home",
    )
    found = elements(html)
    label = next(attrs for tag, attrs in found if tag == "label")
    field = next(attrs for tag, attrs in found if tag == "input")
    assert label["for"] == field["id"] and field["type"] == "search"
    assert "min-height:60px;min-width:60px" in (field["style"] or "")
    assert 'style="font-size:24px"' in html


def test_tab_bar_marks_the_current_page() -> None:
    html = render_h5(
        layout(
            component(
                "tabs",
                "tab_bar",
                "tablist",
                "Main",
                props={
                    "items": [{"page": "home", "text": "Home"}, {"text": "no page"}, {"page": "me"}]
                },
            )
        ),
        CATALOG,
        title="Home",
    )
    links = [attrs for tag, attrs in elements(html) if tag == "a"]
    assert len(links) == 2 and links[0].get("aria-current") == "page"
    assert "aria-current" not in links[1]


def test_a_tab_bar_with_more_items_than_visible_draws_the_first_and_more() -> None:
    """Reflow, not zoom (issue 24): `visible: 4` over six items draws three tabs and 更多, which
    is current when the page is one of the tabs behind it; all six without `visible`."""
    tabs = [{"page": "home" if n == 5 else f"p{n}", "text": f"Tab {n}"} for n in range(6)]
    for visible, texts in ((4, ["Tab 0", "Tab 1", "Tab 2", "更多"]), (None, None)):
        props: dict[str, Any] = {"items": tabs}
        if visible is not None:
            props["visible"] = visible
        html = render_h5(
            layout(component("tabs", "tab_bar", "tablist", "Main", props=props)),
            CATALOG,
            title="Home",
        )
        links = [attrs for tag, attrs in elements(html) if tag == "a"]
        if texts is None:
            assert len(links) == 6 and links[5].get("aria-current") == "page"
            continue
        assert len(links) == 4 and links[3].get("data-more") == "true"
        assert links[3].get("aria-current") == "page"  # home (Tab 5) is behind 更多
        assert all(f">{t}</a>" in html for t in texts) and "Tab 3" not in html


def _slice(html: str, marker: str) -> str:
    """The markup of the element whose opening tag contains `marker` (up to the next sibling
    of the same kind is good enough for these flat areas)."""
    return html[html.index(marker) :]


def test_palette_and_placements() -> None:
    html = render_h5(
        layout(
            component("back", "secondary_button", "button", "Back", placement="bottom_left"),
            component("buy", "primary_button", "button", "Buy", placement="bottom_right"),
            component("top", "back_to_top", "button", "Top", placement="floating_right"),
            component("share", "secondary_button", "button", "Share", placement="top_right"),
            component("title", "section_title", "heading", "Deals"),
        ),
        CATALOG,
        title="Home",
    )
    assert "background: #0B57D0; color: #FFFFFF" in html
    bar = _slice(html, 'id="actionbar"')
    # one bar, three physical cells in order, each button in its own cell
    cells = [bar.index(f'class="cell cell-{side}"') for side in ("left", "center", "right")]
    assert cells == sorted(cells)
    assert cells[0] < bar.index("Back") < cells[1] < cells[2] < bar.index("Buy")
    content = html[html.index('class="scroll"') : html.index('class="float float-right"')]
    assert "<h2" in content and "Buy" not in content and "Top" not in content
    assert "Top" in _slice(html, 'class="float float-right"')
    navbar = html[html.index('<header class="navbar">') : html.index("</header>")]
    assert navbar.index("<h1>Home</h1>") < navbar.index("Share")


@pytest.mark.parametrize(
    ("device", "width", "frame"),
    [
        pytest.param("phone", None, (375, 667), id="phone"),
        pytest.param("tablet", None, (768, 1024), id="tablet"),
        pytest.param("desktop", None, (1280, 800), id="desktop"),
        pytest.param("phone", 414, (414, 667), id="phone-width"),
        pytest.param("phone", 10, (240, 667), id="width-clamped"),
    ],
)
def test_frame_follows_device_and_width(
    device: str, width: int | None, frame: tuple[int, int]
) -> None:
    assert (frame_for(device, width).width, frame_for(device, width).height) == frame
    html = render_h5(
        layout(component("t", "section_title", "heading", "T")),
        CATALOG,
        title="Home",
        device=device,
        width=width,
    )
    assert f'style="width:{frame[0]}px"' in html and f'style="height:{frame[1]}px"' in html
    assert f"viewport {frame[0]} × {frame[1]} px" in html


@pytest.mark.parametrize(
    ("locale", "direction"),
    [
        pytest.param("ar-SA", "rtl", id="arabic"),
        pytest.param("he", "rtl", id="hebrew"),
        pytest.param("fa-IR", "rtl", id="persian"),
        pytest.param("ur_PK", "rtl", id="urdu-underscore"),
        pytest.param("az-Arab-IR", "rtl", id="script-arab"),
        pytest.param("ku-Latn", "ltr", id="script-latin"),
        pytest.param("zh-CN", "ltr", id="chinese"),
        pytest.param("en", "ltr", id="english"),
        pytest.param("arn-CL", "ltr", id="mapudungun-not-arabic"),
    ],
)
def test_direction_from_locale(locale: str, direction: str) -> None:
    assert direction_for(locale) == direction
    # The engine sets the theme's direction from the locale; the preview follows the theme.
    html = render_h5(
        layout(component("t", "section_title", "heading", "T"), direction=direction),
        CATALOG,
        title="Home",
        lang=locale,
    )
    tag = f'<html lang="{locale}" dir="rtl">' if direction == "rtl" else f'<html lang="{locale}">'
    assert tag in html and f'data-direction="{direction}"' in html


def test_layout_direction_wins_over_locale() -> None:
    """Once the layout theme carries `direction`, the preview follows it."""

    class Themed:
        direction = "rtl"

    assert layout_direction(msgspec.structs.replace(layout(), theme=Themed()), "zh-CN") == "rtl"
    assert layout_direction(layout(), "zh-CN") == "ltr"


def test_font_stack_names_the_installed_cjk_face() -> None:
    assert '"Noto Sans CJK SC"' in font_stack("zh-CN")
    assert '"Noto Sans CJK TC"' in font_stack("zh-TW")
    assert font_stack("ja-JP").index("Noto Sans CJK JP") < font_stack("ja-JP").index(
        "Noto Sans CJK SC"
    )
    html = render_h5(layout(), CATALOG, title="Home")
    assert 'font-family: system-ui, -apple-system, "PingFang SC", "Noto Sans CJK SC"' in html


@pytest.mark.parametrize(
    ("locale", "face"),
    [
        pytest.param("zh-Hant-HK", "HK", id="traditional-hong-kong"),
        pytest.param("zh_TW", "TC", id="wechat-underscore"),
        pytest.param("zh-Hant", "TC", id="traditional-script"),
        pytest.param("zh-CN-x-hant", "SC", id="private-use-is-not-a-script"),
        pytest.param("ja-JP-u-ca-japanese", "JP", id="japanese-calendar"),
        pytest.param("en-u-nu-hant", "SC", id="not-chinese"),
    ],
)
def test_cjk_face_comes_from_language_script_and_region(locale: str, face: str) -> None:
    assert cjk_font(locale) == f"Noto Sans CJK {face}"


def test_dark_follows_the_layout_theme() -> None:
    dark = msgspec.structs.replace(
        layout(), theme=msgspec.structs.replace(layout().theme, dark=True)
    )
    assert 'data-dark="1"' in render_h5(dark, CATALOG, title="Home")
    assert "color-scheme: dark" in render_h5(dark, CATALOG, title="Home")
    assert 'data-dark="1"' not in render_h5(layout(), CATALOG, title="Home")
    assert "color-scheme: dark" in render_h5(layout(), CATALOG, title="Home", dark=True)


# --------------------------------------------------------------------------- marks


def _ids(*ids: str, placements: dict[str, str] | None = None) -> list[LayoutComponent]:
    placements = placements or {}
    return [
        component(
            cid, "section_title", "heading", f"Label {cid}", placement=placements.get(cid, "flow")
        )
        for cid in ids
    ]


def _with_changes(lay: Layout, *changes: tuple[str, str, str]) -> Layout:
    lay.personalization.changes = [Change(c, k, r) for c, k, r in changes]  # type: ignore[arg-type]
    return lay


def _marks(html: str) -> dict[str, tuple[str, str]]:
    return {
        attrs["data-id"] or "": (attrs["data-mark"] or "", attrs.get("data-reason") or "")
        for _, attrs in elements(html)
        if attrs.get("data-mark")
    }


def test_marks_moved_shown_replaced_and_hidden() -> None:
    base = layout(*_ids("a", "b", "c", "d", "gone", "e", "buy", placements={"buy": "bottom_right"}))
    result = _with_changes(
        layout(*_ids("a", "d", "b", "c", "e", "new", "buy", placements={"buy": "bottom_left"})),
        ("d", "moved", "affinity"),
        ("new", "shown", "segment:churn_risk"),
        ("gone", "hidden", "segment:vip"),
        ("buy", "placement", "handedness"),
    )
    html = render_h5(result, CATALOG, title="Home", base=base)
    assert _marks(html) == {
        "d": ("moved", "affinity"),
        "new": ("shown", "segment:churn_risk"),
        "buy": ("placement", "handedness"),
        "gone": ("hidden", "segment:vip"),
    }
    assert "moved position 4 → 2 · affinity" in html  # 1-based positions
    assert "placement bottom_right → bottom_left · handedness" in html
    # the ghost row sits where the base had it: after "c", before "e"
    assert html.index('id="c-c"') < html.index('id="c-gone"') < html.index('id="c-e"')
    assert "hidden: segment:vip" in html and 'data-marked="1"' in html


def test_moved_prefers_the_component_the_engine_moved() -> None:
    """a,b -> b,a: either could be "the one that moved"; the engine's record decides."""
    base = layout(*_ids("a", "b"))
    moved_a = _with_changes(layout(*_ids("b", "a")), ("a", "moved", "affinity"))
    moved_b = _with_changes(layout(*_ids("b", "a")), ("b", "moved", "affinity"))
    assert _marks(render_h5(moved_a, CATALOG, title="H", base=base)) == {"a": ("moved", "affinity")}
    assert _marks(render_h5(moved_b, CATALOG, title="H", base=base)) == {"b": ("moved", "affinity")}


def test_against_another_base_without_records() -> None:
    """Comparing two versions: changes the engine did not record still show, reason neutral."""
    html = render_h5(
        layout(*_ids("b", "a", "c")), CATALOG, title="H", base=layout(*_ids("a", "b", "c", "x"))
    )
    marks = _marks(html)
    assert marks["x"] == ("hidden", "differs from the base")
    assert len([m for m in marks.values() if m[0] == "moved"]) == 1


def test_no_marks_or_ghosts_without_a_base() -> None:
    result = _with_changes(
        layout(*_ids("b", "a")), ("a", "moved", "affinity"), ("gone", "hidden", "segment:vip")
    )
    html = render_h5(result, CATALOG, title="Home")
    assert _marks(html) == {} and "hidden:" not in html and "data-marked" not in html
    same = render_h5(result, CATALOG, title="Home", base=result)
    assert _marks(same) == {} and 'data-marked="1"' in same


def test_labels_are_escaped() -> None:
    hostile = '<script>alert(1)</script>" onmouseover="x'
    html = render_h5(
        layout(
            component("buy", "primary_button", "button", hostile),
            component("tabs", "tab_bar", "tablist", hostile),
        ),
        CATALOG,
        title=hostile,
    )
    assert "<script" not in html
    assert 'onmouseover="x' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34; onmouseover=&#34;x" in html


def test_a_changed_label_is_marked_with_both_words() -> None:
    """Two versions of a template (the Diff tab): a new label is a mark with old and new text;
    a label change on a moved component joins the move's detail."""
    base = layout(*_ids("a", "b", "c"))
    after = layout(*_ids("a", "c", "b"))
    after.components[0] = msgspec.structs.replace(after.components[0], label="公告 new")
    after.components[2] = msgspec.structs.replace(after.components[2], label="b 新")
    html = render_h5(after, CATALOG, title="H", base=base)
    marks = _marks(html)
    assert marks["a"] == ("label", "label changed")
    assert "label “Label a” → “公告 new”" in html
    moved = [cid for cid, (kind, _) in marks.items() if kind == "moved"]
    assert len(moved) == 1
    if moved == ["b"]:
        assert "position 2 → 3, label “Label b” → “b 新”" in html


def test_lint_problems_are_drawn_at_their_component_and_the_page() -> None:
    ids = ["a", "b"]
    problems = problems_by_component(
        ids,
        [
            Problem("components[1].label", "empty"),
            Problem("theme.palette.text", "contrast 2.1:1"),
            Problem("components[9].label", "out of range"),
        ],
    )
    assert problems == {
        "b": ["components[1].label: empty"],
        "": ["theme.palette.text: contrast 2.1:1", "components[9].label: out of range"],
    }
    html = render_h5(layout(*_ids(*ids)), CATALOG, title="H", problems=problems)
    found = {a.get("data-id"): a.get("class") for _, a in elements(html) if a.get("data-id")}
    assert "problem" in (found["b"] or "") and "problem" not in (found["a"] or "")
    assert "⚠ components[1].label: empty" in html
    assert 'id="problems-banner"' in html and "theme.palette.text: contrast 2.1:1" in html
    assert 'id="problems-banner"' not in render_h5(layout(*_ids(*ids)), CATALOG, title="H")


def test_an_elderly_page_draws_its_more_entry_speech_and_confirmations() -> None:
    """长辈版 (issue 24): what the server folded is drawn dimmed after one 更多 More entry, each
    component carries the text read aloud, a payment says it asks first."""
    title = component("t", "section_title", "heading", "Aisles")
    grid = msgspec.structs.replace(
        component("g", "product_grid", "list", "Fruit"), folded=True, speech="Fruit"
    )
    other = msgspec.structs.replace(
        component("h", "product_grid", "list", "Meat"), folded=True, speech="Meat"
    )
    buy = msgspec.structs.replace(
        component("buy", "primary_button", "button", "Pay", props={"confirm": True}),
        speech="Pay",
    )
    page = msgspec.structs.replace(
        layout(title, grid, other, buy),
        elderly=ElderlyInfo(needs=[], max_columns=3, max_entries=6, more_label="更多 More"),
    )
    html = render_h5(page, CATALOG, title="Home")
    assert html.count('class="more-entry"') == 1
    assert html.index('class="more-entry"') < html.index('id="c-g"') < html.index('id="c-h"')
    found = {a.get("data-id"): a for _, a in elements(html) if a.get("data-id")}
    assert found["g"]["data-folded"] == "true" and "folded" in (found["g"]["class"] or "")
    assert "data-folded" not in found["t"]
    assert found["g"]["data-speech"] == "Fruit"
    assert found["buy"]["data-confirm"] == "true"

"""The H5 preview in Debian's Chromium, served by a real `uiserver serve`: where things land on
the screen (element boxes, not markup), which font draws Chinese, the direction, and axe-core on
the marked, RTL, dark and tablet renderings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.helpers.axe import report, violations
from tests.helpers.browser import Server

pytestmark = pytest.mark.browser

PERSONAS = ["default", "elderly", "low_vision", "screen_reader", "off", "churn_risk"]
BOTTOM = ["go_cart", "add_to_cart", "buy_now"]  # product: bottom_left, _center, _right
TOLERANCE = 1.0  # px of sub-pixel rounding


@pytest.fixture(scope="module")
def tab(browser: Browser, server: Server) -> Iterator[Page]:
    """A desktop-sized tab that sends the designer's bearer token, as the console's frame does."""
    context = browser.new_context(
        viewport={"width": 1400, "height": 1100},
        extra_http_headers={"Authorization": f"Bearer {server.designer_token}"},
    )
    yield context.new_page()
    context.close()


def preview(tab: Page, server: Server, page: str, persona: str = "default", **query: str) -> Page:
    params = "&".join(
        f"{k}={v}" for k, v in {"persona": persona, "format": "html", **query}.items()
    )
    response = tab.goto(f"{server.url}/v1/admin/preview/{page}?{params}")
    assert response is not None and response.status == 200, response and response.text()
    return tab


def box(tab: Page, selector: str) -> dict[str, float]:
    found = tab.locator(selector)
    assert found.count() == 1, f"{selector}: {found.count()} elements"
    rect = found.bounding_box()
    assert rect is not None, f"{selector} is not rendered"
    return {
        "left": rect["x"],
        "top": rect["y"],
        "right": rect["x"] + rect["width"],
        "bottom": rect["y"] + rect["height"],
        "width": rect["width"],
        "height": rect["height"],
    }


def tappable(cid: str) -> str:
    """The element a finger hits for component `cid`."""
    return f'[data-id="{cid}"] .tap'


# --------------------------------------------------------------------------- placements


def test_bottom_bar_is_pinned_to_the_bottom_of_the_phone_viewport(
    tab: Page, server: Server
) -> None:
    preview(tab, server, "product", "elderly")
    screen = tab.viewport_size
    assert screen is not None
    viewport = box(tab, "#viewport")
    assert (round(viewport["width"]), round(viewport["height"])) == (375, 667)
    bar = box(tab, "#actionbar")
    assert abs(bar["bottom"] - viewport["bottom"]) <= TOLERANCE
    buttons = [box(tab, tappable(cid)) for cid in BOTTOM]
    for cid, button in zip(BOTTOM, buttons, strict=True):
        # inside the bar, inside the visible viewport, on screen without scrolling the page
        assert bar["top"] - TOLERANCE <= button["top"], cid
        assert button["bottom"] <= viewport["bottom"] + TOLERANCE, cid
        assert viewport["bottom"] - button["bottom"] <= 16, (cid, button, viewport)
        assert button["bottom"] <= screen["height"], cid
        assert button["height"] >= 60 and button["width"] >= 60, (cid, button)  # elderly targets
    left, center, right = buttons
    assert left["right"] <= center["left"] and center["right"] <= right["left"]
    assert left["left"] - viewport["left"] <= 16 and viewport["right"] - right["right"] <= 16

    # The page is longer than the viewport: the content scrolls inside it, the bar stays.
    scroll = tab.evaluate(
        "() => { const s = document.getElementById('scroll'); const room = s.scrollHeight -"
        " s.clientHeight; s.scrollTop = room; return {room, top: s.scrollTop}; }"
    )
    assert scroll["room"] > 500 and scroll["top"] > 0, scroll
    assert tab.evaluate("() => document.documentElement.scrollHeight") <= screen["height"]
    assert box(tab, tappable("buy_now")) == right


def test_floating_buttons_overlay_the_content(tab: Page, server: Server) -> None:
    preview(tab, server, "product", "elderly")
    content = box(tab, ".content")
    bar = box(tab, "#actionbar")
    viewport = box(tab, "#viewport")
    for cid, side in (("voice_nav", "left"), ("back_to_top", "right")):
        button = box(tab, tappable(cid))
        assert content["top"] <= button["top"] and button["bottom"] <= bar["top"], cid
        assert button["bottom"] >= bar["top"] - 40, (cid, "floats just above the bar")
        edge = (
            button["left"] - viewport["left"]
            if side == "left"
            else viewport["right"] - button["right"]
        )
        assert edge <= 16, (cid, side, edge)
        # On top of the scrolling page: the button is hit first, page content lies beneath.
        stack = tab.evaluate(
            """([x, y, cid]) => {
                 const all = document.elementsFromPoint(x, y);
                 const hit = all[0].closest('[data-id]');
                 const under = all.some((el) => el.closest('#scroll main') !== null);
                 return {hit: hit && hit.dataset.id, under};
               }""",
            [(button["left"] + button["right"]) / 2, (button["top"] + button["bottom"]) / 2, cid],
        )
        assert stack == {"hit": cid, "under": True}, (cid, stack)


def test_rtl_locale_sets_dir_and_keeps_thumb_sides(tab: Page, server: Server) -> None:
    preview(tab, server, "product", "default", locale="ar-SA")
    assert tab.evaluate("() => document.documentElement.dir") == "rtl"
    assert tab.evaluate("() => getComputedStyle(document.querySelector('main')).direction") == "rtl"
    # bottom_left / bottom_right are where the thumb is, not reading order
    assert box(tab, tappable("go_cart"))["right"] < box(tab, tappable("buy_now"))["left"]
    preview(tab, server, "product", "default", locale="zh-CN")
    assert tab.evaluate("() => getComputedStyle(document.querySelector('main')).direction") == "ltr"


@pytest.mark.parametrize(
    ("locale", "direction"),
    [
        pytest.param("ar-SA-u-nu-latn", "rtl", id="arabic-latin-digits"),
        pytest.param("en-US-u-nu-arab", "ltr", id="english-arabic-digits"),
        pytest.param("he-IL-x-ltr", "rtl", id="hebrew-private-use"),
    ],
)
def test_direction_on_screen_comes_from_the_tags_language(
    tab: Page, server: Server, locale: str, direction: str
) -> None:
    """Extensions and private use never set the page's direction (RFC 5646 subtags)."""
    preview(tab, server, "product", "default", locale=locale)
    shown = tab.evaluate("() => getComputedStyle(document.querySelector('main')).direction")
    assert shown == direction


@pytest.mark.parametrize(
    ("query", "width", "height"),
    [
        pytest.param({"device": "tablet"}, 768, 1024, id="tablet"),
        pytest.param({"device": "desktop"}, 1280, 800, id="desktop"),
        pytest.param({"device": "phone", "width": "414"}, 414, 667, id="phone-414"),
    ],
)
def test_frame_follows_the_device(
    tab: Page, server: Server, query: dict[str, str], width: int, height: int
) -> None:
    preview(tab, server, "home", "default", **query)
    viewport = box(tab, "#viewport")
    assert (round(viewport["width"]), round(viewport["height"])) == (width, height)


def test_dark_mode_uses_the_dark_palette(tab: Page, server: Server) -> None:
    preview(tab, server, "product", "default", dark="1")
    colours = tab.evaluate(
        "() => [getComputedStyle(document.getElementById('viewport')).backgroundColor,"
        " getComputedStyle(document.querySelector('main')).color]"
    )
    assert colours == ["rgb(20, 20, 20)", "rgb(240, 240, 240)"]  # product.yaml dark_palette


# --------------------------------------------------------------------------- fonts

# Draws two strings in the given font on a canvas: their ink must differ (tofu boxes for
# missing glyphs all look alike) and be non-empty.
GLYPHS = """([font, a, b]) => {
  const draw = (text) => {
    const canvas = document.createElement('canvas');
    canvas.width = 64; canvas.height = 64;
    const ctx = canvas.getContext('2d');
    ctx.font = font; ctx.textBaseline = 'top'; ctx.fillStyle = '#000';
    ctx.fillText(text, 4, 4);
    const data = ctx.getImageData(0, 0, 64, 64).data;
    let ink = 0, sig = [];
    for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) ink++; sig.push(data[i]); }
    return {ink, sig: sig.join(','), width: ctx.measureText(text).width};
  };
  const x = draw(a), y = draw(b);
  return {inkA: x.ink, inkB: y.ink, width: x.width, distinct: x.sig !== y.sig};
}"""


def platform_fonts(tab: Page, selector: str) -> dict[str, int]:
    """Which installed fonts Chromium used for the text of `selector` (DevTools protocol)."""
    cdp = tab.context.new_cdp_session(tab)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument")["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        fonts: list[dict[str, Any]] = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})[
            "fonts"
        ]
    finally:
        cdp.detach()
    return {f["familyName"]: int(f["glyphCount"]) for f in fonts}


def test_chinese_labels_render_with_the_cjk_font(tab: Page, server: Server) -> None:
    preview(tab, server, "product", "elderly")
    assert "Noto Sans CJK SC" in tab.evaluate("() => getComputedStyle(document.body).fontFamily")
    used = platform_fonts(tab, "h1")  # "商品详情 Product details"
    assert any("CJK" in family and count >= 4 for family, count in used.items()), used
    font = tab.evaluate(
        "() => { const s = getComputedStyle(document.querySelector('h1'));"
        " return s.fontSize + ' ' + s.fontFamily; }"
    )
    drawn = tab.evaluate(GLYPHS, [font, "商", "品"])
    assert drawn["distinct"] and drawn["inkA"] > 20 and drawn["inkB"] > 20, drawn
    assert drawn["width"] > 10, drawn


def test_the_glyph_check_detects_tofu(tab: Page, server: Server) -> None:
    """Two private-use code points have no glyph anywhere: they draw the same box, and the
    check above would fail on them."""
    preview(tab, server, "product", "elderly")
    drawn = tab.evaluate(GLYPHS, ['24px "Noto Sans CJK SC", sans-serif', "\ue000", "\ue001"])
    assert not drawn["distinct"], drawn


# --------------------------------------------------------------------------- marks


def test_marks_show_what_personalization_changed(tab: Page, server: Server) -> None:
    preview(tab, server, "product", "low_vision", marks="1")
    marked = tab.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('[data-mark]')]"
        ".map((el) => [el.dataset.id, [el.dataset.mark, el.dataset.reason]]))"
    )
    assert marked["buy_now"] == ["placement", "handedness"], marked
    badge = tab.locator('[data-id="buy_now"] .badge')
    assert "bottom_right → bottom_left" in badge.inner_text()
    assert badge.is_visible()
    preview(tab, server, "product", "churn_risk", marks="1")
    assert tab.locator('[data-id="welcome_back"]').get_attribute("data-mark") == "shown"
    preview(tab, server, "product", "off", marks="1")
    assert tab.locator("[data-mark]").count() == 0
    preview(tab, server, "product", "low_vision")
    assert tab.locator("[data-mark]").count() == 0


def test_marks_must_be_0_or_1(tab: Page, server: Server) -> None:
    response = tab.goto(f"{server.url}/v1/admin/preview/product?format=html&marks=yes")
    assert response is not None and response.status == 422
    assert response.json()["error"]["field"] == "marks"


# --------------------------------------------------------------------------- axe


@pytest.mark.parametrize("persona", PERSONAS)
def test_marked_preview_has_no_violations(tab: Page, server: Server, persona: str) -> None:
    preview(tab, server, "product", persona, marks="1")
    found = violations(tab)
    assert found == [], report(found)


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"locale": "ar-SA"}, id="rtl"),
        pytest.param({"dark": "1"}, id="dark"),
        pytest.param({"device": "tablet"}, id="tablet"),
        pytest.param({"device": "desktop", "dark": "1", "marks": "1"}, id="desktop-dark-marked"),
    ],
)
@pytest.mark.parametrize("persona", ["default", "elderly"])
def test_context_variants_have_no_violations(
    tab: Page, server: Server, persona: str, query: dict[str, str]
) -> None:
    preview(tab, server, "product", persona, **query)
    found = violations(tab)
    assert found == [], report(found)

"""The visual designer in Debian's Chromium against a real `uiserver serve`: reorder by drag and
by keyboard -> the live preview and validation follow -> publish; a colour that breaks contrast
flagged at its component before publishing; autosave surviving a reload; a custom persona with
12 coupon clicks showing the moved strip marked; the bottom bar at the bottom of the phone's
viewport (element boxes); axe on the scripted pages; a screenshot of every console page
(`test-artifacts/console/*.png`)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Frame, Page, expect

from tests.helpers.app import ROOT
from tests.helpers.axe import assert_clean
from tests.helpers.browser import Server, log_in

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts" / "console"


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    yield context
    context.close()


def api(server: Server, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.designer_token}"}
    return httpx.request(method, server.url + path, headers=headers, **kwargs)


def open_editor(context: BrowserContext, server: Server, page_name: str) -> Page:
    page = log_in(context, server)
    page.goto(f"{server.url}/designer/pages/{page_name}")
    page.wait_for_selector("#designer[data-previewed]")
    return page


def previewed(page: Page) -> int:
    return int(page.get_attribute("#designer", "data-previewed") or 0)


def until(page: Page, expression: str, timeout: float = 10.0) -> None:
    """Poll `expression` (page.wait_for_function evaluates strings, which the console's CSP
    rightly forbids: no 'unsafe-eval')."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {expression}")
        page.wait_for_timeout(50)


def wait_preview_after(page: Page, ticket: int) -> None:
    until(page, f"Number(document.getElementById('designer').dataset.previewed || 0) > {ticket}")


def phone(page: Page, frame_id: str = "phone-a") -> Frame:
    frame = page.frame_locator(f"#{frame_id}").locator("body").element_handle()
    assert frame is not None
    owner = frame.owner_frame()
    assert owner is not None
    return owner


def frame_order(frame: Frame) -> list[str]:
    ids: list[str] = frame.eval_on_selector_all(
        ".scroll [data-id]", "els => els.map(e => e.dataset.id)"
    )
    return ids


def source_ids(page: Page) -> list[str]:
    doc = json.loads(page.locator("#template").input_value())
    return [c["id"] for c in doc["components"]]


# --------------------------------------------------------------------------- reorder -> publish


def test_reorder_by_keyboard_and_drag_then_publish(context: BrowserContext, server: Server) -> None:
    page = open_editor(context, server, "home")
    before = source_ids(page)
    i = before.index("coupons")
    above = before[i - 1]
    ticket = previewed(page)
    # Keyboard: focus the button and press Enter, as a keyboard or screen-reader user does.
    page.get_by_role("button", name="Move coupons up").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#announce")).to_have_text(
        f"Moved coupons to position {i} of {len(before)}."
    )
    assert page.evaluate("document.activeElement.dataset.focus") == "up:coupons"
    wait_preview_after(page, ticket)
    order = source_ids(page)
    assert order.index("coupons") == i - 1 and order.index(above) == i
    shown = frame_order(phone(page))
    assert shown.index("coupons") < shown.index(above)
    expect(page.locator("#live-problems")).to_contain_text("Valid")

    # Drag (SortableJS): the order-status handle onto the flash-sale row, both in the
    # movable feed zone (the categories row is pinned navigation: lint refuses moving past it).
    expect(page.locator("#status")).to_contain_text("Draft saved")  # no layout shift mid-drag
    ticket = previewed(page)
    status, sale = order.index("order_status"), order.index("flash_sale")
    assert status < sale
    handle = page.locator("#outline li[data-id=order_status] .handle")
    target = page.locator("#outline li[data-id=flash_sale]")
    handle.scroll_into_view_if_needed()
    box_from, box_to = handle.bounding_box(), target.bounding_box()
    assert box_from and box_to
    x, y = box_from["x"] + box_from["width"] / 2, box_from["y"] + box_from["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(x, y + (box_to["y"] + box_to["height"] * 0.8 - box_from["y"]) * step / 20)
        # Kept: the pace of the gesture is the scenario. A hand drags over time, and SortableJS
        # takes the drag from pointer moves spread over time (it animates each swap); what
        # the drag did is then checked by polling (expect) below.
        page.wait_for_timeout(30)
    page.mouse.up()
    expect(page.locator("#announce")).to_contain_text("Moved order_status to position")
    expect(page.locator("#announce")).to_contain_text("by drag and drop")
    wait_preview_after(page, ticket)
    dragged = source_ids(page)
    assert dragged.index("order_status") > dragged.index("flash_sale")
    shown = frame_order(phone(page))
    assert shown.index("order_status") > shown.index("flash_sale")

    page.get_by_label("Publish message").fill("coupons up, order status below flash sale")
    page.get_by_role("button", name="Publish", exact=True).click()
    page.get_by_role("button", name="Confirm publish").click()
    expect(page.get_by_role("status").filter(has_text="Published")).to_contain_text("is live")
    live = api(server, "GET", "/v1/admin/templates/home").json()["template"]
    assert [c["id"] for c in live["components"]] == dragged
    # Publishing ended the draft.
    assert api(server, "GET", "/v1/admin/drafts/home").status_code == 404


# --------------------------------------------------------------------------- contrast


def test_colour_breaking_contrast_is_flagged_at_the_component(
    context: BrowserContext, server: Server
) -> None:
    page = open_editor(context, server, "product")
    button = page.locator("#outline li[data-id=buy_now]")
    button.locator(".pick").click()
    colour = page.get_by_label("Text on primary (theme on_primary, on primary)")
    ratio = page.locator("#comp-colour-buy_now-on_primary-ratio")
    expect(ratio).to_contain_text("passes")
    ticket = previewed(page)
    colour.fill("#f08a6a")
    # The readout: the server's ratio against the floor and criterion, at the colour picker.
    expect(ratio).to_contain_text("needs 4.5:1 (WCAG 1.4.3)")
    expect(ratio).to_contain_text("too low")
    # Validation names the field; the outline flags the button that draws with it.
    expect(button.locator(".item-problems")).to_contain_text("on_primary")
    expect(button).to_have_class(re.compile(r"\bflagged\b"))
    expect(page.locator("#component-problems")).to_contain_text("contrast")
    expect(page.locator("#live-problems")).to_contain_text("publishing would be refused")
    until(page, "document.querySelectorAll('.cm-lint-marker-error').length > 0")
    wait_preview_after(page, ticket)  # the preview was redrawn with the new colour
    # Publishing is refused and the live version keeps serving.
    live = api(server, "GET", "/v1/admin/templates/product").json()["live_version"]
    page.get_by_label("Publish message").fill("pastel button text")
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("region", name="Problems")).to_contain_text("on_primary")
    assert api(server, "GET", "/v1/admin/templates/product").json()["live_version"] == live
    api(server, "DELETE", "/v1/admin/drafts/product")


# --------------------------------------------------------------------------- autosave


def test_autosave_survives_a_reload_until_discarded(
    context: BrowserContext, server: Server
) -> None:
    page = open_editor(context, server, "me")
    first = frame_order(phone(page))[1]  # drawn on the phone (not a hidden module)
    index = source_ids(page).index(first)
    page.locator(f"#outline li[data-id={first}] .pick").click()
    label = page.get_by_label("Label", exact=True)
    label.fill("Autosaved label 自动保存")
    expect(page.locator("#status")).to_contain_text("Draft saved")
    page.reload()
    page.wait_for_selector("#designer[data-previewed]")
    expect(page.locator("#draft-notice")).to_contain_text("Opened your draft of me")
    doc = json.loads(page.locator("#template").input_value())
    assert doc["components"][index]["label"] == "Autosaved label 自动保存"
    expect(phone(page).locator(f"[data-id={first}]")).to_contain_text("Autosaved label 自动保存")
    page.goto(server.url + "/designer/")
    expect(page.get_by_role("link", name="Draft of me")).to_be_visible()
    page.get_by_role("link", name="Draft of me").click()
    page.wait_for_selector("#designer[data-previewed]")
    page.get_by_role("button", name="Discard draft").click()
    page.wait_for_selector("#designer[data-previewed]")
    expect(page.locator("#draft-notice")).to_have_count(0)
    doc = json.loads(page.locator("#template").input_value())
    assert doc["components"][index].get("label") != "Autosaved label 自动保存"
    assert api(server, "GET", "/v1/admin/drafts").json()["drafts"] == []


# --------------------------------------------------------------------------- personas


def test_custom_persona_with_coupon_clicks_marks_the_moved_strip(
    context: BrowserContext, server: Server
) -> None:
    page = log_in(context, server)
    page.goto(server.url + "/designer/pages/home/preview")
    page.get_by_label("Synthetic events").fill("coupons:click:12")
    page.get_by_label("Compare with").select_option("off")
    page.get_by_role("button", name="Show this persona").click()
    assert "events=coupons%3Aclick%3A12" in page.url
    custom = page.frame_locator("section[data-persona=custom] iframe")
    strip = custom.locator("[data-id=coupons]")
    expect(strip).to_have_attribute("data-mark", "moved")
    expect(strip.locator(".badge")).to_contain_text("moved")
    expect(custom.locator("[data-mark]")).not_to_have_count(0)
    other = page.frame_locator("section[data-persona=compare-off] iframe")
    expect(other.locator("[data-id=coupons]")).not_to_have_attribute("data-mark", "moved")
    # The shared address opens the same persona.
    link = page.locator("#share-link").get_attribute("href")
    assert link and "events=coupons" in link
    fresh = context.new_page()
    fresh.goto(server.url + link)
    expect(
        fresh.frame_locator("section[data-persona=custom] iframe").locator("[data-id=coupons]")
    ).to_have_attribute("data-mark", "moved")
    fresh.close()


# --------------------------------------------------------------------------- the phone frame


def _boxes(frame: Frame, component: str) -> dict[str, Any]:
    boxes: dict[str, Any] = frame.evaluate(
        """(id) => {
          const box = (el) => { const r = el.getBoundingClientRect();
            return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
          return {viewport: box(document.querySelector('.viewport')),
                  bar: box(document.querySelector('.actionbar')),
                  button: box(document.querySelector(`[data-id="${id}"]`))};
        }""",
        component,
    )
    return boxes


def test_bottom_bar_sits_at_the_bottom_of_the_phone_viewport(
    context: BrowserContext, server: Server
) -> None:
    page = open_editor(context, server, "product")
    for frame_id in ("phone-a", "phone-b"):
        boxes = _boxes(phone(page, frame_id), "buy_now")
        viewport, bar, button = boxes["viewport"], boxes["bar"], boxes["button"]
        assert abs(bar["bottom"] - viewport["bottom"]) <= 2, boxes
        assert viewport["bottom"] - viewport["top"] == pytest.approx(667, abs=2), boxes
        assert bar["top"] <= button["top"] and button["bottom"] <= bar["bottom"] + 0.5, boxes
        # bottom_right: the button is in the right half of the phone.
        assert button["left"] > (viewport["left"] + viewport["right"]) / 2, boxes
    api(server, "DELETE", "/v1/admin/drafts/product")


# --------------------------------------------------------------------------- axe, screenshots


def test_scripted_pages_have_no_axe_violations(context: BrowserContext, server: Server) -> None:
    page = open_editor(context, server, "product")
    page.locator("#outline li[data-id=buy_now] .pick").click()
    # The properties panel is checked once it is complete: its contrast readouts are filled
    # (all at once, from one /contrast answer, after a debounce).
    expect(page.locator("#comp-colour-buy_now-on_primary-ratio")).to_contain_text("passes")
    assert_clean(page)
    page.goto(
        server.url + "/designer/pages/home/preview?events=coupons:click:12&dark=1"
        "&device=tablet&compare=elderly"
    )
    assert_clean(page)
    template = api(server, "GET", "/v1/admin/templates/cart").json()["template"]
    template["title"] = "购物车 Cart (renamed)"
    assert (
        api(
            server,
            "POST",
            "/v1/admin/templates/cart/publish",
            json={"template": template, "message": "rename"},
        ).status_code
        == 201
    )
    page.goto(server.url + "/designer/pages/cart/diff")
    expect(page.locator("section[data-version=to] iframe")).to_be_visible()
    assert_clean(page)


PAGES = [
    ("list", "/designer/"),
    ("editor", "/designer/pages/home"),
    ("history", "/designer/pages/home/history"),
    ("diff", "/designer/pages/cart/diff"),
    ("preview", "/designer/pages/home/preview"),
    ("persona", "/designer/pages/home/preview?events=coupons%3Aclick%3A12&compare=elderly"),
    ("segments", "/designer/segments"),
    ("not-found", "/designer/pages/nope"),
]


def test_screenshot_of_every_console_page(context: BrowserContext, server: Server) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    anonymous = context.new_page()
    anonymous.goto(server.url + "/designer/login")
    anonymous.screenshot(path=str(ARTIFACTS / "login.png"), full_page=True)
    anonymous.close()
    page = log_in(context, server)
    for name, path in PAGES:
        page.goto(server.url + path)
        # Only the editor draws after its load event (every other console page is static HTML
        # whose preview frames are in the markup, loaded before `goto` returns): wait for
        # what it draws, the panel's readouts and both phones.
        if name == "editor":
            page.wait_for_selector("#designer[data-previewed]")
            page.locator("#outline li[data-id=coupons] .pick").click()
            expect(page.locator("#properties output.ratio").first).not_to_be_empty()
            for phone in ("#phone-a", "#phone-b"):
                expect(page.frame_locator(phone).locator("[data-id]").first).to_be_visible()
        target = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 10_000, target

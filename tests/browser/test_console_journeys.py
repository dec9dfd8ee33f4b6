"""Journeys of a new designer through the console, in Debian's Chromium against a real `uiserver
serve` (issue 23): create a page, walk every console form with bad input (a page, never a bare
500), add a component to a page that runs an experiment, Chinese text in diffs, a lint problem
that still draws the phones. axe at 0 violations on each page; a screenshot of every step in
`test-artifacts/console/`."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.helpers.app import ROOT
from tests.helpers.axe import assert_clean
from tests.helpers.browser import Server, log_in, mint

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts" / "console"


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context
    context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"journey-{name}.png"), full_page=False)


def api(server: Server, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.designer_token}"}
    return httpx.request(method, server.url + path, headers=headers, timeout=30, **kwargs)


def wait_previewed(page: Page) -> None:
    page.wait_for_selector("#designer[data-previewed]")


def settled(page: Page) -> None:
    """The editor's phones drawn and not redrawing: the preview ticket unchanged for 600 ms
    (axe injects itself into the frames, which must not be replaced meanwhile)."""
    last, still = None, 0
    while still < 6:
        now = page.get_attribute("#designer", "data-previewed")
        still = still + 1 if now == last else 0
        last = now
        page.wait_for_timeout(100)


def open_editor(context: BrowserContext, server: Server, name: str) -> Page:
    """Signed in, the editor of page `name` with its phones drawn."""
    page = log_in(context, server)
    page.goto(f"{server.url}/designer/pages/{name}")
    wait_previewed(page)
    return page


def publish(page: Page, message: str) -> None:
    """Publish the editor's draft with `message`, through the confirmation."""
    page.get_by_label("Publish message").fill(message)
    page.get_by_role("button", name="Publish", exact=True).click()
    page.get_by_role("button", name="Confirm publish").click()
    expect(page.get_by_role("status").first).to_contain_text("is live")


def source(page: Page) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(page.locator("#template").input_value())
    return doc


# --------------------------------------------------------------------------- create a page


def test_create_a_page_opens_the_editor_on_its_draft(
    context: BrowserContext, server: Server
) -> None:
    page = log_in(context, server)
    shot(page, "create-1-list")
    page.get_by_label("Page name").fill("offers")
    page.get_by_label("Starter").select_option("cart")
    page.get_by_role("button", name="Create from starter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit offers")
    expect(page.get_by_role("status").first).to_contain_text("New page offers from cart")
    wait_previewed(page)
    assert source(page)["page"] == "offers"
    settled(page)
    shot(page, "create-2-editor")
    assert_clean(page)
    publish(page, "a page for offers")
    assert httpx.get(f"{server.url}/v1/layouts/offers").status_code == 200
    shot(page, "create-3-published")


# --------------------------------------------------------------------------- bad input


def csrf_of(page: Page) -> str:
    value = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    assert value
    return value


def test_every_console_form_with_bad_input_answers_a_page(
    context: BrowserContext, server: Server
) -> None:
    page = log_in(context, server)
    token = csrf_of(page)
    deep = "[" * 200 + "]" * 200
    posts: list[tuple[str, dict[str, str]]] = [
        ("/designer/new", {"page": "", "starter": "cart"}),
        ("/designer/new", {"page": "Bad Name!", "starter": "cart"}),
        ("/designer/new", {"page": "cart", "starter": "cart"}),
        ("/designer/new", {"page": "fresh", "starter": "nope"}),
        ("/designer/new", {"page": "fresh"}),
        ("/designer/pages/cart", {"template": "{not json", "action": "validate"}),
        ("/designer/pages/cart", {"template": deep, "action": "publish", "message": "x"}),
        ("/designer/pages/cart", {"template": "[]", "action": "publish"}),
        ("/designer/pages/cart", {"template": "{}", "action": "whatever"}),
        ("/designer/pages/cart", {"action": "reapply", "template": "{}"}),
        ("/designer/pages/nowhere", {"template": "{}", "action": "validate"}),
        ("/designer/pages/cart/preview", {"template": "{not json"}),
        ("/designer/pages/cart/preview", {}),
        ("/designer/pages/cart/rollback", {"version": "nope"}),
        ("/designer/pages/cart/rollback", {"version": "nope", "confirm": "yes"}),
        ("/designer/pages/cart/rollback", {}),
        ("/designer/pages/cart/rollout", {"step": "explode"}),
        ("/designer/pages/cart/rollout", {"step": "rollout", "percent": "500"}),
        ("/designer/pages/cart/rollout", {"step": "promote"}),
        ("/designer/pages/nowhere/archive", {}),
        ("/designer/pages/nowhere/rollback", {"version": "x"}),
        ("/designer/segments", {"segments": "{not json"}),
        ("/designer/segments", {"segments": deep}),
        ("/designer/segments", {}),
        ("/designer/pages/cart/assessment/manual/captcha", {"result": "maybe"}),
        ("/designer/pages/cart/assessment/manual/nope", {"result": "pass"}),
        ("/designer/pages/nowhere/assessment/manual/captcha", {"result": "pass"}),
    ]
    for path, form in posts:
        response = page.request.post(
            server.url + path, form={"csrf_token": token, **form}, max_redirects=0
        )
        assert 400 <= response.status < 500 or response.status in (200, 303), (path, form)
        assert "text/html" in response.headers["content-type"], (path, form, response.text())
        assert "<h1>" in response.text(), (path, form)
    gets = [
        "/designer/pages/nowhere",
        "/designer/pages/nowhere/history",
        "/designer/pages/nowhere/diff",
        "/designer/pages/nowhere/preview",
        "/designer/pages/cart/diff?from=nope&to=nope",
        "/designer/pages/cart/diff?persona=nobody",
        "/designer/pages/cart/preview?device=ipad",
        "/designer/pages/cart/preview?persona=nobody",
        "/designer/pages/cart/preview?width=99999999999999999999",
        "/designer/pages/cart/preview?compare=nobody&font_scale=1.2",
        "/designer/pages/cart/preview?events=" + "x" * 5000,
        "/designer/audit?limit=abc",
        "/designer/audit?since=tomorrow&until=yesterday",
        "/designer/audit?before=not-a-cursor",
        "/designer/audit?page=" + "x" * 3000,
        "/designer/pages/nowhere/assessment",
        "/designer/pages/cart/assessment?persona=nobody&theme=neon",
        "/designer/pages/cart/assessment/phone?persona=nobody",
        "/designer/pages/cart/assessment/phone?theme=neon",
    ]
    for path in gets:
        response = page.request.get(server.url + path, max_redirects=0)
        assert 200 <= response.status < 500, (path, response.status)
        assert "text/html" in response.headers["content-type"], (path, response.text())
    # Without the form's CSRF token: refused with a page, not a 500.
    response = page.request.post(server.url + "/designer/new", form={"page": "x"})
    assert response.status == 403 and "<h1>" in response.text()
    # `serve` said where the console is and how to get a token to sign in.
    port = server.url.rsplit(":", 1)[1]
    log = (server.data_dir.parent / f"server-{port}.log").read_text()
    assert f"designer console at http://127.0.0.1:{port}/designer/" in log
    assert "uiserver token YOUR_NAME --role designer" in log
    page.goto(server.url + "/designer/pages/cart/preview?device=ipad")
    expect(page.get_by_role("alert")).to_contain_text(re.compile("phone.*tablet|allowed"))
    shot(page, "bad-input-device")
    assert_clean(page)


# --------------------------------------------------------------------------- experiment page


def test_add_a_component_to_a_page_with_an_experiment(
    context: BrowserContext, server: Server
) -> None:
    page = open_editor(context, server, "home")
    before = source(page)
    own = [v for v in before["variants"] if v.get("order")]
    assert own, "home's deals_first variant has its own order"
    page.locator("#outline li[data-id=coupons] .pick").click()
    page.get_by_label("Component type").select_option("coupon_strip")
    page.get_by_label("Id of the new component").fill("claim_all")
    page.get_by_role("button", name="Add after the selected component").click()
    expect(page.locator("#announce")).to_contain_text("own order of variant deals_first")
    doc = source(page)
    base = [c["id"] for c in doc["components"]]
    assert base.index("claim_all") == base.index("coupons") + 1
    for variant in doc["variants"]:
        if variant.get("order"):
            order = variant["order"]
            assert sorted(order) == sorted(base)
            assert order.index("claim_all") == order.index("coupons") + 1
            pinned = [c["id"] for c in doc["components"] if c.get("pinned")]
            assert all(order.index(p) == base.index(p) for p in pinned)
    expect(page.locator("#live-problems")).to_contain_text("Valid", timeout=10_000)
    settled(page)
    shot(page, "experiment-1-added")
    assert_clean(page)

    # A reorder of the base asks whether the variants follow; "apply" moves it there too.
    page.get_by_role("button", name="Move claim_all up").click()
    question = page.get_by_role("group", name=re.compile("You moved claim_all"))
    expect(question).to_be_visible()
    expect(question).to_contain_text("deals_first")
    shot(page, "experiment-2-question")
    variant = next(v for v in source(page)["variants"] if v["name"] == "deals_first")
    kept = variant["order"].index("claim_all")
    assert variant["order"].index("coupons") == kept - 1  # unchanged until asked
    page.get_by_role("button", name="Apply to every variant").click()
    expect(page.locator("#announce")).to_contain_text("Moved claim_all in variant deals_first")
    doc = source(page)
    base = [c["id"] for c in doc["components"]]
    order = next(v for v in doc["variants"] if v["name"] == "deals_first")["order"]
    assert base.index("claim_all") == base.index("coupons") - 1
    assert order.index("claim_all") == order.index("coupons") - 1
    expect(page.locator("#live-problems")).to_contain_text("Valid", timeout=10_000)

    # Publishable: the confirmation, then live.
    publish(page, "a claim-all strip above the coupons")
    served = api(server, "GET", "/v1/admin/templates/home").json()
    ids = [c["id"] for c in served["template"]["components"]]
    assert "claim_all" in ids
    shot(page, "experiment-3-published")


# --------------------------------------------------------------------------- text, lint


def test_chinese_in_diffs_is_text_and_label_changes_are_marked(
    context: BrowserContext, server: Server
) -> None:
    page = open_editor(context, server, "me")
    doc = source(page)
    first = doc["components"][1]
    old_label = first["label"]
    new_label = "公告：新的标签 New label"
    page.locator(f"#outline li[data-id={first['id']}] .pick").click()
    page.get_by_label("Label", exact=True).fill(new_label)
    expect(page.locator("#live-problems")).to_contain_text("Valid", timeout=10_000)
    page.get_by_label("Publish message").fill("新的标签")
    page.get_by_role("button", name="Publish", exact=True).click()
    changes = page.get_by_role("region", name=re.compile("What changes"))
    expect(changes).to_contain_text(new_label)
    assert "\\u" not in changes.inner_text()
    shot(page, "text-1-confirm")
    assert_clean(page)
    page.get_by_role("button", name="Confirm publish").click()
    expect(page.get_by_role("status").first).to_contain_text("is live")

    page.goto(f"{server.url}/designer/pages/me/diff")
    table = page.get_by_role("table")
    expect(table).to_contain_text(new_label)
    expect(table).to_contain_text(old_label)
    assert "\\u" not in table.inner_text()
    to_phone = page.frame_locator("iframe[title*='To:']")
    badge = to_phone.locator(f"[data-id={first['id']}] .badge")
    expect(badge).to_contain_text("label")
    expect(badge).to_contain_text(new_label)
    shot(page, "text-2-diff")
    assert_clean(page)


def test_a_lint_problem_still_draws_the_phones_marked_at_the_component(
    context: BrowserContext, server: Server
) -> None:
    page = open_editor(context, server, "cart")
    doc = source(page)
    ticket = int(page.get_attribute("#designer", "data-previewed") or 0)
    # Through the properties panel, as a designer does.
    cid = doc["components"][0]["id"]
    page.locator(f"#outline li[data-id={cid}] .pick").click()
    page.get_by_label("Label", exact=True).fill("")
    expect(page.locator("#live-problems")).to_contain_text("publishing would be refused")
    for _ in range(100):
        if int(page.get_attribute("#designer", "data-previewed") or 0) > ticket:
            break
        page.wait_for_timeout(100)
    phone = page.frame_locator("#phone-a")
    expect(phone.locator(f"[data-id={cid}].problem .problem-badge")).to_contain_text("label")
    # The rest of the page is drawn: not a "Cannot preview" message.
    expect(phone.locator("[data-id]").nth(3)).to_be_visible()
    shot(page, "lint-1-marked-phone")
    api(server, "DELETE", "/v1/admin/drafts/cart")


def test_theme_colours_panel_follows_and_says_unset(
    context: BrowserContext, server: Server
) -> None:
    page = open_editor(context, server, "home")
    theme = page.locator("#theme-colours")
    expect(theme).to_contain_text("on background")
    assert "null" not in theme.inner_text()
    # A theme-level contrast problem is said once (Theme colours, Validation), not per row.
    page.locator("#outline li[data-id=coupons] .pick").click()
    page.locator("#theme-colour-primary").fill("#f4f4f4")
    expect(page.locator("#live-problems")).to_contain_text("theme.palette.primary")
    expect(theme).to_contain_text("too low")
    # (on_primary on the new primary fails too: only the main action button draws that.)
    rows = page.locator("#outline li.item").count()
    assert rows > 40 and page.locator("#outline .item-problems").count() <= 1
    expect(page.locator("#component-problems")).to_contain_text("theme.palette.primary")
    # An unset colour prop says so; it is no black swatch.
    unset = page.locator("#comp-prop-coupons-color")
    expect(unset).to_contain_text("Not set")
    assert unset.evaluate("el => el.tagName") == "SPAN"
    # The component panel's swatch of a theme colour follows the theme's.
    page.locator("#theme-colour-text").fill("#202020")
    expect(page.locator("#properties input[data-theme-colour=text]")).to_have_value("#202020")
    shot(page, "theme-1-contrast-once")
    api(server, "DELETE", "/v1/admin/drafts/home")


def test_custom_persona_previews_the_draft_and_says_why_nothing_moved(
    context: BrowserContext, server: Server
) -> None:
    page = open_editor(context, server, "product")
    doc = source(page)
    target = next(c for c in doc["components"] if c.get("label") and not c.get("pinned"))
    page.locator(f"#outline li[data-id={target['id']}] .pick").click()
    page.get_by_label("Label", exact=True).fill("草稿标签 Draft label")
    expect(page.locator("#status")).to_contain_text("Draft saved", timeout=10_000)
    page.goto(
        f"{server.url}/designer/pages/product/preview?persona=default&events={target['id']}:click:2"
    )
    expect(page.locator("#preview-source")).to_contain_text("Showing your draft")
    custom = page.frame_locator("iframe[title*='(custom)']")
    drawn = custom.locator(f"[data-id={target['id']}]").evaluate("el => el.innerHTML")
    assert "草稿标签 Draft label" in drawn
    why = page.locator("#why-custom")
    expect(why).to_contain_text("Nothing moved")
    expect(why).to_contain_text("min_evidence")
    shot(page, "persona-1-draft-evidence")
    assert_clean(page)
    page.get_by_role("link", name="Show the live version instead").click()
    expect(page.locator("#preview-source")).to_have_count(0)
    api(server, "DELETE", "/v1/admin/drafts/product")


def test_rollback_lists_changes_and_history_diffs_with_previous(
    context: BrowserContext, server: Server
) -> None:
    template = api(server, "GET", "/v1/admin/templates/category").json()["template"]
    old_title = template["title"]
    template["title"] = "分类 新标题"
    published = api(
        server,
        "POST",
        "/v1/admin/templates/category/publish",
        json={"template": template, "message": "new title"},
    )
    assert published.status_code in (200, 201), published.text
    page = log_in(context, server)
    page.goto(f"{server.url}/designer/pages/category/history")
    hashes = page.locator("td code.hash")
    assert hashes.first.evaluate("el => getComputedStyle(el).whiteSpace") == "nowrap"
    page.get_by_role("link", name=re.compile("Diff of #2 with the previous version")).click()
    expect(page.get_by_role("table")).to_contain_text("分类 新标题")
    page.goto(f"{server.url}/designer/pages/category/history")
    page.get_by_role("button", name=re.compile("Roll back to #1")).click()
    changes = page.get_by_role("region", name=re.compile("What changes"))
    expect(changes).to_contain_text("title")
    expect(changes).to_contain_text(old_title)
    shot(page, "rollback-1-confirm")
    assert_clean(page)


# --------------------------------------------------------------------- the phone is the canvas


def centre(box: Any) -> tuple[float, float]:
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag_on_phone(page: Page, source_id: str, target_id: str, below: bool = False) -> None:
    phone = page.frame_locator("#phone-a")
    item, target = (
        phone.locator(f"main [data-id={source_id}]"),
        phone.locator(f"main [data-id={target_id}]"),
    )
    # The page scrolled so that the phone's pane (sticky) fills the window, as a designer does.
    page.evaluate(
        "window.scrollTo(0, document.getElementById('phone-a').getBoundingClientRect().top"
        " + window.scrollY - 8)"
    )
    item.scroll_into_view_if_needed()
    x, y = centre(item.bounding_box())
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y + 10, steps=3)
    box = target.bounding_box()
    assert box is not None
    tx = box["x"] + box["width"] / 2
    ty = box["y"] + (box["height"] * 0.8 if below else box["height"] * 0.2)
    page.mouse.move(tx, ty, steps=8)
    page.mouse.up()


def test_edit_on_the_phone(context: BrowserContext, server: Server) -> None:
    api(server, "DELETE", "/v1/admin/drafts/cart")
    page = open_editor(context, server, "cart")
    settled(page)
    # The editor fits 1280 x 800 with the phone in view; the source is a closed panel.
    box = page.locator("#phone-a").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1280 and box["y"] < 800 - 300, box
    assert page.locator("#source-panel").get_attribute("open") is None
    shot(page, "phone-1-editor-1280")
    assert_clean(page)
    doc = source(page)
    flow = [
        c for c in doc["components"] if not c.get("pinned") and c.get("placement", "flow") == "flow"
    ]
    first, second = next(
        (a["id"], b["id"]) for a, b in itertools.pairwise(flow) if a.get("zone") == b.get("zone")
    )

    # Click on the phone: the outline and the properties follow.
    page.frame_locator("#phone-a").locator(f"main [data-id={second}]").click()
    expect(page.locator(f"#outline li[data-id={second}] .pick")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.locator("#properties h3")).to_contain_text(second)
    expect(page.frame_locator("#phone-a").locator(f"[data-id={second}]")).to_have_class(
        re.compile("ds-selected")
    )
    shot(page, "phone-2-selected")

    # Drag on the phone: second above first, in the same zone.
    ticket = int(page.get_attribute("#designer", "data-previewed") or 0)
    drag_on_phone(page, second, first)
    expect(page.locator("#announce")).to_contain_text(f"Moved {second}")
    expect(page.locator("#announce")).to_contain_text("on the phone")
    ids = [c["id"] for c in source(page)["components"]]
    assert ids.index(second) < ids.index(first)
    for _ in range(100):
        if int(page.get_attribute("#designer", "data-previewed") or 0) > ticket:
            break
        page.wait_for_timeout(100)
    settled(page)

    # A pinned component is not dragged: the rule is said.
    pinned = next((c["id"] for c in doc["components"] if c.get("pinned")), None)
    if (
        pinned is not None
        and page.frame_locator("#phone-a").locator(f"main [data-id={pinned}]").count()
    ):
        drag_on_phone(page, pinned, first)
        expect(page.locator("#announce")).to_contain_text("pinned")

    # Double-click a label to edit it in place.
    page.frame_locator("#phone-a").locator(f"main [data-id={first}]").dblclick()
    field = page.get_by_label(f"Label of {first}")
    expect(field).to_be_focused()
    field.fill("就地编辑 Edited in place")
    shot(page, "phone-3-label-in-place")
    field.press("Enter")
    label = next(c for c in source(page)["components"] if c["id"] == first)["label"]
    assert label == "就地编辑 Edited in place"
    expect(page.locator("#live-problems")).to_contain_text("Valid", timeout=10_000)
    api(server, "DELETE", "/v1/admin/drafts/cart")


def test_drag_on_the_phone_keeps_a_component_in_its_zone(
    context: BrowserContext, server: Server
) -> None:
    page = open_editor(context, server, "home")
    settled(page)
    before = [c["id"] for c in source(page)["components"]]
    drag_on_phone(page, "banner", "nearby_stores", below=True)  # top zone into the feed zone
    expect(page.locator("#announce")).to_contain_text("belongs to zone top")
    shot(page, "phone-5-zone-refused")
    assert [c["id"] for c in source(page)["components"]] == before


def test_the_editor_works_at_1024(browser: Browser, server: Server) -> None:
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        page = log_in(context, server)
        page.goto(f"{server.url}/designer/pages/cart")
        wait_previewed(page)
        settled(page)
        phone = page.locator("#phone-a").bounding_box()
        outline = page.locator("#outline").bounding_box()
        assert phone is not None and outline is not None
        assert phone["x"] + phone["width"] <= 1024 and phone["y"] < 768 - 200, phone
        assert outline["x"] + outline["width"] <= phone["x"], (outline, phone)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1024
        page.frame_locator("#phone-a").locator("main [data-id]").first.click()
        expect(page.locator("#properties h3")).to_be_visible()
        shot(page, "phone-4-editor-1024")
        assert_clean(page)
    finally:
        context.close()


# --------------------------------------------------------------------------- experiment editing


def test_experiment_editing(context: BrowserContext, server: Server) -> None:
    api(server, "DELETE", "/v1/admin/drafts/me")
    page = open_editor(context, server, "me")
    page.get_by_role("button", name="Create an experiment").click()
    doc = source(page)
    assert doc["experiment"] == "me_test_1"
    assert [v["name"] for v in doc["variants"]] == ["control", "variant_b"]
    expect(page.locator("#variant-split-0")).to_have_text("5,000 of 10,000 buckets (50.00%)")
    # Weights, with the exact split they give.
    page.get_by_label("Weight of control").fill("2")
    page.get_by_label("Weight of control").press("Tab")
    expect(page.locator("#variant-split-0")).to_have_text("385 of 10,000 buckets (3.85%)")
    page.get_by_label("Weight of variant_b").fill("1")
    page.get_by_label("Weight of variant_b").press("Tab")
    expect(page.locator("#variant-split-0")).to_have_text("6,667 of 10,000 buckets (66.67%)")
    expect(page.locator("#variant-split-1")).to_have_text("3,333 of 10,000 buckets (33.33%)")
    # Add a variant, then remove it.
    page.get_by_role("button", name="Add a variant").click()
    expect(page.locator("#variants-table tbody tr")).to_have_count(3)
    page.get_by_role("button", name="Remove variant variant_3").click()
    expect(page.locator("#variants-table tbody tr")).to_have_count(2)
    # variant_b gets its own order, edited in the outline.
    page.get_by_label("variant_b has its own order").check()
    page.get_by_label("Order shown").select_option("variant_b")
    doc = source(page)
    base = [c["id"] for c in doc["components"]]
    movable = next(
        c["id"]
        for k, c in enumerate(doc["components"])
        if k > 0 and not c.get("pinned") and not doc["components"][k - 1].get("pinned")
    )
    page.get_by_role("button", name=f"Move {movable} up").click()
    expect(page.locator("#announce")).to_contain_text("in variant variant_b")
    doc = source(page)
    assert [c["id"] for c in doc["components"]] == base  # the base order is untouched
    order = next(v for v in doc["variants"] if v["name"] == "variant_b")["order"]
    assert order.index(movable) == base.index(movable) - 1
    # Per-variant props and the component's category.
    page.locator(f"#outline li[data-id={movable}] .pick").click()
    page.get_by_label("variant_b", exact=True).fill('{"coupon_id": "spring_10"}')
    page.get_by_label("variant_b", exact=True).press("Tab")
    doc = source(page)
    assert next(v for v in doc["variants"] if v["name"] == "variant_b")["props"] == {
        movable: {"coupon_id": "spring_10"}
    }
    page.get_by_label("Category").fill("account")
    page.get_by_label("Category").press("Tab")
    assert (
        next(c for c in source(page)["components"] if c["id"] == movable)["category"] == "account"
    )
    expect(page.locator("#live-problems")).to_contain_text("Valid", timeout=10_000)
    settled(page)
    shot(page, "experiment-edit-1")
    assert_clean(page)
    publish(page, "an experiment on me")
    served = api(server, "GET", "/v1/admin/templates/me").json()["template"]
    assert served["experiment"] == "me_test_1" and len(served["variants"]) == 2


# --------------------------------------------------------------------------- preview token


def test_preview_on_a_real_phone_by_qr_code(context: BrowserContext, server: Server) -> None:
    page = open_editor(context, server, "category")
    page.get_by_label("Left phone").select_option("elderly")
    page.get_by_role("button", name="Show a QR code").click()
    image = page.locator("#qr-image")
    expect(image).to_be_visible()
    expect(image).to_have_attribute("alt", re.compile("your draft of category as elderly"))
    url = page.locator("#qr-url").get_attribute("href")
    assert url and "/v1/preview/layouts/category?preview_token=" in url
    served = httpx.get(url)  # as the phone fetches it: no user token, the preview token only
    assert served.status_code == 200 and served.headers["cache-control"] == "no-store"
    assert served.json()["mode"] == "elderly"
    assert httpx.get(url.replace("category?", "home?")).status_code == 401
    settled(page)
    page.locator("#qr").scroll_into_view_if_needed()
    shot(page, "preview-token-qr")
    assert_clean(page)


# --------------------------------------------------------------------------- two designers


def test_two_designers_conflict_and_reapply(context: BrowserContext, server: Server) -> None:
    api(server, "DELETE", "/v1/admin/drafts/product")
    page = open_editor(context, server, "product")
    doc = source(page)
    mine = next(c for c in doc["components"] if c.get("label") and not c.get("pinned"))
    page.locator(f"#outline li[data-id={mine['id']}] .pick").click()
    page.get_by_label("Label", exact=True).fill("朵拉的标签 Dora's label")
    expect(page.locator("#status")).to_contain_text("Draft saved", timeout=10_000)
    # Meanwhile erik publishes a new title.
    erik = {"Authorization": f"Bearer {mint(server.data_dir, 'erik', 'designer')}"}
    theirs = api(server, "GET", "/v1/admin/templates/product").json()["template"]
    theirs["title"] = "商品详情 埃里克的标题"
    published = httpx.post(
        f"{server.url}/v1/admin/templates/product/publish",
        json={"template": theirs, "message": "埃里克: new title"},
        headers=erik,
    )
    assert published.status_code in (200, 201), published.text
    page.get_by_label("Publish message").fill("my label")
    page.get_by_role("button", name="Publish", exact=True).click()
    page.get_by_role("button", name="Confirm publish").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Someone published product")
    theirs_section = page.get_by_role("region", name=re.compile("What they changed"))
    expect(theirs_section).to_contain_text("商品详情 埃里克的标题")
    assert "\\u" not in theirs_section.inner_text()
    shot(page, "two-designers-1-conflict")
    assert_clean(page)
    page.get_by_role("button", name="Re-apply my edit on top of the live version").click()
    expect(page.get_by_role("status").first).to_contain_text("re-applied")
    wait_previewed(page)
    settled(page)
    shot(page, "two-designers-2-reapplied")
    page.get_by_role("button", name="Publish", exact=True).click()
    page.get_by_role("button", name="Confirm publish").click()
    expect(page.get_by_role("status").first).to_contain_text("is live")
    served = api(server, "GET", "/v1/admin/templates/product").json()["template"]
    assert served["title"] == "商品详情 埃里克的标题"
    label = next(c for c in served["components"] if c["id"] == mine["id"])["label"]
    assert label == "朵拉的标签 Dora's label"

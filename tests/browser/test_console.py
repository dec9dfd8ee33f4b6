"""The designer console in a real Chromium against a real `uiserver serve`: sign in, a refused
publish, a fix that the client API serves with a new ETag, a rollback, and a `<script>` label
that is shown as text and never runs."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Dialog, Page, expect

from tests.helpers.browser import Server, log_in, mint

pytestmark = pytest.mark.browser

SCRIPT = "<script>alert(1)</script>"
TEXT_COLOUR = '"text": "#1F1F1F"'


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    # Without script: the console's plain forms (the scripted editor is in
    # tests/browser/test_visual_designer.py), which must keep working on their own.
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    yield ctx
    ctx.close()


def containing(text: str) -> re.Pattern[str]:
    return re.compile(re.escape(text))


def client_layout(server: Server, page: str) -> httpx.Response:
    response = httpx.get(f"{server.url}/v1/layouts/{page}")
    assert response.status_code == 200
    return response


def edit(page: Page, replace: tuple[str, str], message: str) -> None:
    editor = page.get_by_label("Template of")
    text = editor.input_value()
    assert replace[0] in text
    editor.fill(text.replace(replace[0], replace[1], 1))
    page.get_by_label("Publish message").fill(message)
    page.get_by_role("button", name="Publish").click()


def test_login_refused_publish_fix_and_rollback(context: BrowserContext, server: Server) -> None:
    page = log_in(context, server)
    expect(page.get_by_role("heading", level=1)).to_have_text("Templates")
    expect(page.get_by_role("row", name="cart")).to_contain_text("ok")
    original = client_layout(server, "cart")
    original_version = original.json()["template_version"]

    # Low contrast: refused with the reason, and the client keeps getting the live version.
    page.get_by_role("link", name="Edit cart").click()
    edit(page, (TEXT_COLOUR, '"text": "#AAAAAA"'), "lighter text")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Publish refused")
    problems = page.get_by_role("region", name="Problems")
    expect(problems).to_contain_text("theme.palette.text")
    expect(problems).to_contain_text("contrast")
    expect(page.get_by_label("Template of")).to_have_value(containing("#AAAAAA"))
    after_refusal = client_layout(server, "cart")
    assert after_refusal.json()["template_version"] == original_version
    assert after_refusal.headers["etag"] == original.headers["etag"]

    # Fixed: a darker colour publishes, and the client API serves it with a new ETag.
    page.get_by_label("Template of").fill(
        page.get_by_label("Template of").input_value().replace("#AAAAAA", "#111111", 1)
    )
    page.get_by_label("Publish message").fill("darker text")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_contain_text("Publish this draft of cart")
    assert client_layout(server, "cart").json()["template_version"] == original_version
    page.get_by_role("button", name="Confirm publish").click()
    expect(page.get_by_role("status")).to_contain_text("is live")
    published = client_layout(server, "cart")
    new_version = published.json()["template_version"]
    assert new_version != original_version
    assert published.headers["etag"] != original.headers["etag"]
    assert published.json()["theme"]["palette"]["text"] == "#111111"
    revalidated = httpx.get(
        f"{server.url}/v1/layouts/cart", headers={"If-None-Match": original.headers["etag"]}
    )
    assert revalidated.status_code == 200  # the old ETag no longer matches

    # History shows who, when and why; roll back to the first version.
    page.get_by_role("link", name="History").click()
    expect(page.get_by_role("row", name="darker text")).to_contain_text("dora")
    page.get_by_role("button", name=f"Roll back to #1, version {original_version}").click()
    page.get_by_role("button", name="Confirm rollback").click()
    expect(page.get_by_role("status")).to_contain_text("is live again")
    rolled = client_layout(server, "cart")
    assert rolled.json()["template_version"] == original_version
    assert rolled.headers["etag"] != published.headers["etag"]
    assert rolled.json()["theme"]["palette"]["text"] == "#1F1F1F"
    expect(page.get_by_role("table")).to_contain_text("rollback to")

    # The diff between any two versions, chosen with the selects.
    page.get_by_role("link", name="Diff", exact=True).click()
    page.get_by_label("From version").select_option(original_version)
    page.get_by_label("To version").select_option(new_version)
    page.get_by_role("button", name="Show diff").click()
    expect(page.get_by_role("table")).to_contain_text("theme.palette.text")
    expect(page.locator("pre.diff")).to_contain_text('+      "text": "#111111"')


def test_script_label_is_text_and_never_runs(context: BrowserContext, server: Server) -> None:
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    context.on("dialog", on_dialog)
    page = log_in(context, server)
    page.goto(server.url + "/designer/pages/me")
    editor = page.get_by_label("Template of")
    text = editor.input_value()
    label = '"label": "'
    start = text.index(label) + len(label)
    end = text.index('"', start)
    page.get_by_label("Template of").fill(text[:start] + SCRIPT + text[end:])
    page.get_by_label("Publish message").fill(SCRIPT)
    page.get_by_role("button", name="Publish").click()
    page.get_by_role("button", name="Confirm publish").click()
    expect(page.get_by_role("status")).to_contain_text("is live")
    expect(page.get_by_label("Template of")).to_have_value(containing(SCRIPT))

    page.get_by_role("link", name="History").click()
    expect(page.get_by_role("row", name=SCRIPT).first).to_be_visible()
    page.get_by_role("link", name="Preview", exact=True).click()
    frame = page.frame_locator('iframe[title="me as Default"]')
    expect(frame.get_by_text(SCRIPT).first).to_be_visible()
    assert page.locator("script").count() == 0
    for child in page.frames:
        assert child.locator("script").count() == 0
        # A script in the document would run while it is parsed, and an alert holds back its
        # frame's load event until on_dialog dismissed it: once every frame has loaded, any
        # dialog has been seen.
        child.wait_for_load_state("load")
    assert dialogs == []


def test_keyboard_only_sign_in_and_navigation(context: BrowserContext, server: Server) -> None:
    page = context.new_page()
    page.goto(server.url + "/designer/login")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.get_by_label("Token").focus()
    page.keyboard.type(server.designer_token)
    page.keyboard.press("Enter")
    page.wait_for_url(server.url + "/designer/")
    target = page.get_by_role("link", name="Edit home")
    for _ in range(40):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("Edit home is not reachable with Tab")
    outline = target.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline == "solid"  # the focus is visible
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit home")


def test_user_token_is_refused_and_logout_ends_the_session(
    context: BrowserContext, server: Server
) -> None:
    page = context.new_page()
    page.goto(server.url + "/designer/login")
    page.get_by_label("Token").fill(mint(server.data_dir, "u1"))
    response_status: list[int] = []
    page.on("response", lambda r: response_status.append(r.status))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("needs designer or admin")
    assert 403 in response_status
    assert not [c for c in context.cookies() if c["name"] == "uiserver_console"]

    page = log_in(context, server)
    cookie = next(c for c in context.cookies() if c["name"] == "uiserver_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script can read it
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(server.url + "/designer/login")
    page.goto(server.url + "/designer/pages/home")
    assert page.url == server.url + "/designer/login"
    # The cookie copied before signing out opens nothing: the session ended on the server.
    context.add_cookies(
        [{"name": cookie["name"], "value": cookie["value"], "url": server.url + "/designer"}]
    )
    response = page.goto(server.url + "/designer/pages/home")
    assert response is not None and response.status in (200, 401)
    assert page.url == server.url + "/designer/login" or response.status == 401
    assert page.get_by_role("heading", name="Edit home").count() == 0


def test_preview_draws_the_layout_numbers(context: BrowserContext, server: Server) -> None:
    page = log_in(context, server)
    page.goto(server.url + "/designer/pages/home/preview")
    layout = httpx.get(
        f"{server.url}/v1/admin/preview/home?persona=elderly",
        headers={"Authorization": f"Bearer {server.designer_token}"},
    ).json()
    search = next(c for c in layout["components"] if c["role"] == "search")
    frame = page.frame_locator('iframe[title="home as Elderly (60+)"]')
    box = frame.get_by_role("searchbox", name=search["label"])
    expect(box).to_be_visible()
    height = box.evaluate("el => el.getBoundingClientRect().height")
    assert height >= search["min_target_px"] >= 60
    font = frame.locator(f"#c-{search['id']}").evaluate("el => getComputedStyle(el).fontSize")
    assert font == f"{search['font_px']:g}px"
    expect(frame.get_by_role("search", name=search["label"])).to_be_visible()
    expect(frame.get_by_role("navigation").first).to_be_visible()

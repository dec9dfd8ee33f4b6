"""Safe publishing in the console, in a real Chromium against a real `uiserver serve`: a
designer whose copy went stale sees both versions and re-applies their edit on top of the live
one; a staged rollout from 10% through 50% to promote, each step confirmed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.helpers.browser import Server, log_in
from uiserver.auth import SECRET_FILE, mint_token

pytestmark = pytest.mark.browser


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    # The console's plain forms, without script (the scripted editor keeps the same form
    # fields; it is tested in tests/browser/test_visual_designer.py).
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    yield ctx
    ctx.close()


def admin(server: Server) -> httpx.Client:
    return httpx.Client(
        base_url=server.url,
        timeout=5.0,
        headers={"Authorization": f"Bearer {server.designer_token}"},
    )


TOKENS: dict[str, str] = {}


def served(server: Server, users: list[str]) -> dict[str, str]:
    """The template version each user gets. Tokens minted once, with the secret the server
    made in its data dir and `mint_token`, what `uiserver token` signs with: 40 runs of the CLI
    took ~1 s each under coverage, and the CLI itself runs for every browser module (the
    designer's token, `tests.helpers.browser.mint`). One client for the requests."""
    secret = (server.data_dir / SECRET_FILE).read_text().strip()
    out = {}
    with httpx.Client(base_url=server.url, timeout=5.0) as client:
        for user in users:
            if user not in TOKENS:
                TOKENS[user] = mint_token(secret, user, "user", 3600)
            headers = {"Authorization": f"Bearer {TOKENS[user]}"}
            layout = client.get("/v1/layouts/cart", headers=headers).json()
            out[user] = layout["template_version"]
    return out


def test_a_stale_edit_is_stopped_and_reapplied_on_top_of_the_live_version(
    context: BrowserContext, server: Server
) -> None:
    page = log_in(context, server)
    page.goto(server.url + "/designer/pages/me")
    editor = page.get_by_label("Template of")
    text = editor.input_value()
    label = re.search(r'"label": "([^"]+)"', text)
    assert label
    # Meanwhile another designer changes the title through the API.
    with admin(server) as api:
        current = api.get("/v1/admin/templates/me").json()
        theirs: dict[str, Any] = {**current["template"], "title": "Me (theirs)"}
        published = api.post(
            "/v1/admin/templates/me/publish",
            headers={"If-Match": f'"{current["live_version"]}"'},
            json={"template": theirs, "message": "their title"},
        )
        assert published.status_code == 201, published.text
        their_version = published.json()["version"]

    editor.fill(text.replace(label.group(0), '"label": "Mine, relabelled"', 1))
    page.get_by_label("Publish message").fill("my label")
    page.get_by_role("button", name="Publish").click()
    page.get_by_role("button", name="Confirm publish").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Not published")
    expect(alert).to_contain_text(their_version)
    theirs_region = page.get_by_role("region", name="What they changed")
    expect(theirs_region).to_contain_text("title")
    expect(theirs_region).to_contain_text("Me (theirs)")
    expect(page.get_by_label("Your draft")).to_have_value(re.compile("Mine, relabelled"))
    expect(page.get_by_label(f"Live version {their_version}")).to_have_value(
        re.compile(re.escape("Me (theirs)"))
    )
    with admin(server) as api:
        assert api.get("/v1/admin/templates/me").json()["live_version"] == their_version

    page.get_by_role("button", name="Re-apply my edit on top of the live version").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"re-applied on top of version {their_version}"
    )
    merged = page.get_by_label("Template of").input_value()
    assert "Mine, relabelled" in merged and "Me (theirs)" in merged
    page.get_by_role("button", name="Publish").click()
    page.get_by_role("button", name="Confirm publish").click()
    expect(page.get_by_role("status")).to_contain_text("is live")
    with admin(server) as api:
        template = api.get("/v1/admin/templates/me").json()["template"]
    assert template["title"] == "Me (theirs)"
    assert "Mine, relabelled" in {c.get("label") for c in template["components"]}


def test_a_rollout_from_10_percent_to_promote(context: BrowserContext, server: Server) -> None:
    users = [f"shopper-{i}" for i in range(40)]
    old = served(server, users[:1])[users[0]]
    page = log_in(context, server)
    page.goto(server.url + "/designer/pages/cart")
    editor = page.get_by_label("Template of")
    editor.fill(
        editor.input_value().replace('"title": "购物车 Cart"', '"title": "购物车 Cart (staged)"', 1)
    )
    page.get_by_label("Publish message").fill("staged title")
    page.get_by_label("Share of users who get it").fill("10")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_contain_text("10% of users")
    page.get_by_role("button", name="Confirm publish").click()
    expect(page.get_by_role("status").filter(has_text="Published")).to_contain_text(
        "rolling out to 10% of users"
    )
    expect(page.get_by_role("status").filter(has_text="Staged rollout")).to_contain_text(
        "served to 10% of users"
    )

    with admin(server) as api:
        state = api.get("/v1/admin/templates/cart").json()
    new = state["live_version"]
    assert state["rollout"]["percent"] == 10 and state["rollout"]["previous"] == old
    at_10 = served(server, users)
    assert set(at_10.values()) <= {old, new}
    assert httpx.get(f"{server.url}/v1/layouts/cart").json()["template_version"] == old

    page.get_by_role("link", name="Widen, promote or abort it in History").click()
    rollout = page.get_by_role("region", name="Staged rollout")
    expect(rollout).to_contain_text("10%")
    expect(page.get_by_role("row", name="staged title")).to_contain_text("10%")
    expect(page.get_by_role("row", name="staged title")).to_contain_text("Rolling out")
    page.get_by_label("New share (percent)").fill("50")
    page.get_by_role("button", name="Change share").click()
    page.get_by_role("button", name="Confirm rollout").click()
    expect(page.get_by_role("status").first).to_contain_text("share of users changed")
    at_50 = served(server, users)
    assert {u for u, v in at_10.items() if v == new} <= {u for u, v in at_50.items() if v == new}
    assert new in at_50.values()

    page.get_by_role("button", name="Promote to everyone").click()
    expect(page.get_by_role("status")).to_contain_text(f"Promote version {new} to everyone")
    page.get_by_role("button", name="Confirm promote").click()
    expect(page.get_by_role("status").first).to_contain_text("Promoted")
    assert set(served(server, users).values()) == {new}
    assert httpx.get(f"{server.url}/v1/layouts/cart").json()["template_version"] == new
    with admin(server) as api:
        assert api.get("/v1/admin/templates/cart").json()["rollout"] is None
    expect(page.get_by_role("region", name="Staged rollout")).to_have_count(0)

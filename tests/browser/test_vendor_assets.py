"""The console's vendored front-end libraries (SortableJS, CodeMirror 6): the built bundles are
committed and shipped as package data, match the lockfile they were built from, carry their
licenses, are served by the console's static route as JavaScript, and work in Chromium under a
`script-src 'self'` policy through the small `UIEditor` global the console uses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route

from tests.helpers.app import ROOT
from tests.helpers.browser import Server

ASSETS = ROOT / "uiserver" / "http" / "assets"
VENDOR = ROOT / "uiserver" / "http" / "static" / "vendor"
BUNDLES = {
    "sortable.min.js": "sortable.LICENSE.txt",
    "codemirror.bundle.js": "codemirror.LICENSE.txt",
}
STATIC = "/designer/static/vendor"


def lock_versions() -> dict[str, str]:
    lock = json.loads((ASSETS / "package-lock.json").read_text())
    return {
        path.removeprefix("node_modules/"): meta["version"]
        for path, meta in lock["packages"].items()
        if path.startswith("node_modules/")
    }


@pytest.mark.parametrize(("bundle", "license_file"), list(BUNDLES.items()))
def test_bundle_and_its_licenses_are_committed(bundle: str, license_file: str) -> None:
    built = VENDOR / bundle
    assert built.stat().st_size > 10_000, f"{built}: run `npm ci && npm run build` in {ASSETS}"
    licenses = (VENDOR / license_file).read_text()
    assert "Permission is hereby granted" in licenses  # the MIT text, in full
    assert "http://" not in built.read_text()[:200]  # a bundle, not a loader pointing at a CDN


def test_bundles_match_the_lockfile() -> None:
    """manifest.json is written by the build from the packages inside each bundle; a lockfile
    bump without a rebuild (or a hand-edited bundle) shows up here."""
    manifest: dict[str, dict[str, str]] = json.loads((VENDOR / "manifest.json").read_text())
    locked = lock_versions()
    assert {
        "sortablejs",
        "codemirror",
        "@codemirror/lang-json",
        "@codemirror/lang-yaml",
        "@codemirror/lint",
        "@codemirror/view",
    } <= set(manifest)
    for name, meta in manifest.items():
        assert locked.get(name) == meta["version"], (name, meta, locked.get(name))
        license_file = "sortable.LICENSE.txt" if name == "sortablejs" else "codemirror.LICENSE.txt"
        assert f"{name}@{meta['version']}" in (VENDOR / license_file).read_text(), name
    package = json.loads((ASSETS / "package.json").read_text())
    assert package["scripts"]["build"] and "esbuild" in package["devDependencies"]


def test_package_data_ships_the_vendor_folder() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"http/static/**/*"' in pyproject


# --------------------------------------------------------------------------- served + working


@pytest.mark.browser
@pytest.mark.parametrize("bundle", list(BUNDLES))
def test_static_route_serves_the_bundle_as_javascript(server: Server, bundle: str) -> None:
    response = httpx.get(f"{server.url}{STATIC}/{bundle}")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] in (
        "text/javascript",
        "application/javascript",
    )
    assert response.content == (VENDOR / bundle).read_bytes()


# The console's policy with scripts allowed from its own origin only.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; base-uri 'none'"
)
PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>editor</title>
<script src="{STATIC}/sortable.min.js"></script>
<script src="{STATIC}/codemirror.bundle.js"></script></head>
<body><main><div id="editor"></div><ul id="list"><li>a</li><li>b</li></ul></main></body></html>"""


@pytest.fixture
def editor_page(browser: Browser, server: Server) -> Iterator[Page]:
    """A page on the server's origin (fulfilled by the test) that loads the real bundles from
    the real static route under a `script-src 'self'` policy; CSP violations are collected."""
    context = browser.new_context()
    page = context.new_page()

    def fulfil(route: Route) -> None:
        route.fulfill(
            status=200,
            body=PAGE,
            headers={
                "Content-Type": "text/html; charset=utf-8",
                "Content-Security-Policy": PAGE_CSP,
            },
        )

    page.route(f"{server.url}/designer/editor-test", fulfil)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.url}/designer/editor-test")
    yield page
    assert errors == []
    context.close()


@pytest.mark.browser
def test_editor_api_works_under_script_src_self(editor_page: Page) -> None:
    page = editor_page
    assert page.evaluate("() => typeof window.Sortable.create") == "function"
    assert page.evaluate("() => Object.keys(window.UIEditor).sort()") == [
        "createEditor",
        "getText",
        "setDiagnostics",
        "setText",
        "version",
    ]
    page.evaluate("""() => {
        window.changes = [];
        window.view = UIEditor.createEditor(document.getElementById('editor'),
            'page: home\\ntitle: Home\\ncomponents: []\\n', 'yaml',
            (text) => window.changes.push(text), {label: 'Template of home'});
    }""")
    assert page.locator(".cm-lineNumbers .cm-gutterElement").filter(has_text="3").count() == 1
    content = page.get_by_role("textbox", name="Template of home")
    content.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("# edited")
    assert page.evaluate("() => window.changes.at(-1)").endswith("# edited")
    assert page.evaluate("() => UIEditor.getText(window.view)").endswith("# edited")
    count = page.evaluate("""() => UIEditor.setDiagnostics(window.view, [
        {line: 2, message: 'label is blank', field: 'title'},
        {line: 99, message: 'clamped to the last line', severity: 'warning'}])""")
    assert count == 2
    assert page.locator(".cm-gutter-lint .cm-lint-marker-error").count() == 1
    assert page.locator(".cm-gutter-lint .cm-lint-marker-warning").count() == 1
    page.evaluate('() => UIEditor.setText(window.view, \'{"page": "home"}\')')
    assert page.evaluate("() => UIEditor.getText(window.view)") == '{"page": "home"}'
    assert page.evaluate("() => UIEditor.setDiagnostics(window.view, [])") == 0


@pytest.mark.browser
def test_json_mode_and_unknown_language(editor_page: Page) -> None:
    page = editor_page
    page.evaluate("""() => { window.view = UIEditor.createEditor(
        document.getElementById('editor'), '{"a": [1, 2]}', 'json', null); }""")
    assert page.locator(".cm-content").inner_text().strip() == '{"a": [1, 2]}'
    error = page.evaluate("""() => { try { UIEditor.createEditor(document.body, '', 'toml');
        return null; } catch (e) { return e.message; } }""")
    assert error is not None and "unknown language toml" in error


def test_vendor_files_have_no_source_maps_pointing_elsewhere() -> None:
    for bundle in BUNDLES:
        assert "sourceMappingURL" not in (VENDOR / bundle).read_text()[-500:]


def test_assets_are_not_a_python_package() -> None:
    """The npm project stays out of the wheel (only its build output ships)."""
    assert not (ASSETS / "__init__.py").exists()
    assert Path(VENDOR).is_dir()

"""axe-core in Chromium: WCAG 2.0/2.1/2.2 A and AA violations of a page and of its frames."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
OPTIONS = {"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]}
AXE = Axe()


def violations(page: Page) -> list[dict[str, Any]]:
    """axe's violations on the page and inside its frames (axe is injected into each frame)."""
    for frame in page.frames[1:]:
        frame.evaluate(AXE.axe_script)
    found: list[dict[str, Any]] = AXE.run(page, options=OPTIONS).response["violations"]
    return found


def report(found: list[dict[str, Any]]) -> str:
    lines = []
    for v in found:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {node['target']}: {node['failureSummary']}")
            lines.append(f"    {node['html'][:200]}")
    return "\n".join(lines)


def assert_clean(page: Page) -> None:
    found = violations(page)
    assert found == [], f"{page.url}\n{report(found)}"

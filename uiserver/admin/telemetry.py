"""What renderers measured on a page, for designers and operators (`GET
/v1/admin/telemetry/{page}`): the counters of `engine.telemetry` per (template version, component,
mode), summed per component (the console's heatmap), and render errors per version (the arms
of a staged rollout)."""

from __future__ import annotations

from typing import Any

from uiserver.admin.errors import NotFound
from uiserver.engine.telemetry import ComponentCounts, by_component, render_errors
from uiserver.serving.pages import LivePages
from uiserver.store.base import TelemetryStore
from uiserver.users.ids import shown


def counts_json(row: ComponentCounts) -> dict[str, Any]:
    """A row as the API shows it, with its rates (None before the first impression)."""
    return {
        "version": row.version,
        "component": row.component,
        "mode": row.mode,
        "impressions": row.impressions,
        "clicks": row.clicks,
        "render_errors": row.render_errors,
        "tap_rate": row.tap_rate,
        "error_rate": row.error_rate,
    }


async def telemetry_readout(
    pages: LivePages, store: TelemetryStore, page: str, version: str | None = None
) -> dict[str, Any]:
    """The page's counters (only `version`'s when given). NotFound (`page`) for a page never
    published; NotFound (`version`) for a version the page never had. An archived page keeps
    its counters. Raises StoreUnavailable."""
    await pages.sync()
    live = pages.pages.get(page)
    if live is None and page not in pages.archived:
        raise NotFound(f"no page {shown(page)}", "page")
    if version is not None and await pages.templates.get_version(page, version) is None:
        raise NotFound(f"page {shown(page)} has no version {version[:64]!r}", "version")
    rows = await store.component_counts(page, version)
    live_versions = (
        [] if live is None else [v.record.version for v in (live, live.previous) if v is not None]
    )
    return {
        "page": page,
        "version": version,
        "live_versions": live_versions,
        "rows": [counts_json(row) for row in rows],
        "components": {c: counts_json(row) for c, row in sorted(by_component(rows).items())},
        "render_errors": render_errors(rows),
    }

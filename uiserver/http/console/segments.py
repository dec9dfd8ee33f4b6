"""The designer console's segments page: bulk import (as `PUT /v1/admin/segments`) and every
page's A/B variants with the share of users each gets."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from uiserver import admin
from uiserver.documents import DocumentError
from uiserver.engine.readout import ExperimentReadout
from uiserver.http.console.auth import Session, checked_form, session
from uiserver.http.console.render import console_page, html
from uiserver.http.deps import service_of
from uiserver.http.errors import api_error

SEGMENTS_FORM_LIMIT = 24 * 1024 * 1024  # a 20 MB import, percent-encoded


CHART_WIDTH = 480  # px of the rate axis in the readout chart
CHART_ROW = 36  # px per variant
CHART_AXIS = 44  # px under the bars: the axis, its tick labels and its title
CHART_TICKS = 4  # intervals of the rate axis (ticks at 0, 1/4, ... of its top)


def chart(readout: ExperimentReadout) -> dict[str, Any]:
    """Geometry of the server-rendered SVG: one bar per variant (its conversion rate) with its
    95% interval as a whisker, on an axis scaled to the largest interval end. Without enough
    data (no interval) a bar has no whisker and its label says so."""
    top = max((v.interval[1] for v in readout.variants if v.interval), default=0.0) or 1.0
    rows = []
    for i, v in enumerate(readout.variants):
        rate = v.conversion_rate or 0.0
        low, high = v.interval or (rate, rate)
        label = (
            f"{rate:.1%} ({low:.1%} to {high:.1%})"
            if v.interval
            else ("no exposures" if v.conversion_rate is None else f"{rate:.1%} (not enough data)")
        )
        rows.append(
            {
                "name": v.name,
                "y": i * CHART_ROW,
                "width": round(rate / top * CHART_WIDTH, 1),
                "low": round(low / top * CHART_WIDTH, 1),
                "high": round(high / top * CHART_WIDTH, 1),
                "label": label,
                "whisker": v.interval is not None,
            }
        )
    axis = len(rows) * CHART_ROW + 4
    return {
        "rows": rows,
        "height": axis + CHART_AXIS,
        "axis": axis,
        "width": CHART_WIDTH,
        "top": f"{top:.1%}",
        # The rate axis: a tick and its label at each quarter of the axis, 0 to its top.
        "ticks": [
            {"x": round(k / CHART_TICKS * CHART_WIDTH, 1), "label": f"{top * k / CHART_TICKS:.1%}"}
            for k in range(CHART_TICKS + 1)
        ],
    }


async def _segments(
    request: Request, current: Session, status: int = 200, **context: Any
) -> Response:
    service = service_of(request)
    experiments = await admin.experiments(service.live, service.counts)
    context["charts"] = {e.page: chart(e.readout) for e in experiments if e.readout}
    context.setdefault("notice", "")
    context.setdefault("error", None)
    context.setdefault("text", "")
    return html(
        request,
        "segments.html",
        status,
        current=current,
        section="segments",
        experiments=experiments,
        **context,
    )


@console_page
async def segments_page(request: Request) -> Response:
    return await _segments(request, await session(request))


@console_page
async def import_segments(request: Request) -> Response:
    current = await session(request)
    form = await checked_form(request, current, SEGMENTS_FORM_LIMIT)
    text = form.get("segments", "")
    try:
        service = service_of(request)
        users = await admin.import_segments(
            service.users, text.encode(), audit=service.audit, actor=current.who.user_id
        )
    except DocumentError as exc:
        refused = api_error(exc)
        return await _segments(request, current, refused.status, text=text, error=refused.message)
    return await _segments(request, current, notice=f"Imported segments for {users} user(s).")

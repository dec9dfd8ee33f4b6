"""Publishing's warning about old clients: a template that uses a type a share of recently
active clients cannot draw (`engine.capability.reach`, over the launches per renderer version
counted in the last `WINDOW_DAYS` days). A warning, not a refusal: those clients get the type's
fallback, or nothing of it, and the designer decides whether that is acceptable."""

from __future__ import annotations

import time
from typing import Any

from uiserver.engine.capability import UNREACHABLE_SHARE, reach
from uiserver.schema import Template
from uiserver.serving.capabilities import Capabilities

WINDOW_DAYS = 7


async def reach_warnings(caps: Capabilities, template: Template) -> list[dict[str, Any]]:
    """`[{"type", "share", "launches", "fallback", "message"}]` for each type of `template` that
    more than UNREACHABLE_SHARE of the last week's launches cannot draw. Raises
    StoreUnavailable."""
    since_day = int(time.time() // 86_400) - WINDOW_DAYS + 1
    launches = await caps.store.renderers(since_day)
    found = reach(caps.catalog, (c.type for c in template.components), launches, caps.kills)
    warnings = []
    for r in found:
        if r.share <= UNREACHABLE_SHARE:
            continue
        instead = f"get {r.fallback!r} instead" if r.fallback else "do not see it"
        warnings.append(
            {
                "type": r.type,
                "share": round(r.share, 4),
                "launches": r.launches,
                "fallback": r.fallback,
                "message": f"{r.share:.0%} of the last {WINDOW_DAYS} days' launches cannot draw "
                f"{r.type!r} (renderer older than {caps.catalog[r.type].since}, or switched "
                f"off): they {instead}",
            }
        )
    return warnings

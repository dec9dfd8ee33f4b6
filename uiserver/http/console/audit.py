"""The designer console's audit page: the audit log with filters (page, act, actor, from and
to dates, how many), newest first, and a link to older entries. The filters are a GET form
checked as `GET /v1/admin/audit` checks them (`admin.audit`); a bad one answers 400 with the
form, the field marked and the reason announced."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from uiserver.admin import audit as audit_ops
from uiserver.admin.errors import BadRequest
from uiserver.http.console.auth import session
from uiserver.http.console.render import console_page, html
from uiserver.http.deps import service_of
from uiserver.store.base import AuditEntry

# Acts offered in the form's list (the log may hold others: any act can be typed in the URL).
ACTS = (
    "template.publish",
    "template.rollback",
    "template.archive",
    "rollout.set",
    "rollout.promote",
    "rollout.abort",
    "schedule.advanced",
    "schedule.held",
    "schedule.warned",
    "schedule.rolled_back",
    "schedule.promoted",
    "schedule.paused",
    "schedule.resumed",
    "segments.import",
    "token.revoke",
    "user.erase",
    "policy.change",
    "draft.create",
    "draft.discard",
    "webhook.create",
    "webhook.delete",
)


def _state(side: dict[str, Any] | None) -> str:
    """A page state (`audit.acts.page_summary`) as a person reads it."""
    if not side:
        return ""
    text = str(side.get("version", ""))
    rollout = side.get("rollout")
    if isinstance(rollout, dict):
        text += f" (rolling out {rollout.get('version')} to {rollout.get('percent')}%)"
    if side.get("archived"):
        text += " (archived)"
    return text


def row(entry: AuditEntry) -> dict[str, Any]:
    """What the table shows of an entry: its change in words and its details."""
    change = ""
    before, after = _state(entry.before), _state(entry.after)
    if before or after:
        change = f"{before or 'nothing'} → {after or 'nothing'}"
    details = dict(entry.details)
    diff = details.pop("diff", None)
    if isinstance(diff, dict):
        details["changes"] = ", ".join(
            f"{diff.get(k, 0)} {k}" for k in ("added", "removed", "moved", "changed")
        )
    return {"entry": entry, "change": change, "details": details}


@console_page
async def audit_page(request: Request) -> Response:
    current = await session(request)
    params = dict(request.query_params)
    error: BadRequest | None = None
    rows: list[dict[str, Any]] = []
    next_before: int | None = None
    try:
        found = await audit_ops.entries(service_of(request).audit, params)
    except BadRequest as exc:
        error = exc
    else:
        rows = [row(e) for e in found.entries]
        next_before = found.next
    older = None
    if next_before is not None:
        kept = {k: v for k, v in params.items() if k != "before" and v}
        older = {**kept, "before": str(next_before)}
    return html(
        request,
        "audit.html",
        400 if error else 200,
        current=current,
        section="audit",
        rows=rows,
        filters=params,
        acts=ACTS,
        error=error,
        older=older,
    )

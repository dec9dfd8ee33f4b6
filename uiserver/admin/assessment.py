"""The assessment report of a page (`engine.assess`), as the admin API, the console and
`uiserver assess` show it: JSON, Markdown or HTML, and the results people record for the items
the server cannot judge.

A recorded result is an administrative act: it is kept in the audit log (act
`assessment.record`, the page, `details` = item, result, note), so it is stored on both stores,
shown in `GET /v1/admin/audit`, and replayed here (the newest entry per item wins). It is kept
as long as the audit log keeps entries (`UISERVER_AUDIT_RETENTION`, 186 days by default);
record it again after that.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from uiserver.admin.errors import no_live_page
from uiserver.audit.log import AuditLog
from uiserver.engine.assess import MANUAL, Assessment, ManualItem
from uiserver.serving.pages import LivePages
from uiserver.store.base import AuditEntry, AuditQuery
from uiserver.users.ids import shown

ACT = "assessment.record"
RESULTS = ("pass", "fail", "unchecked")
NOTE_MAX = 500
READ_LIMIT = 200  # entries read back per page (the newest per item wins)
MANUAL_IDS = frozenset(item_id for item_id, _, _ in MANUAL)


class RecordError(ValueError):
    """A manual result that cannot be recorded (a 422 naming `field`)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def parse_record(item: str, body: Any) -> tuple[str, str]:
    """(result, note) of a body `{"result": "pass"|"fail"|"unchecked", "note"?}` for `item`."""
    if item not in MANUAL_IDS:
        raise RecordError(f"no item {item[:64]!r} is checked by people", "item")
    if not isinstance(body, dict):
        raise RecordError("the body is a JSON object", "result")
    result = body.get("result")
    if result not in RESULTS:
        raise RecordError(f"result is one of {', '.join(RESULTS)}", "result")
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > NOTE_MAX:
        raise RecordError(f"note is a string of at most {NOTE_MAX} characters", "note")
    unknown = set(body) - {"result", "note"}
    if unknown:
        raise RecordError(f"unknown field {sorted(unknown)[0]!r}", sorted(unknown)[0])
    return result, note


def recorded_from(entries: Iterable[AuditEntry]) -> dict[str, ManualItem]:
    """The newest recorded result per item, from audit entries (any order)."""
    found: dict[str, ManualItem] = {}
    for entry in sorted(entries, key=lambda e: e.id):
        item = entry.details.get("item")
        result = entry.details.get("result")
        if item in MANUAL_IDS and result in RESULTS:
            found[item] = ManualItem(
                item,
                "",
                "",
                result,
                str(entry.details.get("note", "")),
                entry.actor,
                entry.time,
            )
    return found


async def recorded(audit: AuditLog, page: str) -> dict[str, ManualItem]:
    """The results recorded for `page`. Raises StoreUnavailable."""
    got = await audit.entries(AuditQuery(limit=READ_LIMIT, page=page, act=ACT))
    return recorded_from(got.entries)


async def record(audit: AuditLog, page: str, item: str, result: str, note: str, actor: str) -> None:
    """Record a result for a manual item of `page`."""
    await audit.record(ACT, actor, page, details={"item": item, "result": result, "note": note})


async def page_assessment(pages: LivePages, audit: AuditLog, page: str) -> Assessment:
    """The live page's assessment with its recorded results. NotFound for an unknown page."""
    await pages.sync()
    live = pages.pages.get(page)
    if live is None:
        raise no_live_page(shown(page), page in pages.archived)
    return pages.engine.assess(live.compiled, await recorded(audit, page))


def assessment_json(assessment: Assessment) -> dict[str, Any]:
    built: dict[str, Any] = msgspec.to_builtins(assessment)
    return built


def _mark(result: str) -> str:
    return {"pass": "pass", "fail": "**FAIL**", "n/a": "n/a"}.get(result, result)


def to_markdown(assessment: Assessment) -> str:
    """The report as Markdown: the score, one table per persona and theme, the manual items."""
    s = assessment.score
    lines = [
        f"## Assessment of `{assessment.page}` (version {assessment.version})",
        "",
        f"Score: **{s.points:g} / {s.out_of}** (pass mark {s.pass_mark}; {s.judged} "
        f"server-judged items, {s.failed} failed). The server's share of the technical "
        "evaluation only: items checked by people are listed below.",
        "",
    ]
    for report in assessment.personas:
        lines += [
            f"### {report.title}, {report.theme} theme ({report.mode} mode): "
            f"{report.score.points:g} / {report.score.out_of}",
            "",
            "| item | result | measured | clause | components |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {i.title} | {_mark(i.result)} | {i.figure} | {i.clause} | "
            f"{', '.join(i.components)} |"
            for i in report.items
        ]
        lines.append("")
    lines += ["### Checked by people", "", "| item | result | clause | note |", "|---|---|---|---|"]
    lines += [f"| {m.title} | {m.result} | {m.clause} | {m.note} |" for m in assessment.manual]
    return "\n".join(lines) + "\n"


def to_html(assessment: Assessment, link: Callable[[str, str], str] | None = None) -> str:
    """The report as an HTML fragment (escaped); `link(persona, theme)`: the URL of that
    phone preview, where `#c-<id>` is each component (the console links each offender to it)."""
    e = html.escape
    s = assessment.score
    out = [
        f'<section class="assessment"><h2>Assessment of {e(assessment.page)}</h2>',
        f"<p>Score: <strong>{s.points:g} / {s.out_of}</strong> (pass mark {s.pass_mark}; "
        f"{s.judged} server-judged items, {s.failed} failed)</p>",
    ]
    for report in assessment.personas:
        base = link(report.persona, report.theme) if link is not None else None
        out.append(
            f"<h3>{e(report.title)}, {e(report.theme)} theme ({e(report.mode)} mode): "
            f"{report.score.points:g} / {report.score.out_of}</h3>"
            "<table><thead><tr><th>item</th><th>result</th><th>measured</th><th>clause</th>"
            "<th>components</th></tr></thead><tbody>"
        )
        for i in report.items:
            comps = ", ".join(
                f'<a href="{e(base)}#c-{e(c)}">{e(c)}</a>' if base else e(c) for c in i.components
            )
            out.append(
                f'<tr class="{e(i.result.replace("/", ""))}"><td>{e(i.title)}</td>'
                f"<td>{e(i.result)}</td><td>{e(i.figure)}</td><td>{e(i.clause)}</td>"
                f"<td>{comps}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("<h3>Checked by people</h3><table><thead><tr><th>item</th><th>result</th>")
    out.append("<th>clause</th><th>note</th></tr></thead><tbody>")
    for m in assessment.manual:
        out.append(
            f'<tr data-item="{e(m.id)}"><td>{e(m.title)}</td><td>{e(m.result)}</td>'
            f"<td>{e(m.clause)}</td><td>{e(m.note)}</td></tr>"
        )
    out.append("</tbody></table></section>")
    return "".join(out)


def offenders(assessment: Assessment, persona: str, theme: str) -> dict[str, list[str]]:
    """component id -> what it fails, for one persona and theme (the phone marks them)."""
    found: dict[str, list[str]] = {}
    for report in assessment.personas:
        if (report.persona, report.theme) != (persona, theme):
            continue
        for item in report.items:
            for cid in item.components:
                found.setdefault(cid, []).append(f"{item.title}: {item.figure} ({item.clause})")
    return found

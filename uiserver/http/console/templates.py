"""The designer console's template pages: editor (validate, publish), history with rollback
and rollout controls, diff, and the persona previews, all through `uiserver.admin` like the
admin API. The confirmation and conflict steps live in `console.releases`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from uiserver import admin
from uiserver.admin import rollouts
from uiserver.catalog import template_version
from uiserver.documents import DocumentError
from uiserver.engine.telemetry import by_component
from uiserver.http.console import releases
from uiserver.http.console.auth import PREFIX, ConsoleError, Session, checked_form, session
from uiserver.http.console.editor import draft_of, editor_data, persona_panels, version_phones
from uiserver.http.console.render import console_page, html, redirect
from uiserver.http.deps import service_of
from uiserver.publishing.diff import structured_changes
from uiserver.publishing.export import template_text
from uiserver.publishing.publisher import PublishRefused
from uiserver.schema import Problem, Template
from uiserver.serving.pages import LivePage
from uiserver.store.base import PublishOptions
from uiserver.users.ids import shown

DONE = {
    "rollout": "The rollout's share of users changed.",
    "promote": "Promoted: the new version is live for everyone.",
    "abort": "Aborted: everyone gets the previous version again.",
    "ramp": "Published on a ramp schedule: it advances on its own while its guardrails hold.",
    "pause": "The schedule is paused: nothing advances until you resume it.",
    "resume": "The schedule is resumed.",
}

# --------------------------------------------------------------------------- editor text


def _draft(request: Request, text: str) -> tuple[Template | None, list[Problem], int]:
    """The draft checked, and the status a refusal gets: 400 when the text breaks a decoding
    limit (too deep, too large, NaN), else 422 as for any other problem."""
    try:
        data = admin.decode_text(text)
    except DocumentError as exc:
        return None, [admin.problem_of(exc, text)], 400 if exc.limit else 422
    template, problems = admin.check_draft(
        service_of(request).publisher, request.path_params["page"], data
    )
    return template, problems, 422


# --------------------------------------------------------------------------- editor


async def _editor(
    request: Request,
    current: Session,
    *,
    text: str | None = None,
    status: int = 200,
    problems: list[Problem] | None = None,
    notice: str = "",
    message: str = "",
    base_version: str | None = None,
) -> Response:
    """The editor; on a draft (`text`) of a page not published yet, without a live version."""
    page = request.path_params["page"]
    service = service_of(request)
    live: LivePage | None
    # The designer's autosaved draft of a live page, when there is one, is what the editor
    # opens with (`uiserver.admin.drafts`); a page not published yet has none.
    draft = None
    if text is None:
        live = await admin.live_page(service.live, page)
        draft = await draft_of(request, current, page)
        if draft is not None:
            text = draft.text
            # Published over the base it started from: a stale draft gets the conflict page.
            base_version = draft.base_version if base_version is None else base_version
    else:
        await service.live.sync()
        live = service.live.pages.get(page)
    return html(
        request,
        "editor.html",
        status,
        current=current,
        section="templates",
        page=page,
        tab="editor",
        live=live.record if live else None,
        title=live.template.title if live else page,
        text=template_text(live.template) if text is None and live else text or "",
        problems=problems,
        notice=notice,
        message=message,
        base_version=(live.record.version if live else "")
        if base_version is None
        else base_version,
        rollout=live.rollout if live else None,
        draft=draft,
        data=editor_data(request, page, live.record.version if live else ""),
    )


@console_page
async def editor(request: Request) -> Response:
    current = await session(request)
    notice = ""
    published = request.query_params.get("published")
    live = service_of(request).live.pages.get(request.path_params["page"])
    if (
        published
        and live is not None
        and live.rollout is not None
        and live.rollout.version == published
    ):
        notice = (
            f"Published: version {published} is rolling out to {live.rollout.percent}% of users."
        )
    elif published:
        notice = f"Published: version {published} is live."
    return await _editor(request, current, notice=notice)


@console_page
async def editor_action(request: Request) -> Response:
    """The editor's form: validate, or publish with a message. Refusals keep the draft."""
    current = await session(request)
    form = await checked_form(request, current)
    text, message = form.get("template", ""), form.get("message", "").strip()
    action = form.get("action", "validate")
    base = form.get("base_version")

    async def editor(**kw: Any) -> Response:
        kw.setdefault("base_version", base)
        return await _editor(request, current, **kw)

    if action == "edit":  # back from a confirmation: the draft as it was
        return await editor(text=text, message=message)
    template, problems, refused = _draft(request, text)
    if action == "validate" or template is None or problems:
        if problems:
            verb = "Publish refused" if action == "publish" else "Validation failed"
            notice = f"{verb}: {len(problems)} problem(s). The live version keeps serving."
        else:
            notice = "Valid: no schema or accessibility problems."
        return await editor(
            text=text,
            problems=problems,
            notice=notice,
            message=message,
            status=refused if problems else 200,
        )
    if action == "reapply":
        return await releases.reapply(request, current, form, template, editor)
    if not message:
        return await editor(
            text=text,
            message=message,
            status=422,
            problems=[Problem("message", "say what changed and why")],
            notice="Publish refused: a message is required.",
        )
    return await releases.publish_step(request, current, form, template, editor)


# --------------------------------------------------------------------------- history, diff


@console_page
async def history_page(request: Request) -> Response:
    current = await session(request)
    page = request.path_params["page"]
    service = service_of(request)
    versions = await admin.history(service.publisher, page)
    state = await service.publisher.state(page)
    notice = ""
    if request.query_params.get("rolled_back"):
        notice = f"Rolled back: version {request.query_params['rolled_back']} is live again."
    done = request.query_params.get("done")
    if done in DONE:
        notice = DONE[done]
    archived = state.archived if state is not None else None
    rollout = state.rollout if state is not None and archived is None else None
    ramp = await rollouts.rollout_view(service.scheduler, page)
    return html(
        request,
        "history.html",
        current=current,
        section="templates",
        page=page,
        tab="history",
        versions=versions,
        notice=notice,
        rollout=rollout,
        archived=archived,
        head=state.head.version if state is not None else "",
        schedule=ramp.schedule,
        guardrails=ramp.guardrails,
        exposed=ramp.exposed,
    )


@console_page
async def rollback(request: Request) -> Response:
    service = service_of(request)
    current = await session(request)
    form = await checked_form(request, current)
    page = request.path_params["page"]
    version = form.get("version", "")
    base = form.get("base_version", "")
    if form.get("confirm") != "yes":
        record = await admin.version_record(service.publisher, page, version, "version")
        live = service.live.pages.get(page)
        return releases.confirm(
            request,
            current,
            page=page,
            title=f"Roll back {page}?",
            question=f"Publish version {version} of {page} again, for everyone?",
            action=f"{PREFIX}/pages/{page}/rollback",
            fields={"version": version, "base_version": base},
            button="Confirm rollback",
            changes=structured_changes(
                releases.full(live.template) if live is not None else {},
                msgspec.json.decode(record.document),
            ),
        )
    options = PublishOptions(base=(base,) if base else None)
    try:
        applied = await admin.rollback(
            service.publisher, page, version, current.who.user_id, options
        )
    except admin.Conflict as exc:
        raise ConsoleError(
            409, "Not rolled back", f"{exc.message}. Open the history again to see what changed."
        ) from None
    except PublishRefused as exc:
        reasons = "; ".join(f"{p.field}: {p.message}" for p in exc.problems)
        raise ConsoleError(
            422, "Rollback refused", f"version {version} fails today's lint: {reasons}"
        ) from None
    query = urlencode({"rolled_back": applied.head.version})
    return redirect(f"{PREFIX}/pages/{page}/history?{query}")


@console_page
async def diff_page(request: Request) -> Response:
    current = await session(request)
    page = request.path_params["page"]
    service = service_of(request)
    versions = await admin.history(service.publisher, page)
    query = request.query_params
    known = {v.version for v in versions}
    for field in ("from", "to"):
        given = query.get(field)
        if given and given not in known:
            # Named even when the page has one version (`to` was then ignored: a 200).
            raise admin.NotFound(f"page {shown(page)} has no version {shown(given)}", field)
    old = query.get("from") or (versions[1].version if len(versions) > 1 else "")
    new = query.get("to") or versions[0].version
    result = await admin.diff(service.publisher, page, old, new) if old and new else None
    persona = query.get("persona") or "default"
    if persona not in admin.persona_names():
        raise ConsoleError(
            422,
            "Cannot show that",
            f"persona: unknown persona {shown(persona)}; one of {', '.join(admin.persona_names())}",
        )
    phones = await version_phones(request, page, old, new, persona) if result else []
    # One option per version (a rollback repeats one), at its newest entry.
    choices = list({v.version: v for v in reversed(versions)}.values())[::-1]
    return html(
        request,
        "diff.html",
        current=current,
        section="templates",
        page=page,
        tab="diff",
        versions=versions,
        choices=choices,
        old=old,
        new=new,
        result=result,
        phones=phones,
        persona=persona,
        personas=[(n, admin.persona_title(n)) for n in admin.persona_names()],
    )


# --------------------------------------------------------------------------- preview


@console_page
async def preview_page(request: Request) -> Response:
    """Every persona, or a custom one, as it gets the page: the designer's saved draft when
    there is one and it passes lint (`?source=live` for the live version), else the live one."""
    current = await session(request)
    page = request.path_params["page"]
    query = request.query_params
    # Blank means the default, as in the persona builder's form.
    wanted, heatmap = query.get("source") or "draft", query.get("heatmap") or "0"
    if wanted not in ("draft", "live"):
        raise ConsoleError(422, "Cannot show that", "source: draft (the default) or live")
    if heatmap not in ("0", "1"):
        raise ConsoleError(422, "Cannot show that", "heatmap: 0 or 1")
    live = await admin.live_page(service_of(request).live, page)
    template, source = live.template, "live"
    version: str | None = live.record.version
    saved = None
    if wanted != "live":
        saved = await draft_of(request, current, page)
    if saved is not None:
        checked, problems, _ = _draft(request, saved.text)
        if checked is not None and not problems:
            template, version, source = checked, None, "draft"
        else:
            source = "live-draft-refused"
    # `?heatmap=1`: what renderers measured on the version shown (live only: a draft has none)
    heat = None
    if heatmap == "1" and version is not None:
        rows = await service_of(request).telemetry.component_counts(page, version)
        heat = by_component(rows)
    return html(
        request,
        "preview.html",
        current=current,
        section="templates",
        page=page,
        tab="preview",
        draft=False,
        source=source,
        saved=saved,
        version=version or template_version(template),
        heatmap=heat,
        **persona_panels(request, template, version, heat),
    )


@console_page
async def preview_draft(request: Request) -> Response:
    current = await session(request)
    form = await checked_form(request, current)
    page = request.path_params["page"]
    text = form.get("template", "")
    template, problems, refused = _draft(request, text)
    if template is None or problems:
        return await _editor(
            request,
            current,
            text=text,
            problems=problems,
            status=refused,
            message=form.get("message", ""),
            notice="Cannot preview: fix these problems first.",
        )
    return html(
        request,
        "preview.html",
        current=current,
        section="templates",
        page=page,
        tab="preview",
        draft=True,
        source="draft",
        saved=None,
        version=template_version(template),
        **persona_panels(request, template, None),
    )


@console_page
async def create_page(request: Request) -> Response:
    """A new page from a starter: the editor opens on its draft (publish creates the page)."""
    current = await session(request)
    form = await checked_form(request, current)
    name, starter, draft = await releases.new_page_draft(request, form)
    request.path_params["page"] = name
    return await _editor(
        request,
        current,
        text=template_text(draft),
        notice=f"New page {name} from {starter}: publish it to create it.",
        message=f"new page from {starter}",
        base_version="",
    )

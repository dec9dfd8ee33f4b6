"""The designer console's template pages: editor (validate, publish), history with rollback,
diff, and the persona previews, all through `uiserver.designer` like the admin API.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from uiserver import designer
from uiserver.catalog import template_version
from uiserver.documents import DocumentError
from uiserver.http.console_auth import PREFIX, ConsoleError, Session, checked_form, session
from uiserver.http.console_designer import (
    draft_of,
    editor_data,
    persona_panels,
    version_phones,
)
from uiserver.http.console_render import console_page, html, redirect
from uiserver.http.deps import service_of
from uiserver.publishing import PublishRefused
from uiserver.schema import Problem, Template

# --------------------------------------------------------------------------- editor text


def compact(value: Any) -> Any:
    """A Struct as plain JSON without the fields left at their defaults, in field order.

    Stored documents spell out every default (they are canonical, for hashing); a designer
    editing one wants to see what the template says, as in `layouts/`.
    """
    if isinstance(value, msgspec.Struct):
        out: dict[str, Any] = {}
        for info in msgspec.structs.fields(value):
            item = getattr(value, info.name)
            if info.default is not msgspec.NODEFAULT:
                default = info.default
            elif info.default_factory is not msgspec.NODEFAULT:
                default = info.default_factory()
            else:
                out[info.encode_name] = compact(item)
                continue
            # Same type too: a float 16.0 is not the int default 16 in the canonical hash.
            if item != default or type(item) is not type(default):
                out[info.encode_name] = compact(item)
        return out
    if isinstance(value, list | tuple):
        return [compact(item) for item in value]
    if isinstance(value, dict):
        return {key: compact(item) for key, item in value.items()}
    return value


def template_text(template: Template) -> str:
    """The editor's text for a template: compact, pretty JSON."""
    return json.dumps(compact(template), indent=2, ensure_ascii=False) + "\n"


def _draft(request: Request, text: str) -> tuple[Template | None, list[Problem], int]:
    """The draft checked, and the status a refusal gets: 400 when the text breaks a decoding
    limit (too deep, too large, NaN), else 422 as for any other problem."""
    try:
        data = designer.decode_text(text)
    except DocumentError as exc:
        return None, [designer.problem_of(exc, text)], 400 if exc.limit else 422
    template, problems = designer.check_draft(service_of(request), request.path_params["page"],
                                              data)
    return template, problems, 422


# --------------------------------------------------------------------------- editor


async def _editor(
    request: Request, current: Session, *, text: str | None = None, status: int = 200,
    problems: list[Problem] | None = None, notice: str = "", message: str = "",
) -> Response:
    page = request.path_params["page"]
    live = await designer.live_page(service_of(request), page)
    # The designer's autosaved draft, when there is one, is what the editor opens with.
    draft = await draft_of(request, current, page)
    if text is None and draft is not None:
        text = draft.text
    return html(
        request, "editor.html", status, current=current, section="templates", page=page,
        tab="editor", live=live.record, title=live.template.title,
        text=template_text(live.template) if text is None else text,
        problems=problems, notice=notice, message=message, draft=draft,
        data=editor_data(request, page, live.record.version),
    )


@console_page
async def editor(request: Request) -> Response:
    current = session(request)
    notice = ""
    published = request.query_params.get("published")
    if published:
        notice = f"Published: version {published} is live."
    return await _editor(request, current, notice=notice)


@console_page
async def editor_action(request: Request) -> Response:
    """The editor's form: validate, or publish with a message. Refusals keep the draft."""
    current = session(request)
    form = await checked_form(request, current)
    text, message = form.get("template", ""), form.get("message", "").strip()
    action = form.get("action", "validate")
    template, problems, refused = _draft(request, text)
    if action == "validate" or template is None or problems:
        if problems:
            verb = "Publish refused" if action == "publish" else "Validation failed"
            notice = f"{verb}: {len(problems)} problem(s). The live version keeps serving."
        else:
            notice = "Valid: no schema or accessibility problems."
        return await _editor(request, current, text=text, problems=problems, notice=notice,
                             message=message, status=refused if problems else 200)
    if not message:
        return await _editor(request, current, text=text, message=message, status=422,
                             problems=[Problem("message", "say what changed and why")],
                             notice="Publish refused: a message is required.")
    page = request.path_params["page"]
    try:
        record = await designer.publish(service_of(request), page, template,
                                        current.who.user_id, message)
    except PublishRefused as exc:
        return await _editor(request, current, text=text, problems=exc.problems, status=422,
                             message=message, notice="Publish refused. The live version keeps "
                             "serving.")
    query = urlencode({"published": record.version})
    return redirect(f"{PREFIX}/pages/{page}?{query}")


# --------------------------------------------------------------------------- history, diff


@console_page
async def history_page(request: Request) -> Response:
    current = session(request)
    page = request.path_params["page"]
    versions = await designer.history(service_of(request), page)
    notice = ""
    if request.query_params.get("rolled_back"):
        notice = f"Rolled back: version {request.query_params['rolled_back']} is live again."
    return html(request, "history.html", current=current, section="templates", page=page,
                tab="history", versions=versions, notice=notice)


@console_page
async def rollback(request: Request) -> Response:
    current = session(request)
    form = await checked_form(request, current)
    page = request.path_params["page"]
    version = form.get("version", "")
    try:
        record = await designer.rollback(service_of(request), page, version,
                                         current.who.user_id)
    except PublishRefused as exc:
        reasons = "; ".join(f"{p.field}: {p.message}" for p in exc.problems)
        raise ConsoleError(422, "Rollback refused",
                           f"version {version} fails today's lint: {reasons}") from None
    query = urlencode({"rolled_back": record.version})
    return redirect(f"{PREFIX}/pages/{page}/history?{query}")


@console_page
async def diff_page(request: Request) -> Response:
    current = session(request)
    page = request.path_params["page"]
    service = service_of(request)
    versions = await designer.history(service, page)
    query = request.query_params
    old = query.get("from") or (versions[1].version if len(versions) > 1 else "")
    new = query.get("to") or versions[0].version
    result = await designer.diff(service, page, old, new) if old and new else None
    persona = query.get("persona", "default")
    if persona not in designer.persona_names():
        persona = "default"
    phones = await version_phones(request, page, old, new, persona) if result else []
    # One option per version (a rollback repeats one), at its newest entry.
    choices = list({v.version: v for v in reversed(versions)}.values())[::-1]
    return html(request, "diff.html", current=current, section="templates", page=page,
                tab="diff", versions=versions, choices=choices, old=old, new=new,
                result=result, phones=phones, persona=persona,
                personas=[(n, designer.persona_title(n)) for n in designer.persona_names()])


# --------------------------------------------------------------------------- preview


@console_page
async def preview_page(request: Request) -> Response:
    current = session(request)
    page = request.path_params["page"]
    live = await designer.live_page(service_of(request), page)
    return html(request, "preview.html", current=current, section="templates", page=page,
                tab="preview", draft=False, version=live.record.version,
                **persona_panels(request, live.template, live.record.version))


@console_page
async def preview_draft(request: Request) -> Response:
    current = session(request)
    form = await checked_form(request, current)
    page = request.path_params["page"]
    text = form.get("template", "")
    template, problems, refused = _draft(request, text)
    if template is None or problems:
        return await _editor(request, current, text=text, problems=problems, status=refused,
                             message=form.get("message", ""),
                             notice="Cannot preview: fix these problems first.")
    return html(request, "preview.html", current=current, section="templates", page=page,
                tab="preview", draft=True, version=template_version(template),
                **persona_panels(request, template, None))

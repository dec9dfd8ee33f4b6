"""The designer console at `/designer/`: server-rendered HTML over the same operations as the
admin API (`designer_ops`), usable with a keyboard and a screen reader, and without JavaScript.

Only designer and admin tokens get a page (sessions and CSRF: `console_auth`); every POST checks
its form's CSRF token before it does anything.
"""

from __future__ import annotations

import functools
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from uiserver.auth import AuthError
from uiserver.catalog import template_version
from uiserver.http import designer_ops as ops
from uiserver.http.console_auth import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    ConsoleError,
    Session,
    check_csrf,
    checked_form,
    cookie_args,
    read_form,
    server_secret,
    session,
    sign,
)
from uiserver.http.deps import service_of
from uiserver.http.errors import ApiError
from uiserver.http.h5 import render_h5
from uiserver.http.views import render
from uiserver.schema import Problem, Template
from uiserver.service import PublishRefused, UnknownVersion
from uiserver.store.base import StoreUnavailable

SEGMENTS_FORM_LIMIT = 24 * 1024 * 1024  # a 20 MB import, percent-encoded
HEADERS = {
    # No script at all: the console works without it, and a label that smuggles markup cannot
    # run even if an escape were ever missed. Previews are srcdoc frames and inherit this policy.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Handler = Callable[[Request], Awaitable[Response]]


# --------------------------------------------------------------------------- responses


def html(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("current", None)
    context.setdefault("section", "")
    context.setdefault("page", None)
    context.setdefault("tab", "")
    body = render(name, prefix=PREFIX, csrf_field=CSRF_FIELD, **context)
    return HTMLResponse(body, status, headers=HEADERS)


def _error_page(request: Request, exc: ConsoleError) -> Response:
    if exc.status == 401 and request.method == "GET" and not exc.clear:
        # No session at all: the login page is where to go. Anything else gets the error.
        return RedirectResponse(f"{PREFIX}/login", 303, headers=HEADERS)
    response = html(request, "error.html", exc.status, title=exc.title, message=exc.message)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="uiserver"'
    if exc.clear:
        response.delete_cookie(SESSION_COOKIE, path=PREFIX, **cookie_args(request))
    return response


def console_page(handler: Handler) -> Handler:
    """Turn ConsoleError, ApiError and an unreachable store into HTML error pages."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ConsoleError as exc:
            return _error_page(request, exc)
        except ApiError as exc:
            titles = {404: "Not found", 413: "Too large", 400: "Bad request"}
            return _error_page(request, ConsoleError(
                exc.status, titles.get(exc.status, "Cannot do that"), exc.message))
        except StoreUnavailable as exc:
            return _error_page(request, ConsoleError(503, "Store unreachable", str(exc)))

    return wrapped


# --------------------------------------------------------------------------- login / logout


@console_page
async def login_form(request: Request) -> Response:
    secret = server_secret(request)
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = html(request, "login.html", csrf=sign(secret, "login", nonce), error="")
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, path=f"{PREFIX}/login",
                        **cookie_args(request))
    return response


@console_page
async def login(request: Request) -> Response:
    secret = server_secret(request)
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    form = await read_form(request)
    if not nonce:
        raise ConsoleError(403, "Form expired", "open the sign-in page again and retry")
    check_csrf(form, sign(secret, "login", nonce))
    token = form.get("token", "").strip()

    def again(status: int, error: str) -> Response:
        return html(request, "login.html", status, csrf=sign(secret, "login", nonce), error=error)

    if not token:
        return again(422, "Enter a token.")
    try:
        who = request.app.state.verifier.verify(token)
    except AuthError as exc:
        return again(401, f"This token is not accepted: {exc.message}.")
    if not who.is_designer:
        return again(403, f"This token has role {who.role!r}; the console needs designer or admin.")
    response = RedirectResponse(f"{PREFIX}/", 303, headers=HEADERS)
    max_age = max(1, int(who.exp - time.time()))
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, path=PREFIX,
                        **cookie_args(request))
    response.delete_cookie(LOGIN_COOKIE, path=f"{PREFIX}/login", **cookie_args(request))
    return response


@console_page
async def logout(request: Request) -> Response:
    await checked_form(request, session(request))
    response = RedirectResponse(f"{PREFIX}/login", 303, headers=HEADERS)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX, **cookie_args(request))
    return response


# --------------------------------------------------------------------------- templates


@console_page
async def index(request: Request) -> Response:
    current = session(request)
    rows = await ops.summaries(service_of(request))
    return html(request, "list.html", current=current, section="templates", rows=rows)


def parse_draft(text: str) -> tuple[Any, list[Problem]]:
    """The editor's text as a document: JSON, or YAML as in `layouts/`; errors name the line."""
    stripped = text.strip()
    if not stripped:
        return None, [Problem("template", "the template is empty")]
    if stripped.startswith("{"):
        try:
            return json.loads(text), []
        except json.JSONDecodeError as exc:
            return None, [Problem(f"line {exc.lineno}, column {exc.colno}",
                                  f"not valid JSON: {exc.msg}")]
    try:
        return yaml.safe_load(text), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "template"
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(where, f"not valid YAML or JSON: {problem}")]


def _draft(request: Request, text: str) -> tuple[Template | None, list[Problem]]:
    data, problems = parse_draft(text)
    if problems:
        return None, problems
    return ops.check_draft(service_of(request), request.path_params["page"], data)


async def _editor(
    request: Request, current: Session, *, text: str | None = None, status: int = 200,
    problems: list[Problem] | None = None, notice: str = "", message: str = "",
) -> Response:
    page = request.path_params["page"]
    live = await ops.live_page(service_of(request), page)
    return html(
        request, "editor.html", status, current=current, section="templates", page=page,
        tab="editor", live=live.record, title=live.template.title,
        text=ops.template_text(live.template) if text is None else text,
        problems=problems, notice=notice, message=message,
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
    template, problems = _draft(request, text)
    if action == "validate" or template is None or problems:
        if problems:
            verb = "Publish refused" if action == "publish" else "Validation failed"
            notice = f"{verb}: {len(problems)} problem(s). The live version keeps serving."
        else:
            notice = "Valid: no schema or accessibility problems."
        return await _editor(request, current, text=text, problems=problems, notice=notice,
                             message=message, status=422 if problems else 200)
    if not message:
        return await _editor(request, current, text=text, message=message, status=422,
                             problems=[Problem("message", "say what changed and why")],
                             notice="Publish refused: a message is required.")
    page = request.path_params["page"]
    try:
        record = await service_of(request).publish(page, template, current.who.user_id, message)
    except PublishRefused as exc:
        return await _editor(request, current, text=text, problems=exc.problems, status=422,
                             message=message, notice="Publish refused. The live version keeps "
                             "serving.")
    query = urlencode({"published": record.version})
    return RedirectResponse(f"{PREFIX}/pages/{page}?{query}", 303, headers=HEADERS)


# --------------------------------------------------------------------------- history, diff


@console_page
async def history_page(request: Request) -> Response:
    current = session(request)
    page = request.path_params["page"]
    versions = await ops.history(service_of(request), page)
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
        record = await service_of(request).rollback(page, version, current.who.user_id)
    except UnknownVersion:
        raise ConsoleError(404, "Not found", f"page {page!r} has no version {version!r}") from None
    except PublishRefused as exc:
        reasons = "; ".join(f"{p.field}: {p.message}" for p in exc.problems)
        raise ConsoleError(422, "Rollback refused",
                           f"version {version} fails today's lint: {reasons}") from None
    query = urlencode({"rolled_back": record.version})
    return RedirectResponse(f"{PREFIX}/pages/{page}/history?{query}", 303, headers=HEADERS)


@console_page
async def diff_page(request: Request) -> Response:
    current = session(request)
    page = request.path_params["page"]
    service = service_of(request)
    versions = await ops.history(service, page)
    query = request.query_params
    old = query.get("from") or (versions[1]["version"] if len(versions) > 1 else "")
    new = query.get("to") or versions[0]["version"]
    result = await ops.diff(service, page, old, new) if old and new else None
    # One option per version (a rollback repeats one), at its newest entry.
    choices = list({v["version"]: v for v in reversed(versions)}.values())[::-1]
    return html(request, "diff.html", current=current, section="templates", page=page,
                tab="diff", versions=versions, choices=choices, old=old, new=new,
                result=result)


# --------------------------------------------------------------------------- preview


def _panels(request: Request, template: Template, version: str | None) -> list[dict[str, Any]]:
    service = service_of(request)
    panels: list[dict[str, Any]] = []
    for name in ops.persona_names():
        title = ops.PERSONA_TITLES.get(name, name)
        try:
            layout = ops.preview(service, template, name, None, version)
        except ApiError as exc:
            # One persona the engine cannot serve must not hide the other five.
            panels.append({"name": name, "title": title, "error": exc.message})
            continue
        panels.append({
            "name": name,
            "title": title,
            "error": None,
            "layout": layout,
            "html": render_h5(layout, service.catalog, title=template.title),
            "adapted": [c for c in layout.components if c.reasons],
        })
    return panels


@console_page
async def preview_page(request: Request) -> Response:
    current = session(request)
    page = request.path_params["page"]
    live = await ops.live_page(service_of(request), page)
    return html(request, "preview.html", current=current, section="templates", page=page,
                tab="preview", draft=False, version=live.record.version,
                panels=_panels(request, live.template, live.record.version))


@console_page
async def preview_draft(request: Request) -> Response:
    current = session(request)
    form = await checked_form(request, current)
    page = request.path_params["page"]
    text = form.get("template", "")
    template, problems = _draft(request, text)
    if template is None or problems:
        return await _editor(request, current, text=text, problems=problems, status=422,
                             message=form.get("message", ""),
                             notice="Cannot preview: fix these problems first.")
    return html(request, "preview.html", current=current, section="templates", page=page,
                tab="preview", draft=True, version=template_version(template),
                panels=_panels(request, template, None))


# --------------------------------------------------------------------------- segments, variants


async def _segments(request: Request, current: Session, status: int = 200,
                    **context: Any) -> Response:
    service = service_of(request)
    await service.sync()
    experiments = [
        {"page": page, "experiment": live.template.experiment,
         "variants": ops.variant_shares(live.template)}
        for page, live in sorted(service.pages.items())
    ]
    context.setdefault("notice", "")
    context.setdefault("error", None)
    context.setdefault("text", "")
    return html(request, "segments.html", status, current=current, section="segments",
                experiments=experiments, **context)


@console_page
async def segments_page(request: Request) -> Response:
    return await _segments(request, session(request))


@console_page
async def import_segments(request: Request) -> Response:
    current = session(request)
    form = await checked_form(request, current, SEGMENTS_FORM_LIMIT)
    text = form.get("segments", "")
    try:
        assignments = ops.parse_segments(text.encode())
    except ApiError as exc:
        return await _segments(request, current, exc.status, text=text, error=exc.message)
    users = await service_of(request).put_segments(assignments)
    return await _segments(request, current, notice=f"Imported segments for {users} user(s).")


async def to_index(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/", 308)


def console_routes() -> list[BaseRoute]:
    static = Path(__file__).with_name("static")
    pages = f"{PREFIX}/pages/{{page}}"
    return [
        Route(PREFIX, to_index, methods=["GET"]),
        Route(f"{PREFIX}/", index, methods=["GET"]),
        Route(f"{PREFIX}/login", login_form, methods=["GET"]),
        Route(f"{PREFIX}/login", login, methods=["POST"]),
        Route(f"{PREFIX}/logout", logout, methods=["POST"]),
        Route(pages, editor, methods=["GET"]),
        Route(pages, editor_action, methods=["POST"]),
        Route(f"{pages}/history", history_page, methods=["GET"]),
        Route(f"{pages}/rollback", rollback, methods=["POST"]),
        Route(f"{pages}/diff", diff_page, methods=["GET"]),
        Route(f"{pages}/preview", preview_page, methods=["GET"]),
        Route(f"{pages}/preview", preview_draft, methods=["POST"]),
        Route(f"{PREFIX}/segments", segments_page, methods=["GET"]),
        Route(f"{PREFIX}/segments", import_segments, methods=["POST"]),
        Mount(f"{PREFIX}/static", StaticFiles(directory=static), name="console-static"),
    ]

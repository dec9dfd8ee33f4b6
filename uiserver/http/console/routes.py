"""The designer console at `/designer/`: server-rendered HTML over the same operations as the
admin API (`uiserver.admin`), usable with a keyboard and a screen reader, and without
JavaScript. This module signs designers in and out and lists the routes; the pages live in
`console.templates` (editor, history, diff, preview) and `console.segments`.

Only designer and admin tokens get a page (sessions and CSRF: `console.auth`); every POST checks
its form's CSRF token before it does anything.
"""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from uiserver import admin
from uiserver.admin import drafts
from uiserver.auth import AuthError
from uiserver.auth.sessions import SessionEnded
from uiserver.http.console.api import console_api_routes
from uiserver.http.console.assessment import assessment_page, assessment_phone, record_manual
from uiserver.http.console.audit import audit_page
from uiserver.http.console.auth import (
    LOGIN_COOKIE,
    PREFIX,
    ROTATED,
    SESSION_COOKIE,
    ConsoleError,
    check_csrf,
    checked_form,
    cookie_args,
    read_form,
    server_secret,
    session,
    set_session_cookie,
    sign,
)
from uiserver.http.console.releases import archive_action, rollout_action
from uiserver.http.console.render import console_page, html, redirect
from uiserver.http.console.segments import import_segments, segments_page
from uiserver.http.console.templates import (
    create_page,
    diff_page,
    editor,
    editor_action,
    history_page,
    preview_draft,
    preview_page,
    rollback,
)
from uiserver.http.deps import service_of

# --------------------------------------------------------------------------- login / logout


def span_text(seconds: float) -> str:
    """`seconds` as the sign-in page says it: whole days, hours or minutes when it is one
    (`30 minutes`, `12 hours`, `1 day`), else seconds (`90 seconds`)."""
    whole = round(seconds)
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if whole >= size and whole % size == 0:
            count = whole // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{whole} second{'' if whole == 1 else 's'}"


def session_terms(request: Request) -> dict[str, str]:
    """When a console session ends (`--session-idle`, `--session-max`), for the sign-in page."""
    policy = service_of(request).sessions.policy
    return {"session_idle": span_text(policy.idle), "session_max": span_text(policy.absolute)}


@console_page
async def login_form(request: Request) -> Response:
    secret = server_secret(request)
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = html(
        request,
        "login.html",
        200,
        csrf=sign(secret, "login", nonce),
        error="",
        **session_terms(request),
    )
    response.set_cookie(
        LOGIN_COOKIE, nonce, max_age=3600, path=f"{PREFIX}/login", **cookie_args(request)
    )
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
        return html(
            request,
            "login.html",
            status,
            csrf=sign(secret, "login", nonce),
            error=error,
            **session_terms(request),
        )

    if not token:
        return again(422, "Enter a token.")
    try:
        who = request.app.state.verifier.verify(token)
    except AuthError as exc:
        return again(401, f"This token is not accepted: {exc.message}.")
    if not who.is_designer:
        return again(403, f"This token has role {who.role!r}; the console needs designer or admin.")
    sessions = service_of(request).sessions
    # A session id the browser already holds is never adopted (session fixation): a new one is
    # issued, and the old sign-in, if it is still one, ends.
    held = request.cookies.get(SESSION_COOKIE, "")
    if held:
        with contextlib.suppress(SessionEnded):
            await sessions.end((await sessions.resume(held, rotate=False)).record)
    session_id, record = await sessions.start(who)
    response = redirect(f"{PREFIX}/")
    set_session_cookie(request, response, session_id, record.expires)
    response.delete_cookie(LOGIN_COOKIE, path=f"{PREFIX}/login", **cookie_args(request))
    return response


@console_page
async def logout(request: Request) -> Response:
    current = await session(request, rotate=False)
    await checked_form(request, current)
    if current.record is not None:
        await service_of(request).sessions.end(current.record)  # on every replica
    setattr(request.state, ROTATED, None)
    response = redirect(f"{PREFIX}/login")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX, **cookie_args(request))
    return response


@console_page
async def index(request: Request) -> Response:
    current = await session(request)
    service = service_of(request)
    rows = await admin.summaries(service.publisher)
    archived = request.query_params.get("archived", "")
    notice = (
        f"Archived {archived}: clients get 404; its history is kept, and rolling back to "
        "a version from it restores the page."
        if archived
        else ""
    )
    mine = await drafts.mine(service.live, service.drafts, current.who.user_id)
    return html(
        request,
        "list.html",
        current=current,
        section="templates",
        rows=rows,
        archived=sorted(service.live.archived),
        notice=notice,
        drafts=mine,
    )


async def to_index(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/", 308)


def console_routes() -> list[BaseRoute]:
    static = Path(__file__).resolve().parent.parent / "static"
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
        Route(f"{pages}/rollout", rollout_action, methods=["POST"]),
        Route(f"{pages}/archive", archive_action, methods=["POST"]),
        Route(f"{PREFIX}/new", create_page, methods=["POST"]),
        Route(f"{pages}/diff", diff_page, methods=["GET"]),
        Route(f"{pages}/preview", preview_page, methods=["GET"]),
        Route(f"{pages}/preview", preview_draft, methods=["POST"]),
        Route(f"{PREFIX}/segments", segments_page, methods=["GET"]),
        Route(f"{PREFIX}/segments", import_segments, methods=["POST"]),
        Route(f"{PREFIX}/audit", audit_page, methods=["GET"]),
        Route(f"{pages}/assessment", assessment_page, methods=["GET"]),
        Route(f"{pages}/assessment/phone", assessment_phone, methods=["GET"]),
        Route(f"{pages}/assessment/manual/{{item}}", record_manual, methods=["POST"]),
        *console_api_routes(),
        Mount(f"{PREFIX}/static", StaticFiles(directory=static), name="console-static"),
    ]

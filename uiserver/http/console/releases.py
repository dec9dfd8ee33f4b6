"""The console's release steps: confirm before publish, rollback, rollout changes, promote, abort
and archive; the conflict page when someone published meanwhile (with "re-apply my edit on top
of the live version"); creating a page from a starter.

Every change is two requests: the first answers a confirmation page that says what will happen
(to how many users, over which version), the second (with `confirm=yes`) does it. Without
JavaScript, keyboard and screen reader work as on any other form. The editor sends the version
it was opened on as `base_version`, so a stale edit is never published over someone else's.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import urlencode

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from uiserver import admin
from uiserver.admin import rollouts
from uiserver.catalog import template_to_json
from uiserver.http.console.auth import PREFIX, ConsoleError, Session, checked_form, session
from uiserver.http.console.render import console_page, html, redirect
from uiserver.http.deps import service_of
from uiserver.publishing.diff import structured_changes
from uiserver.publishing.export import template_text
from uiserver.publishing.merge import merge3
from uiserver.publishing.publisher import PublishRefused
from uiserver.schema import Problem, Template
from uiserver.store.base import PublishOptions, RunningRollout

PAGE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
Editor = Callable[..., Awaitable[Response]]  # re-renders the editor, keeping the draft
RUNNING: dict[str, RunningRollout] = {"": "refuse", "promote": "promote", "abort": "abort"}
RAMP_TEXT = (
    "5% -> 25% -> 50% -> 100%, each step at least an hour and 200 users per arm; it holds or "
    "rolls back on its own when a guardrail fires"
)


def confirm(
    request: Request,
    current: Session,
    *,
    page: str | None,
    title: str,
    question: str,
    action: str,
    fields: dict[str, str],
    button: str,
    details: list[str] | None = None,
    changes: list[Any] | None = None,
    status: int = 200,
) -> Response:
    """The confirmation step: what will happen, a Confirm button and a way back."""
    return html(
        request,
        "confirm.html",
        status,
        current=current,
        section="templates",
        page=page,
        title=title,
        question=question,
        action=action,
        fields={**fields, "confirm": "yes"},
        button=button,
        details=details or [],
        changes=changes,
    )


def _percent(value: str) -> int | None:
    """The editor's share field: empty or 100 = everyone."""
    text = value.strip()
    if not text:
        return None
    # ASCII digits, checked before int(): '²' is str.isdigit() but not int(), '٣' is both,
    # and int() refuses more than 4,300 digits (each a 500 before).
    if len(text) > 3 or not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 100:
        raise ConsoleError(
            422, "Share out of range", "the share of users is a whole percent from 1 to 100"
        )
    return int(text)


def full(template: Template) -> Any:
    """A template as the JSON document a diff compares (every field, canonical)."""
    return msgspec.json.decode(template_to_json(template))


# --------------------------------------------------------------------------- publish


async def publish_step(
    request: Request, current: Session, form: dict[str, str], template: Template, editor: Editor
) -> Response:
    """The editor's Publish: confirm, then publish against `base_version`; on a conflict the
    conflict page. `editor(**kw)` re-renders the editor (refusals keep the draft)."""
    page = request.path_params["page"]
    service = service_of(request)
    share = _percent(form.get("rollout", ""))
    base = form.get("base_version", "")
    running = RUNNING.get(form.get("rollout_conflict", ""), "refuse")
    live = service.live.pages.get(page)
    ramp = form.get("ramp") == "default" and live is not None
    if ramp and share is not None:
        raise ConsoleError(
            422, "Share or schedule", "give either a share of users or the ramp schedule"
        )
    if form.get("confirm") != "yes":
        before = full(live.template) if live is not None else {}
        who = (
            "everyone"
            if share is None or share == 100
            else f"{share}% of users (the others keep the live version)"
        )
        if ramp:
            who = f"a ramp schedule ({RAMP_TEXT})"
        return confirm(
            request,
            current,
            page=page,
            title=f"Publish {page}?",
            question=f"Publish this draft of {page} for {who}?",
            action=f"{PREFIX}/pages/{page}",
            fields={
                k: form.get(k, "")
                for k in (
                    "template",
                    "message",
                    "base_version",
                    "rollout",
                    "rollout_conflict",
                    "ramp",
                )
            }
            | {"action": "publish"},
            button="Confirm publish",
            details=[f"Message: {form.get('message', '')}"],
            changes=structured_changes(before, full(template)),
        )
    options = PublishOptions(base=(base,) if base else None, rollout=share, running=running)
    try:
        if ramp:
            await rollouts.publish_ramp(
                service.scheduler,
                service.drafts,
                page,
                template,
                current.who.user_id,
                form.get("message", ""),
                {},
                options,
            )
            return redirect(f"{PREFIX}/pages/{page}/history?{urlencode({'done': 'ramp'})}")
        applied = await admin.publish(
            service.publisher,
            service.drafts,
            page,
            template,
            current.who.user_id,
            form.get("message", ""),
            options,
        )
    except PublishRefused as exc:
        return await editor(
            text=form.get("template", ""),
            problems=exc.problems,
            status=422,
            message=form.get("message", ""),
            notice="Publish refused. The live version keeps serving.",
        )
    except admin.Conflict as exc:
        if exc.code == "stale_base":
            return await conflict_page(request, current, form, template, exc)
        scheduled = exc.code == "schedule_conflict"
        return await editor(
            text=form.get("template", ""),
            status=409,
            base_version=base,
            message=form.get("message", ""),
            problems=[Problem("ramp" if scheduled else exc.field or "rollout", exc.message)],
            notice="Not published: a schedule is active on this page (see History)."
            if scheduled
            else "Not published: a staged rollout is running. Choose what "
            "to do with it below, then publish again.",
        )
    query = urlencode({"published": applied.head.version})
    return redirect(f"{PREFIX}/pages/{page}?{query}")


async def conflict_page(
    request: Request,
    current: Session,
    form: dict[str, str],
    template: Template,
    exc: admin.Conflict,
) -> Response:
    """409: both versions side by side, what the other person changed, and the way on."""
    page = request.path_params["page"]
    service = service_of(request)
    await service.live.sync()
    live = service.live.pages.get(page)
    return html(
        request,
        "conflict.html",
        409,
        current=current,
        section="templates",
        page=page,
        base=form.get("base_version", ""),
        live=live.record if live is not None else None,
        live_text=template_text(live.template) if live is not None else "",
        mine=form.get("template", ""),
        message=form.get("message", ""),
        changes=exc.extra.get("changes", []),
        rollout=form.get("rollout", ""),
    )


async def reapply(
    request: Request, current: Session, form: dict[str, str], template: Template, editor: Editor
) -> Response:
    """Merge the designer's edit (base -> draft) into the live version; the editor shows the
    result, on the live version as its new base, with what both sides changed."""
    page = request.path_params["page"]
    service = service_of(request)
    live = await admin.live_page(service.live, page)
    base = await admin.version_record(
        service.publisher, page, form.get("base_version", ""), "base_version"
    )
    merged, conflicts = merge3(
        msgspec.json.decode(base.document),
        full(template),
        msgspec.json.decode(live.record.document),
    )
    result, problems = admin.check_draft(service.publisher, page, merged)
    if result is None or problems:
        return await editor(
            text=form.get("template", ""),
            problems=problems,
            status=422,
            base_version=live.record.version,
            message=form.get("message", ""),
            notice="Your edit could not be re-applied on the live version as "
            "it is; edit the draft below (it is on the live version).",
        )
    notice = (
        f"Your edit is re-applied on top of version {live.record.version}. Check it, then publish."
    )
    if conflicts:
        notice += " Both of you changed: " + ", ".join(conflicts) + " (your value is kept)."
    return await editor(
        text=template_text(result),
        base_version=live.record.version,
        message=form.get("message", ""),
        notice=notice,
    )


# --------------------------------------------------------------------------- rollouts, archive


@console_page
async def rollout_action(request: Request) -> Response:
    """History's rollout controls: change the share, promote, abort (each confirmed)."""
    current = await session(request)
    form = await checked_form(request, current)
    page = request.path_params["page"]
    step = form.get("step", "")
    if step not in ("rollout", "promote", "abort", "pause", "resume"):
        raise ConsoleError(400, "Bad request", "unknown rollout step")
    service = service_of(request)
    if step in ("pause", "resume"):  # no confirmation: nothing changes for any user
        act = rollouts.pause if step == "pause" else rollouts.resume
        await act(service.scheduler, page, current.who.user_id)
        return redirect(f"{PREFIX}/pages/{page}/history?{urlencode({'done': step})}")
    live = await admin.live_page(service.live, page)
    if live.rollout is None:
        raise ConsoleError(409, "No rollout running", f"{page} has no staged rollout running")
    percent = _percent(form.get("percent", "")) if step == "rollout" else None
    if step == "rollout" and percent is None:
        raise ConsoleError(422, "Share out of range", "give the new share of users, 1 to 100")
    if form.get("confirm") != "yes":
        new, old = live.rollout.version, live.rollout.previous
        question = {
            "rollout": f"Serve version {new} to {percent}% of users (now {live.rollout.percent}%)?",
            "promote": f"Promote version {new} to everyone? The rollout ends.",
            "abort": f"Abort the rollout? Everyone gets version {old} again.",
        }[step]
        return confirm(
            request,
            current,
            page=page,
            title=f"{step.capitalize()} {page}?",
            question=question,
            action=f"{PREFIX}/pages/{page}/rollout",
            fields={"step": step, "percent": form.get("percent", "")},
            button=f"Confirm {step}",
        )
    who = current.who.user_id
    if step == "rollout":
        assert percent is not None
        await admin.set_rollout(service.publisher, page, percent, who)
        await service.scheduler.manual(page, who, "percent", percent)
    else:
        outcome: Literal["promote", "abort"] = "promote" if step == "promote" else "abort"
        await admin.end_rollout(service.publisher, page, outcome, who)
        await service.scheduler.manual(page, who, outcome)
    return redirect(f"{PREFIX}/pages/{page}/history?{urlencode({'done': step})}")


@console_page
async def archive_action(request: Request) -> Response:
    current = await session(request)
    form = await checked_form(request, current)
    page = request.path_params["page"]
    service = service_of(request)
    state = await service.publisher.state(page)
    if state is not None and state.archived is not None:
        # A second submit (another tab, a double click): the state, not "no page" (a 404).
        raise ConsoleError(
            409,
            "Already archived",
            f"{page} was archived by {state.archived.author}; roll back to a version in its "
            "history to restore it.",
        )
    await admin.live_page(service.live, page)
    if form.get("confirm") != "yes":
        return confirm(
            request,
            current,
            page=page,
            title=f"Archive {page}?",
            question=f"Archive {page}? Clients get 404 for it; its history is kept "
            "and publishing it again restores it.",
            action=f"{PREFIX}/pages/{page}/archive",
            fields={},
            button="Confirm archive",
        )
    await admin.archive(service.publisher, page, current.who.user_id)
    return redirect(f"{PREFIX}/?{urlencode({'archived': page})}")


async def new_page_draft(request: Request, form: dict[str, str]) -> tuple[str, str, Template]:
    """A new page from a starter (a copy of a live page's version, without its experiment):
    (name, starter page, draft). ConsoleError 422 for a bad name or starter, 409 when the
    page exists or is archived."""
    name = form.get("page", "").strip()
    service = service_of(request)
    await service.live.sync()
    if not PAGE_NAME.fullmatch(name):
        raise ConsoleError(
            422,
            "Bad page name",
            "use 1-64 lowercase letters, digits, - or _, starting with a letter or digit",
        )
    if name in service.live.pages or name in service.live.archived:
        raise ConsoleError(
            409, "Page exists", f"{name} exists (archived pages are restored from their history)"
        )
    starter = service.live.pages.get(form.get("starter", ""))
    if starter is None:
        raise ConsoleError(422, "Unknown starter", "choose a starter page")
    draft = msgspec.structs.replace(
        starter.template, page=name, title=name, variants=[], experiment=None
    )
    return name, starter.record.page, draft

"""The admin JSON API of DESIGN section 5: templates, lint, publish, history, diff, rollback,
staged rollouts, archiving, persona previews and segment import. Every route needs the designer
or admin role.

Publication is refused (422, nothing stored, the live version keeps serving) whenever schema or
accessibility lint finds a problem; the problems come back in the body so a tool can show them.
`publish` and `rollback` take a precondition (`If-Match: "<version>"` or `"base_version"`): a
stale one is 409 `stale_base` with the live version and what changed since the base;
`If-Match: *` (or no precondition) publishes over whatever is live.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from uiserver import admin as ops
from uiserver.admin import rollouts
from uiserver.admin.preview import PersonaSpec, SpecError, spec_from_json, spec_from_query
from uiserver.admin.reach import reach_warnings
from uiserver.catalog import VERSION_MAX
from uiserver.documents import DEFAULT_LIMITS
from uiserver.http.deps import designer, json_document, read_body, service_of, store_writes
from uiserver.http.errors import ApiError
from uiserver.http.preview.h5 import problems_by_component, render_h5
from uiserver.http.responses import json_response
from uiserver.publishing.publisher import PublishRefused
from uiserver.schema import Problem, Template
from uiserver.serving.context import QueryError, parse_context
from uiserver.store.base import PageState, PublishOptions, RunningRollout, StoreUnavailable
from uiserver.users.segments import IMPORT_LIMITS

TEMPLATE_LIMIT = DEFAULT_LIMITS.max_bytes
SEGMENTS_LIMIT = IMPORT_LIMITS.max_bytes
MESSAGE_MAX = 500
_ETAG = re.compile(r'\s*"([\x21\x23-\x7e]{1,64})"\s*')  # RFC 9110 strong entity-tag
RUNNING_CHOICES: tuple[RunningRollout, ...] = ("refuse", "abort", "promote")
# The H5 preview is a picture of a page: no script, nothing loaded from elsewhere.
PREVIEW_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def refused(problems: list[Problem]) -> Response:
    """422 with the problems and the contract's error object (naming the first field)."""
    first = problems[0]
    return json_response(
        {
            "ok": False,
            "problems": ops.problems_json(problems),
            "error": {
                "code": "lint_failed",
                "message": f"refused: {len(problems)} problem(s); first: "
                f"{first.field}: {first.message}",
                "field": first.field,
            },
        },
        status=422,
    )


def _string(body: Any, name: str, *, required: bool, max_length: int = MESSAGE_MAX) -> str:
    value = body.get(name) if isinstance(body, Mapping) else None
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ApiError(422, "invalid", f"{name} must be a non-empty string", name)
    if len(value) > max_length:
        raise ApiError(422, "invalid", f"{name} is longer than {max_length} characters", name)
    return value


PUBLISH_MEMBERS = ("template", "message", "base_version", "rollout", "rollout_conflict", "schedule")
CHANGE_MEMBERS = ("template", "version", "at", "revert_at", "message")


def _members(body: Any, allowed: tuple[str, ...]) -> None:
    """422 naming the first member of `body` outside `allowed`: a misspelt `schedule` or
    `revert_at` would otherwise be dropped without a word (a ramp published to everyone at
    once, a campaign that never reverts)."""
    if not isinstance(body, Mapping):
        return
    for name in body:
        if name not in allowed:
            shown_name = str(name)[:40]
            raise ApiError(
                422,
                "invalid",
                f"unknown member {shown_name!r}; allowed: {', '.join(allowed)}",
                shown_name,
            )


def _percent(body: Any, name: str, *, required: bool) -> int | None:
    value = body.get(name) if isinstance(body, Mapping) else None
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        raise ApiError(422, "invalid", f"{name} must be a whole percent from 1 to 100", name)
    return value


def if_match(request: Request, body: Any) -> tuple[str, ...] | None:
    """The versions the caller's edit is based on, from `If-Match` or `base_version`.

    None: no check (`If-Match: *` without `base_version`, or neither given: today's
    behaviour); `*` with a `base_version` checks that version. A header that is not
    `*` or a list of strong entity tags is 400; a header and a body that disagree are 400.
    """
    field = _string(body, "base_version", required=False, max_length=VERSION_MAX) or None
    header = request.headers.get("if-match")
    if header is None:
        return (field,) if field else None
    if header.strip() == "*":  # forces, unless the body names a narrower base
        return (field,) if field else None
    tags = []
    for item in header.split(","):
        match = _ETAG.fullmatch(item)
        if match is None:
            raise ApiError(
                400,
                "bad_request",
                'If-Match must be * or "<version>" (strong entity tags, comma-separated)',
                "If-Match",
            )
        tags.append(match.group(1))
    if field and field not in tags:
        raise ApiError(
            400, "bad_request", "If-Match and base_version name different versions", "base_version"
        )
    return tuple(tags)


def publish_options(request: Request, body: Any) -> PublishOptions:
    """Precondition, `rollout` percent and `rollout_conflict` of a publish or rollback."""
    running = _string(body, "rollout_conflict", required=False, max_length=16) or "refuse"
    if running not in RUNNING_CHOICES:
        raise ApiError(
            422,
            "invalid",
            "rollout_conflict must be one of " + ", ".join(RUNNING_CHOICES),
            "rollout_conflict",
        )
    return PublishOptions(
        base=if_match(request, body),
        rollout=_percent(body, "rollout", required=False),
        running=running,
    )


def _published(
    page: str, applied: PageState, warnings: list[dict[str, Any]] | None = None
) -> Response:
    """201 for a new live (or staged) version: its version, seq and the rollout its write left
    running (from the write itself: another replica may have moved on since); `warnings`:
    types a share of recently active clients cannot draw (`admin.reach`)."""
    record = applied.head
    body: dict[str, Any] = {
        "page": page,
        "version": record.version,
        "seq": record.seq,
        "rollout": ops.rollout_state(applied.rollout),
    }
    if warnings is not None:
        body["warnings"] = warnings
    return json_response(body, 201, headers={"ETag": f'"{record.version}"'})


# --------------------------------------------------------------------------- templates


async def list_templates(request: Request) -> Response:
    designer(request)
    with store_writes():
        rows = await ops.summaries(service_of(request).publisher)
    return json_response(rows)


async def get_template(request: Request) -> Response:
    designer(request)
    page = request.path_params["page"]
    with store_writes():
        live = await ops.live_page(service_of(request).live, page)
    return json_response(
        {
            "page": page,
            "live_version": live.record.version,
            "template": ops.document(live.record),
            "rollout": ops.rollout_state(live.rollout),
        },
        headers={"ETag": f'"{live.record.version}"'},
    )


async def validate(request: Request) -> Response:
    """Lint a draft: 200 with `ok` false and the problems when it would be refused."""
    designer(request)
    data = ops.template_field(await json_document(request, TEMPLATE_LIMIT))
    _, problems = ops.check_draft(service_of(request).publisher, request.path_params["page"], data)
    return json_response({"ok": not problems, "problems": ops.problems_json(problems)})


async def publish(request: Request) -> Response:
    who = designer(request)
    page = request.path_params["page"]
    body = await json_document(request, TEMPLATE_LIMIT)
    data = ops.template_field(body)
    _members(body, PUBLISH_MEMBERS)
    message = _string(body, "message", required=True)
    options = publish_options(request, body)
    service = service_of(request)
    template, problems = ops.check_draft(service.publisher, page, data)
    if template is None or problems:
        return refused(problems)
    schedule = body.get("schedule") if isinstance(body, Mapping) else None
    try:
        with store_writes():
            if schedule is not None:
                return await _publish_scheduled(request, page, template, message, options, schedule)
            applied = await ops.publish(
                service.publisher, service.drafts, page, template, who.user_id, message, options
            )
    except PublishRefused as exc:
        return refused(exc.problems)
    try:
        warnings = await reach_warnings(service.capabilities, template)
    except StoreUnavailable:  # published; only the warning could not be computed
        warnings = []
    return _published(page, applied, warnings)


async def _publish_scheduled(
    request: Request,
    page: str,
    template: Template,
    message: str,
    options: PublishOptions,
    body: Any,
) -> Response:
    """A publish with a ramp `schedule`: 201 with the version and the rollout at its first
    step, or 202 when its `start` is later (nothing published yet); the schedule either way."""
    who = designer(request)
    service = service_of(request)
    schedule, applied = await rollouts.publish_ramp(
        service.scheduler, service.drafts, page, template, who.user_id, message, body, options
    )
    shown = rollouts.view(schedule)
    if applied is None:
        return json_response(
            {"page": page, "version": schedule.version, "seq": None, "schedule": shown}, 202
        )
    answer = _published(page, applied)
    data = msgspec.json.decode(answer.body)
    data["schedule"] = shown
    return json_response(data, 201, headers={"ETag": f'"{applied.head.version}"'})


async def history(request: Request) -> Response:
    designer(request)
    page = request.path_params["page"]
    service = service_of(request)
    with store_writes():
        versions = await ops.history(service.publisher, page)
        state = await service.publisher.state(page)
        schedules = await service.scheduler.of_page(page)
    rollout = state.rollout if state is not None and state.archived is None else None
    archived = state.archived if state is not None else None
    return json_response(
        {
            "page": page,
            "versions": versions,
            "rollout": ops.rollout_state(rollout),
            "archived": archived,
            # The page's rollout schedules, newest first, each with its timeline.
            "schedules": [rollouts.view(s) for s in schedules],
        }
    )


async def diff(request: Request) -> Response:
    designer(request)
    query = request.query_params
    with store_writes():
        result = await ops.diff(
            service_of(request).publisher,
            request.path_params["page"],
            query.get("from", ""),
            query.get("to", ""),
        )
    return json_response(result)


async def rollback(request: Request) -> Response:
    """Publish an earlier version anew (a new history entry; lint runs again)."""
    who = designer(request)
    page = request.path_params["page"]
    body = await json_document(request, TEMPLATE_LIMIT)
    version = _string(body, "version", required=True, max_length=VERSION_MAX)
    options = publish_options(request, body)
    service = service_of(request)
    try:
        with store_writes():
            applied = await ops.rollback(service.publisher, page, version, who.user_id, options)
    except PublishRefused as exc:
        return refused(exc.problems)
    return _published(page, applied)


def _rollout_answer(page: str, applied: PageState) -> Response:
    """200 with the live version and rollout the write left (never read again: a page another
    replica archived right after it still answers what this write did)."""
    return json_response(
        {
            "page": page,
            "live_version": applied.head.version,
            "rollout": ops.rollout_state(applied.rollout),
        }
    )


async def set_rollout(request: Request) -> Response:
    """Widen or narrow the running rollout: `{"percent": 1..100}`."""
    who = designer(request)
    page = request.path_params["page"]
    percent = _percent(await json_document(request, TEMPLATE_LIMIT), "percent", required=True)
    assert percent is not None
    service = service_of(request)
    with store_writes():
        applied = await ops.set_rollout(service.publisher, page, percent, who.user_id)
        await service.scheduler.manual(page, who.user_id, "percent", percent)
    return _rollout_answer(page, applied)


async def _end_rollout(request: Request, outcome: Literal["promote", "abort"]) -> Response:
    who = designer(request)
    page = request.path_params["page"]
    await read_body(request, TEMPLATE_LIMIT)  # any body is ignored
    service = service_of(request)
    with store_writes():
        applied = await ops.end_rollout(service.publisher, page, outcome, who.user_id)
        await service.scheduler.manual(page, who.user_id, outcome)
    return _rollout_answer(page, applied)


async def promote(request: Request) -> Response:
    """End the running rollout at 100%: the new version for everyone."""
    return await _end_rollout(request, "promote")


async def abort(request: Request) -> Response:
    """End the running rollout: everyone back to the previous version (a new history entry)."""
    return await _end_rollout(request, "abort")


async def archive(request: Request) -> Response:
    """Take a page down: clients get 404, history stays, a later publish restores it."""
    who = designer(request)
    page = request.path_params["page"]
    service = service_of(request)
    with store_writes():
        applied = await ops.archive(service.publisher, page, who.user_id)
        await service.scheduler.archived(page, who.user_id)
    return json_response({"page": page, "archived": applied.archived})


# --------------------------------------------------------------------------- schedules


async def rollout(request: Request) -> Response:
    """The page's rollout: its schedule (steps, the current one, status, timeline), each
    guardrail's figures and state now, and the defaults."""
    designer(request)
    with store_writes():
        result = await rollouts.rollout_view(
            service_of(request).scheduler, request.path_params["page"]
        )
    return json_response(result)


async def _schedule_act(request: Request, act: str) -> Response:
    who = designer(request)
    page = request.path_params["page"]
    await read_body(request, TEMPLATE_LIMIT)  # any body is ignored
    scheduler = service_of(request).scheduler
    acts = {"pause": rollouts.pause, "resume": rollouts.resume, "cancel": rollouts.cancel}
    with store_writes():
        schedule = await acts[act](scheduler, page, who.user_id)
    return json_response({"page": page, "schedule": rollouts.view(schedule)})


async def pause_rollout(request: Request) -> Response:
    """Stop the page's schedule advancing (409 `no_schedule` when none is active,
    `already_paused` with its `status` when it is paused)."""
    return await _schedule_act(request, "pause")


async def resume_rollout(request: Request) -> Response:
    """Resume a paused schedule from the step at or above the rollout's percent now (409
    `not_paused` with its `status` when it is not paused, `no_schedule` when none is active)."""
    return await _schedule_act(request, "resume")


async def cancel_schedule(request: Request) -> Response:
    """End the page's active schedule; a rollout it drove stays where it is."""
    return await _schedule_act(request, "cancel")


async def schedule_change(request: Request) -> Response:
    """A scheduled change: `{"template": {...}` or `"version"`, `"at"`, `"revert_at"`,
    `"message"}`: 201 with the schedule; 409 `schedule_conflict` when one is active."""
    who = designer(request)
    page = request.path_params["page"]
    body = await json_document(request, TEMPLATE_LIMIT)
    _members(body, CHANGE_MEMBERS)
    message = _string(body, "message", required=False) or "scheduled change"
    service = service_of(request)
    with store_writes():
        template = await _change_template(request, page, body)
        if not isinstance(template, Template):
            return template
        schedule = await rollouts.schedule_change(
            service.scheduler, page, template, who.user_id, message, body
        )
    return json_response({"page": page, "schedule": rollouts.view(schedule)}, 201)


async def _change_template(request: Request, page: str, body: Any) -> Template | Response:
    """The template a scheduled change publishes: `template` (linted now, and again when it is
    published) or an existing `version` of the page."""
    service = service_of(request)
    has_version = isinstance(body, Mapping) and "version" in body
    if has_version == (isinstance(body, Mapping) and "template" in body):
        raise ApiError(422, "invalid", "give either template or version", "template")
    if has_version:
        version = _string(body, "version", required=True, max_length=VERSION_MAX)
        record = await ops.version_record(service.publisher, page, version, "version")
        data: Any = ops.document(record)
    else:
        data = ops.template_field(body)
    template, problems = ops.check_draft(service.publisher, page, data)
    if template is None or problems:
        return refused(problems)
    return template


# --------------------------------------------------------------------------- preview


def _persona(request: Request, posted: Any = None) -> PersonaSpec:
    """The persona to preview: `?persona=` with the custom persona's query parameters
    (`admin.preview`), or a POSTed `persona` object (SpecError: 422 naming the field)."""
    try:
        if posted is not None:
            return spec_from_json(posted)
        return spec_from_query(request.scope.get("query_string", b""))
    except SpecError as exc:
        raise ApiError(422, "invalid", exc.message, exc.field) from None


def _preview_response(
    request: Request,
    template: Template,
    version: str | None,
    spec: PersonaSpec,
    problems: list[Problem] | None = None,
) -> Response:
    query = request.query_params
    fmt = query.get("format", "json")
    if fmt not in ("json", "html"):
        raise ApiError(422, "invalid", "format must be json or html", "format")
    try:
        context = parse_context(request.scope.get("query_string", b""))
    except QueryError as exc:
        raise ApiError(400, "bad_query", exc.message, exc.field) from None
    marked = query.get("marks", "0")
    if marked not in ("0", "1"):
        raise ApiError(422, "invalid", "marks must be 0 or 1", "marks")
    service = service_of(request)
    layout = ops.preview_persona(service.publisher, template, spec, context, version)
    if fmt == "json":
        return json_response(layout)
    # marks=1: badge what personalization changed against this persona's base (same settings
    # and context, personalization off: DESIGN section 5's "base layout").
    base = (
        ops.preview_persona(
            service.publisher, template, spec, context, version, personalization=0.0
        )
        if marked == "1"
        else None
    )
    title = ops.persona_title(spec.base) + (" (custom)" if spec.custom else "")
    html = render_h5(
        layout,
        service.catalog,
        title=template.title,
        caption=f"Preview as {title} · version {layout.template_version}",
        lang=context.locale,
        base=base,
        device=context.device,
        width=context.width,
        problems=problems_by_component([c.id for c in template.components], problems)
        if problems
        else None,
    )
    return HTMLResponse(html, headers=PREVIEW_HEADERS)


async def preview_live(request: Request) -> Response:
    designer(request)
    with store_writes():
        live = await ops.live_page(service_of(request).live, request.path_params["page"])
    return _preview_response(request, live.template, live.record.version, _persona(request))


async def preview_draft(request: Request) -> Response:
    """A draft as a persona would get it, before anyone publishes it (lint must pass)."""
    designer(request)
    body = await json_document(request, TEMPLATE_LIMIT)
    data = ops.template_field(body)
    # The persona: a POSTed `persona` object, else the query's (checked before lint: a bad
    # persona is the caller's error whatever the draft says).
    posted = body.get("persona") if isinstance(body, Mapping) else None
    spec = _persona(request, posted)
    template, problems = ops.check_draft(
        service_of(request).publisher, request.path_params["page"], data
    )
    if template is None or (problems and request.query_params.get("draw") != "1"):
        return refused(problems)
    # draw=1 (the editor's phones): a draft lint refuses is drawn anyway, its problems marked
    # at their components, so a designer sees the colour being judged.
    return _preview_response(request, template, None, spec, problems)


# --------------------------------------------------------------------------- segments


async def put_segments(request: Request) -> Response:
    """Bulk import: a JSON array or JSON lines; one bad item and nothing is stored."""
    who = designer(request)
    body = await read_body(request, SEGMENTS_LIMIT)
    content_type = request.headers.get("content-type", "")
    service = service_of(request)
    with store_writes():
        users = await ops.import_segments(
            service.users, body, content_type, service.audit, who.user_id
        )
    return json_response({"users": users})


# --------------------------------------------------------------------------- experiments


async def experiment(request: Request) -> Response:
    """The page's experiment readout (DESIGN section 5 additions); 404 for an unknown page, an
    empty readout (`experiment` null, no variants) for a page without an experiment;
    `?experiment=ID`: a past experiment of the page (`ended`), 404 when it never ran there."""
    service = service_of(request)
    designer(request)
    with store_writes():
        result = await ops.experiment_readout(
            service.live,
            service.counts,
            request.path_params["page"],
            request.query_params.get("experiment") or None,
        )
    return json_response(result)


# --------------------------------------------------------------------------- telemetry


async def telemetry(request: Request) -> Response:
    """What renderers measured on the page (`admin.telemetry`); `?version=`: one template
    version's counters. 404 for a page never published or a version it never had."""
    service = service_of(request)
    designer(request)
    version = request.query_params.get("version") or None
    if version is not None and len(version) > VERSION_MAX:
        raise ApiError(422, "invalid", f"version longer than {VERSION_MAX}", "version")
    with store_writes():
        result = await ops.telemetry_readout(
            service.live, service.telemetry, request.path_params["page"], version
        )
    return json_response(result)


def admin_routes() -> list[BaseRoute]:
    base = "/v1/admin/templates/{page}"
    return [
        Route("/v1/admin/templates", list_templates, methods=["GET"]),
        Route(base, get_template, methods=["GET"]),
        Route(base, archive, methods=["DELETE"]),
        Route(f"{base}/validate", validate, methods=["POST"]),
        Route(f"{base}/publish", publish, methods=["POST"]),
        Route(f"{base}/history", history, methods=["GET"]),
        Route(f"{base}/diff", diff, methods=["GET"]),
        Route(f"{base}/rollback", rollback, methods=["POST"]),
        Route(f"{base}/rollout", set_rollout, methods=["POST"]),
        Route(f"{base}/rollout", rollout, methods=["GET"]),
        Route(f"{base}/rollout/pause", pause_rollout, methods=["POST"]),
        Route(f"{base}/rollout/resume", resume_rollout, methods=["POST"]),
        Route(f"{base}/schedule", schedule_change, methods=["POST"]),
        Route(f"{base}/schedule", cancel_schedule, methods=["DELETE"]),
        Route(f"{base}/promote", promote, methods=["POST"]),
        Route(f"{base}/abort", abort, methods=["POST"]),
        Route("/v1/admin/preview/{page}", preview_live, methods=["GET"]),
        Route("/v1/admin/preview/{page}", preview_draft, methods=["POST"]),
        Route("/v1/admin/segments", put_segments, methods=["PUT"]),
        Route("/v1/admin/experiments/{page}", experiment, methods=["GET"]),
        Route("/v1/admin/telemetry/{page}", telemetry, methods=["GET"]),
    ]

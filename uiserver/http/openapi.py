"""The OpenAPI 3.1 document of every route, generated from the same Structs the code decodes.

Operations are a table (method, path, summary, request body, responses), so adding a route means
adding a row; schemas come from `msgspec.json.schema_components`, never written twice. The
errors every operation of a kind can answer are added by rule, not by row (`_edge_errors`): a
bearer-token route documents 401, an admin route 403, a route with a body 400 and 413.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import msgspec

from uiserver import __version__
from uiserver.admin.contrast import ContrastRequest, Readout
from uiserver.admin.drafts import DraftBody, DraftSummary
from uiserver.admin.preview import PersonaSpec
from uiserver.engine.guardrails import ACTIONS, METRICS
from uiserver.engine.personas import PERSONAS
from uiserver.engine.readout import ExperimentReadout
from uiserver.schema import (
    ComponentType,
    ErrorBody,
    EventBatch,
    Layout,
    Problem,
    Settings,
    Template,
)
from uiserver.serving.context import openapi_parameters
from uiserver.store.base import AuditPage
from uiserver.users.settings import MERGE_PATCH, SETTINGS_FIELDS, SettingsDocument

STRUCTS = (
    Layout,
    Settings,
    SettingsDocument,
    EventBatch,
    ErrorBody,
    Template,
    Problem,
    PersonaSpec,
    DraftSummary,
    DraftBody,
    ContrastRequest,
    Readout,
    ComponentType,
    ExperimentReadout,
    AuditPage,
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


_STR = {"type": "string"}
_TEMPLATE_BODY = _obj(template=_ref("Template"), message=_STR)
_PROBLEMS = _obj(ok={"type": "boolean"}, problems={"type": "array", "items": _ref("Problem")})
_ANY = {"type": "object", "additionalProperties": True}
_INT = {"type": "integer"}
_ROLLOUT = {
    "oneOf": [
        _obj(
            version=_STR,
            previous=_STR,
            percent=_INT,
            author=_STR,
            started={"type": "number"},
            updated={"type": "number"},
        ),
        {"type": "null"},
    ]
}
_HISTORY = _obj(
    page=_STR,
    rollout=_ROLLOUT,
    archived=_ANY,
    schedules={"type": "array", "items": _ANY},
    versions={
        "type": "array",
        "items": _obj(
            version=_STR,
            seq=_INT,
            author=_STR,
            message=_STR,
            created={"type": "number"},
            live={"type": "boolean"},
            share=_INT,
        ),
    },
)
# A 409: the error, and what the caller needs to resolve it.
_CONFLICT = _obj(
    error=_ANY, live_version=_STR, changes={"type": "array", "items": _ANY}, rollout=_ROLLOUT
)
_PUBLISHED = _obj(version=_STR, page=_STR, seq=_INT, rollout=_ROLLOUT)
_ROLLOUT_STATE = _obj(page=_STR, live_version=_STR, rollout=_ROLLOUT)
_STEP = _obj(
    percent={"type": "integer", "minimum": 1, "maximum": 100},
    min_minutes={"type": "number", "minimum": 0},
    min_exposed={"type": "integer", "minimum": 0},
)
_GUARDRAIL = _obj(
    metric={"enum": list(METRICS)},
    action={"enum": list(ACTIONS)},
    alpha={"type": "number"},
    tolerance={"type": "number"},
    threshold={"type": "number"},
    max_quiet_minutes={"type": "number"},
)
_SCHEDULE = _obj(
    steps={"type": "array", "items": _STEP, "maxItems": 20},
    start={"type": "number", "description": "Unix seconds"},
    guardrails={"type": "array", "items": _GUARDRAIL},
)
_SCHEDULE_ANSWER = _obj(page=_STR, schedule=_ANY)
_ROLLOUT_VIEW = _obj(
    page=_STR,
    live_version=_STR,
    rollout=_ROLLOUT,
    schedule=_ANY,
    guardrails={"type": "array", "items": _ANY},
    exposed={"type": "array", "items": _INT},
    defaults=_ANY,
)
_PRECONDITION = {
    "base_version": _STR,
    "rollout": {"type": "integer", "minimum": 1, "maximum": 100},
    "rollout_conflict": {"enum": ["refuse", "abort", "promote"]},
}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "schema": _STR,
    "description": 'the live version the edit is based on ("<version>"), or * to force',
}


class Content(dict[str, Any]):
    """A response with several media types: media type -> schema."""


_PREVIEW = Content({"application/json": _ref("Layout"), "text/html": _STR})

_CONTEXT_PARAMS = [
    *openapi_parameters(),  # from schema.Context, as the query is parsed
    {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}},
]
_PAGE = {"name": "page", "in": "path", "required": True, "schema": {"type": "string"}}
_INSTANT = {"description": "Unix seconds or ISO 8601 (UTC without a zone)", "schema": _STR}
_WEBHOOK = _obj(
    id=_STR,
    url=_STR,
    format=_STR,
    acts={"type": "array", "items": _STR},
    pages={"type": "array", "items": _STR},
    created={"type": "number"},
    author=_STR,
    cursor={"type": "integer"},
    pending={"type": "integer"},
    delivered={"type": "integer"},
    attempts={"type": "integer"},
    next_attempt={"type": ["number", "null"]},
    last_error={"type": ["string", "null"]},
    secret=_STR,
)
_AUDIT_PARAMS = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
    {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    *({"name": name, "in": "query", "schema": _STR} for name in ("page", "act", "actor")),
    {"name": "since", "in": "query", **_INSTANT},
    {"name": "until", "in": "query", **_INSTANT},
]
_PERSONA = {"name": "persona", "in": "query", "schema": {"enum": list(PERSONAS)}}
_FORMAT = {"name": "format", "in": "query", "schema": {"enum": ["json", "html"]}}
_EXPERIMENT = {
    "name": "experiment",
    "in": "query",
    "description": "a past experiment of the page (replaced by another or by none): its "
    "readout, marked `ended`; 404 when the page never ran it",
    "schema": _STR,
}
_MARKS = {
    "name": "marks",
    "in": "query",
    "description": (
        "format=html only: 1 badges what personalization moved, hid or showed against the "
        "persona's base layout"
    ),
    "schema": {"enum": ["0", "1"]},
}
# The custom persona of a preview (`admin.preview`): each setting by name, synthetic events,
# segments and a forced variant, on top of `persona`; and the launch context.
_CUSTOM = [
    *({"name": name, "in": "query", "schema": _STR} for name in SETTINGS_FIELDS),
    {
        "name": "events",
        "in": "query",
        "description": "comma-separated target[:kind[:count]], e.g. coupons:click:12",
        "schema": _STR,
    },
    {"name": "segments", "in": "query", "description": "comma-separated", "schema": _STR},
    {
        "name": "variant",
        "in": "query",
        "description": "an A/B variant's name, or base",
        "schema": _STR,
    },
    *openapi_parameters(),
]
_NUM = {"type": "number"}
_RATE = {"type": ["number", "null"], "description": "per impression; null before the first"}
_COUNTS = _obj(
    version=_STR,
    component=_STR,
    mode={"enum": ["standard", "elderly", "unknown", "*"]},
    impressions=_INT,
    clicks=_INT,
    render_errors=_INT,
    tap_rate=_RATE,
    error_rate=_RATE,
)
_TELEMETRY = _obj(
    page=_STR,
    version={"type": ["string", "null"]},
    live_versions={"type": "array", "items": _STR},
    rows={"type": "array", "items": _COUNTS},
    components={"type": "object", "additionalProperties": _COUNTS},
    render_errors={"type": "object", "additionalProperties": _INT},
)
_VERSION = {
    "name": "version",
    "in": "query",
    "description": "one template version's counters; 404 when the page never had it",
    "schema": {**_STR, "maxLength": 64},
}
_SWITCH = _obj(
    type=_STR,
    since=_STR,
    until={"type": ["string", "null"]},
    reason=_STR,
    author=_STR,
    created=_NUM,
)
_TYPE = {"name": "type", "in": "path", "required": True, "schema": _STR}
_REVOCATION = _obj(
    kind={"enum": ["subject", "jti"]},
    subject=_STR,
    jti=_STR,
    not_before={**_NUM, "description": "Unix seconds: tokens issued before it are refused"},
    expires={**_NUM, "description": "Unix seconds: when no token it refuses can be valid"},
    author=_STR,
)
_PREVIEW_BODY = _obj(template=_ref("Template"), persona=_ref("PersonaSpec"))
_DRAFT_BODY = _obj(text=_STR, base_version=_STR)

# (method, path, summary, request schema, {status: response schema or None}, parameters)
OPERATIONS: list[tuple[str, str, str, Any, dict[int, Any], list[Any]]] = [
    (
        "get",
        "/v1/layouts/{page}",
        "The page's layout for the caller and launch context",
        None,
        {
            200: _ref("Layout"),
            304: None,
            400: _ref("ErrorBody"),
            401: _ref("ErrorBody"),
            404: _ref("ErrorBody"),
            406: _ref("ErrorBody"),
        },
        [
            _PAGE,
            *_CONTEXT_PARAMS,
            {"name": "Accept-Encoding", "in": "header", "schema": {"type": "string"}},
        ],
    ),
    (
        "get",
        "/v1/me/settings",
        "The caller's settings (defaults for a new user)",
        None,
        {200: _ref("Settings"), 401: _ref("ErrorBody")},
        [],
    ),
    (
        "put",
        "/v1/me/settings",
        "Replace the caller's settings: the whole object (a missing field is a 422 naming it)",
        _ref("SettingsDocument"),
        {
            200: _ref("Settings"),
            400: _ref("ErrorBody"),
            401: _ref("ErrorBody"),
            409: _ref("ErrorBody"),
            413: _ref("ErrorBody"),
            422: _ref("ErrorBody"),
            503: _ref("ErrorBody"),
        },
        [],
    ),
    (
        "patch",
        "/v1/me/settings",
        "Merge a JSON Merge Patch (RFC 7396) into the caller's settings (null resets a field to "
        "its default); returns the whole stored object",
        _obj(**{name: {} for name in SETTINGS_FIELDS}),  # filled in by _settings_patch()
        {
            200: _ref("Settings"),
            400: _ref("ErrorBody"),
            401: _ref("ErrorBody"),
            409: _ref("ErrorBody"),
            413: _ref("ErrorBody"),
            415: _ref("ErrorBody"),
            422: _ref("ErrorBody"),
            503: _ref("ErrorBody"),
        },
        [],
    ),
    (
        "post",
        "/v1/me/events",
        "Report a batch of behaviour events (at most 500); an event's `id` is stored once "
        "per user for 7 days (at most the last 1,000), so a resent batch counts once",
        _ref("EventBatch"),
        {
            202: _obj(
                accepted={"type": "integer"},
                stored={"type": "integer"},
                ignored={"type": "integer"},
                ignored_reasons={
                    "type": "object",
                    "additionalProperties": {"type": "integer"},
                    "description": "unknown_page, unknown_component, unknown_version (an "
                    "impression or render error naming a version that is not live), "
                    "not_interactive, personalization_off, erased, duplicate (an event "
                    "whose `id` the server stored within the last 7 days: a resent batch), "
                    "too_old (a `ts` more than 7 days before the server's clock)",
                },
            ),
            400: _ref("ErrorBody"),
            401: _ref("ErrorBody"),
            413: _ref("ErrorBody"),
            422: _ref("ErrorBody"),
            503: _ref("ErrorBody"),
        },
        [],
    ),
    (
        "get",
        "/v1/me/data",
        "Export everything stored about the caller",
        None,
        {200: _obj(user=_STR, data=_ANY), 401: _ref("ErrorBody")},
        [],
    ),
    (
        "delete",
        "/v1/me",
        "Erase everything stored about the caller",
        None,
        {200: _obj(erased={"type": "boolean"}), 401: _ref("ErrorBody"), 503: _ref("ErrorBody")},
        [],
    ),
    (
        "get",
        "/v1/admin/templates",
        "Every page with its live version and lint status",
        None,
        {
            200: {"type": "array", "items": _obj(page=_STR, live_version=_STR, lint=_STR)},
            401: _ref("ErrorBody"),
            403: _ref("ErrorBody"),
        },
        [],
    ),
    (
        "get",
        "/v1/admin/templates/{page}",
        "A page's live template (ETag: its version) and rollout",
        None,
        {
            200: _obj(page=_STR, live_version=_STR, template=_ref("Template"), rollout=_ROLLOUT),
            404: _ref("ErrorBody"),
        },
        [_PAGE],
    ),
    (
        "delete",
        "/v1/admin/templates/{page}",
        "Archive a page (404 to clients; history kept)",
        None,
        {200: _obj(page=_STR, archived=_ANY), 404: _ref("ErrorBody")},
        [_PAGE],
    ),
    (
        "post",
        "/v1/admin/templates/{page}/validate",
        "Schema and accessibility lint of a draft",
        _obj(template=_ANY),
        {200: _PROBLEMS, 400: _ref("ErrorBody")},
        [_PAGE],
    ),
    (
        "post",
        "/v1/admin/templates/{page}/publish",
        "Publish a new version (refused if lint fails; staged with rollout or a schedule)",
        _obj(template=_ref("Template"), message=_STR, schedule=_SCHEDULE, **_PRECONDITION),
        {
            201: _PUBLISHED,
            202: _SCHEDULE_ANSWER,
            409: _CONFLICT,
            422: _PROBLEMS,
            400: _ref("ErrorBody"),
        },
        [_PAGE, _IF_MATCH],
    ),
    (
        "get",
        "/v1/admin/templates/{page}/history",
        "Every version with author, time, message",
        None,
        {200: _HISTORY, 404: _ref("ErrorBody")},
        [_PAGE],
    ),
    (
        "get",
        "/v1/admin/templates/{page}/diff",
        "Diff between two versions",
        None,
        {200: _ANY, 404: _ref("ErrorBody")},
        [
            _PAGE,
            {"name": "from", "in": "query", "required": True, "schema": _STR},
            {"name": "to", "in": "query", "required": True, "schema": _STR},
        ],
    ),
    (
        "post",
        "/v1/admin/templates/{page}/rollback",
        "Publish an earlier version anew",
        _obj(version=_STR, **_PRECONDITION),
        {
            201: _PUBLISHED,
            400: _ref("ErrorBody"),
            404: _ref("ErrorBody"),
            409: _CONFLICT,
            422: _PROBLEMS,
        },
        [_PAGE, _IF_MATCH],
    ),
    (
        "post",
        "/v1/admin/templates/{page}/rollout",
        "Widen or narrow the running rollout",
        _obj(percent={"type": "integer", "minimum": 1, "maximum": 100}),
        {200: _ROLLOUT_STATE, 409: _CONFLICT, 422: _ref("ErrorBody")},
        [_PAGE],
    ),
    (
        "post",
        "/v1/admin/templates/{page}/promote",
        "End the running rollout at 100%",
        None,
        {200: _ROLLOUT_STATE, 409: _CONFLICT},
        [_PAGE],
    ),
    (
        "post",
        "/v1/admin/templates/{page}/abort",
        "End the running rollout: everyone back to the previous version",
        None,
        {200: _ROLLOUT_STATE, 409: _CONFLICT},
        [_PAGE],
    ),
    (
        "get",
        "/v1/admin/templates/{page}/rollout",
        "The rollout, its schedule (steps, current step, timeline) and guardrail figures",
        None,
        {200: _ROLLOUT_VIEW, 404: _ref("ErrorBody")},
        [_PAGE],
    ),
    (
        "post",
        "/v1/admin/templates/{page}/rollout/pause",
        "Stop the page's schedule advancing",
        None,
        {200: _SCHEDULE_ANSWER, 409: _ref("ErrorBody")},
        [_PAGE],
    ),
    (
        "post",
        "/v1/admin/templates/{page}/rollout/resume",
        "Resume a paused schedule",
        None,
        {200: _SCHEDULE_ANSWER, 409: _ref("ErrorBody")},
        [_PAGE],
    ),
    (
        "post",
        "/v1/admin/templates/{page}/schedule",
        "Schedule a change: publish a template or version at a time, revert it later",
        _obj(
            template=_ref("Template"),
            version=_STR,
            at={"type": "number"},
            revert_at={"type": "number"},
            message=_STR,
        ),
        {201: _SCHEDULE_ANSWER, 409: _ref("ErrorBody"), 422: _ref("ErrorBody")},
        [_PAGE],
    ),
    (
        "delete",
        "/v1/admin/templates/{page}/schedule",
        "Cancel the page's active schedule (a rollout stays where it is)",
        None,
        {200: _SCHEDULE_ANSWER, 409: _ref("ErrorBody")},
        [_PAGE],
    ),
    (
        "get",
        "/v1/admin/preview/{page}",
        "The page as a persona gets it",
        None,
        {200: _PREVIEW, 400: _ref("ErrorBody"), 404: _ref("ErrorBody"), 422: _ref("ErrorBody")},
        [_PAGE, _PERSONA, _FORMAT, _MARKS, *_CUSTOM],
    ),
    (
        "post",
        "/v1/admin/preview/{page}",
        "Preview a draft as a persona gets it",
        _PREVIEW_BODY,
        {200: _PREVIEW, 400: _ref("ErrorBody"), 422: _PROBLEMS},
        [_PAGE, _PERSONA, _FORMAT, _MARKS, *_CUSTOM],
    ),
    (
        "get",
        "/v1/admin/drafts",
        "The caller's drafts (autosaved, unpublished), by page",
        None,
        {200: _obj(drafts={"type": "array", "items": _ref("DraftSummary")})},
        [],
    ),
    (
        "get",
        "/v1/admin/drafts/{page}",
        "The caller's draft of a page",
        None,
        {200: _ref("DraftBody"), 404: _ref("ErrorBody")},
        [_PAGE],
    ),
    (
        "put",
        "/v1/admin/drafts/{page}",
        "Save (autosave) the caller's draft of a page",
        _DRAFT_BODY,
        {
            200: _obj(page=_STR, base_version=_STR, updated={"type": "number"}),
            404: _ref("ErrorBody"),
            413: _ref("ErrorBody"),
            422: _ref("ErrorBody"),
        },
        [_PAGE],
    ),
    (
        "delete",
        "/v1/admin/drafts/{page}",
        "Discard the caller's draft of a page",
        None,
        {200: _obj(discarded={"type": "boolean"})},
        [_PAGE],
    ),
    (
        "post",
        "/v1/admin/contrast",
        "Contrast ratios against their WCAG floors",
        _ref("ContrastRequest"),
        {200: _obj(pairs={"type": "array", "items": _ref("Readout")}), 422: _ref("ErrorBody")},
        [],
    ),
    (
        "get",
        "/v1/admin/catalog",
        "Every component type the templates may use",
        None,
        {200: _obj(types={"type": "array", "items": _ref("ComponentType")})},
        [],
    ),
    (
        "post",
        "/v1/admin/preview-tokens/{page}",
        "A signed preview token (10 minutes) for the caller's saved draft of the page as a "
        "persona, the preview URL a phone opens and its QR code (SVG)",
        _obj(persona={"enum": list(PERSONAS)}),
        {
            201: _obj(token=_STR, url=_STR, expires=_INT, persona=_STR, qr_svg=_STR),
            404: _ref("ErrorBody"),
            422: _ref("ErrorBody"),
            503: _ref("ErrorBody"),
        },
        [_PAGE],
    ),
    (
        "get",
        "/v1/preview/layouts/{page}",
        "The layout of a designer's saved draft (else the live version) as the token's "
        "persona: the token is the credential (no bearer token); never cached (no-store)",
        None,
        {
            200: _ref("Layout"),
            401: _ref("ErrorBody"),
            404: _ref("ErrorBody"),
            422: _ref("ErrorBody"),
            503: _ref("ErrorBody"),
        },
        [_PAGE, {"name": "preview_token", "in": "query", "required": True, "schema": _STR}],
    ),
    (
        "put",
        "/v1/admin/segments",
        "Bulk import of user segments (JSON array or JSON lines)",
        {"type": "array", "items": _obj(user=_STR, segments={"type": "array", "items": _STR})},
        {
            200: _obj(users={"type": "integer"}),
            400: _ref("ErrorBody"),
            413: _ref("ErrorBody"),
            422: _ref("ErrorBody"),
        },
        [],
    ),
    (
        "get",
        "/v1/admin/experiments/{page}",
        "The page's experiment readout: per variant exposed users, conversions, rate with a 95% "
        "interval, difference to control with p-value and chance to beat control; SRM check",
        None,
        {
            200: _ref("ExperimentReadout"),
            401: _ref("ErrorBody"),
            403: _ref("ErrorBody"),
            404: _ref("ErrorBody"),
        },
        [_PAGE, _EXPERIMENT],
    ),
    (
        "post",
        "/v1/capabilities",
        "Register what a client can draw (any caller; an anonymous one's new lists are "
        "rate-limited per process, 429 with Retry-After): its renderer version and type "
        "list; answers the X-UI-Capabilities value to send (`r=MAJOR.MINOR.PATCH;t=<hash>`)",
        _obj(renderer=_STR, types={"type": "array", "items": _STR, "maxItems": 512}),
        {
            201: _obj(
                capability=_STR,
                drawable={"type": "array", "items": _STR},
                unknown={"type": "array", "items": _STR},
            ),
            401: _ref("ErrorBody"),
            409: _ref("ErrorBody"),
            422: _ref("ErrorBody"),
            429: _ref("ErrorBody"),
        },
        [],
    ),
    (
        "get",
        "/v1/admin/kill-switches",
        "The kill switches in force (role admin)",
        None,
        {200: _obj(kill_switches={"type": "array", "items": _SWITCH})},
        [],
    ),
    (
        "put",
        "/v1/admin/kill-switches/{type}",
        "Switch a component type off for renderer versions `since` through `until` (role "
        "admin): those clients get its fallback on every replica at once",
        _obj(since=_STR, until={"type": ["string", "null"]}, reason=_STR),
        {200: _SWITCH, 403: _ref("ErrorBody"), 404: _ref("ErrorBody"), 422: _ref("ErrorBody")},
        [_TYPE],
    ),
    (
        "delete",
        "/v1/admin/kill-switches/{type}",
        "Lift a type's kill switch (role admin)",
        None,
        {200: _obj(type=_STR, deleted={"type": "boolean"}), 404: _ref("ErrorBody")},
        [_TYPE],
    ),
    (
        "get",
        "/v1/admin/assessment/{page}",
        "The page's ageing-friendly (MIIT APP 2021) and WCAG 2.2 assessment (issue 24): per "
        "persona (default, elderly, low_vision, screen_reader) and theme (standard, dark) every "
        "server-judged item with result (pass, fail, n/a), measured figure, clause and failing "
        "components; a score out of 100 (60 to pass); the items checked by people with their "
        "recorded results. format=md or html: the report as Markdown or an HTML fragment",
        None,
        {
            200: _ANY,
            401: _ref("ErrorBody"),
            403: _ref("ErrorBody"),
            404: _ref("ErrorBody"),
            422: _ref("ErrorBody"),
        },
        [
            _PAGE,
            {"name": "format", "in": "query", "schema": {"enum": ["json", "md", "html"]}},
        ],
    ),
    (
        "put",
        "/v1/admin/assessment/{page}/manual/{item}",
        "Record a person's result for an item the server cannot judge (captcha, gestures, "
        "timing, voice_input, screen_reader, mode_entry); kept in the audit log "
        "(assessment.record); the page's report comes back",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["result"],
            "properties": {
                "result": {"enum": ["pass", "fail", "unchecked"]},
                "note": {**_STR, "maxLength": 500},
            },
        },
        {200: _ANY, 404: _ref("ErrorBody"), 422: _ref("ErrorBody")},
        [_PAGE, {"name": "item", "in": "path", "required": True, "schema": _STR}],
    ),
    (
        "get",
        "/v1/admin/telemetry/{page}",
        "What renderers measured on the page (counters, no user id): impressions, taps and "
        "render errors per (template version, component, mode), summed per component (the "
        "console's heatmap), and render errors per template version (a rollout's arms)",
        None,
        {
            200: _TELEMETRY,
            401: _ref("ErrorBody"),
            403: _ref("ErrorBody"),
            404: _ref("ErrorBody"),
            422: _ref("ErrorBody"),
        },
        [_PAGE, _VERSION],
    ),
    (
        "post",
        "/v1/admin/revocations",
        "Revoke tokens (role admin): every token of a subject issued until now, or one token by "
        "its jti. Every replica answers 401 token_revoked to them from its next request on",
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {"subject": _STR, "jti": {**_STR, "maxLength": 256}},
            "description": "exactly one of subject or jti",
        },
        {201: _REVOCATION, 422: _ref("ErrorBody"), 503: _ref("ErrorBody")},
        [],
    ),
    (
        "get",
        "/v1/admin/revocations",
        "The revocations in force (role admin)",
        None,
        {200: _obj(revocations={"type": "array", "items": _REVOCATION})},
        [],
    ),
    (
        "get",
        "/v1/admin/audit",
        "The audit log of administrative acts, newest first (role designer or admin); "
        "`next` is the `before` of the following page",
        None,
        {200: _ref("AuditPage"), 400: _ref("ErrorBody"), 503: _ref("ErrorBody")},
        _AUDIT_PARAMS,
    ),
    (
        "post",
        "/v1/admin/webhooks",
        "Register a webhook (role admin): every audit entry from now on is POSTed to `url`, in "
        "order, at least once; `format` json (signed), wecom, feishu or dingtalk. The answer "
        "shows the secret this once",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["url"],
            "properties": {
                "url": {**_STR, "maxLength": 2048},
                "format": {"enum": ["json", "wecom", "feishu", "dingtalk"]},
                "secret": {**_STR, "minLength": 16, "maxLength": 200},
                "acts": {"type": "array", "items": _STR, "maxItems": 50},
                "pages": {"type": "array", "items": _STR, "maxItems": 50},
            },
        },
        {201: _WEBHOOK, 422: _ref("ErrorBody"), 503: _ref("ErrorBody")},
        [],
    ),
    (
        "get",
        "/v1/admin/webhooks",
        "The webhooks with their delivery state (role admin; never their secrets)",
        None,
        {200: _obj(webhooks={"type": "array", "items": _WEBHOOK})},
        [],
    ),
    (
        "delete",
        "/v1/admin/webhooks/{id}",
        "Remove a webhook (role admin)",
        None,
        {200: _obj(id=_STR, deleted={"type": "boolean"}), 404: _ref("ErrorBody")},
        [{"name": "id", "in": "path", "required": True, "schema": _STR}],
    ),
    ("get", "/healthz", "Liveness", None, {200: _obj(status=_STR)}, []),
    (
        "get",
        "/readyz",
        "Readiness: store reachable, templates loaded",
        None,
        {200: _ANY, 503: _ANY},
        [],
    ),
    ("get", "/metrics", "Prometheus metrics", None, {200: {"type": "string"}}, []),
    ("get", "/openapi.json", "This document", None, {200: _ANY}, []),
]


def _edge_errors(path: str, request: Any) -> dict[int, Any]:
    """The errors the HTTP edge answers before a handler's own: a bad token (401) on every
    route that reads one, a token without the role (403) on admin routes, a malformed or
    over-limit body (400, 413) wherever there is a body."""
    error = _ref("ErrorBody")
    out: dict[int, Any] = {}
    if path.startswith(("/v1/me", "/v1/admin", "/v1/layouts")):
        out[401] = error
    if path.startswith("/v1/admin"):
        out[403] = error
    if request is not None:
        out.update({400: error, 413: error})
    return out


def _responses(responses: dict[int, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, schema in sorted(responses.items()):
        entry: dict[str, Any] = {"description": str(status)}
        if isinstance(schema, Content):
            entry["content"] = {media: {"schema": item} for media, item in schema.items()}
        elif schema is not None:
            media = "text/plain" if schema == {"type": "string"} else "application/json"
            entry["content"] = {media: {"schema": schema}}
        out[str(status)] = entry
    return out


def _settings_patch(components: dict[str, Any]) -> dict[str, Any]:
    """The merge patch of the settings: any subset of their fields, each a value or null."""
    properties = components["Settings"]["properties"]
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            name: {"anyOf": [properties[name], {"type": "null"}]} for name in SETTINGS_FIELDS
        },
    }


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(
        STRUCTS, ref_template="#/components/schemas/{name}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, request, responses, params in OPERATIONS:
        documented = {**_edge_errors(path, request), **responses}
        operation: dict[str, Any] = {"summary": summary, "responses": _responses(documented)}
        if params:
            operation["parameters"] = params
        if request is not None:
            media_types = (
                [MERGE_PATCH, "application/json"] if method == "patch" else ["application/json"]
            )
            if method == "patch":
                request = _settings_patch(components)
            operation["requestBody"] = {
                "required": True,
                "content": {media: {"schema": request} for media in media_types},
            }
        if path.startswith(("/v1/me", "/v1/admin")):
            operation["security"] = [{"bearer": []}]
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "uiserver", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }

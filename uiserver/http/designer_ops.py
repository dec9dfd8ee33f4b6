"""What the admin API and the designer console both do, in one place.

Each function takes the Service and plain values and returns plain values (or raises ApiError
with the contract's code), so the JSON routes and the HTML pages cannot drift apart: the console
shows exactly what the API answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from uiserver.catalog import template_version
from uiserver.http.errors import ApiError, validation_field
from uiserver.schema import Context, Layout, Problem, Template
from uiserver.service import Service, UnknownPage
from uiserver.store.base import TemplateRecord
from uiserver.templatediff import diff_documents

# The personas the console shows side by side, in this order, with what each stands for.
PERSONA_TITLES: Mapping[str, str] = {
    "default": "Default",
    "elderly": "Elderly (60+)",
    "low_vision": "Low vision: left-handed, font scale 2.0, high contrast",
    "screen_reader": "Screen reader",
    "off": "Personalization off",
    "churn_risk": "Churn risk",
}
SEGMENT_NAME_MAX = 64
SEGMENTS_PER_USER_MAX = 100
USER_ID_MAX = 128
JSON_LINES_TYPES = frozenset({
    "application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines",
})


def personas() -> Mapping[str, Any]:
    """The engine's persona profiles (imported late: the engine is optional for the console)."""
    from uiserver.engine.personas import PERSONAS

    return PERSONAS


def persona_names() -> list[str]:
    known = personas()
    return [name for name in PERSONA_TITLES if name in known] + sorted(
        name for name in known if name not in PERSONA_TITLES
    )


# --------------------------------------------------------------------------- templates


def problems_json(problems: list[Problem]) -> list[dict[str, str]]:
    return [{"field": p.field, "message": p.message} for p in problems]


async def summaries(service: Service) -> list[dict[str, Any]]:
    """Every live page with its lint status (rules may have tightened since it was published)."""
    await service.sync()
    rows = []
    for page, live in sorted(service.pages.items()):
        problems = service.lint(live.template)
        rows.append({
            "page": page,
            "title": live.template.title,
            "live_version": live.record.version,
            "lint": "failing" if problems else "ok",
            "problems": len(problems),
            "published_by": live.record.author,
            "published_at": live.record.created,
            "message": live.record.message,
            "variants": len(live.template.variants),
        })
    return rows


async def live_page(service: Service, page: str) -> Any:
    await service.sync()
    try:
        return service.page(page)
    except UnknownPage:
        raise ApiError(404, "not_found", f"no page {page!r}", "page") from None


def document(record: TemplateRecord) -> dict[str, Any]:
    """A stored version as the JSON document the API returns and the editor shows."""
    return msgspec.json.decode(record.document)  # type: ignore[no-any-return]


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


def check_draft(
    service: Service, page: str, data: Any
) -> tuple[Template | None, list[Problem]]:
    """Schema and accessibility lint of a draft, plus: it must be a template of this page."""
    if not isinstance(data, Mapping):
        return None, [Problem("template", "must be a JSON object (the template document)")]
    template, problems = service.decode_template(data)
    if template is not None and template.page != page:
        problems.insert(0, Problem("page", f"template is for page {template.page!r}, not {page!r}"))
    return template, problems


def template_field(body: Any) -> Any:
    """The `template` member of a request body (400 when it is missing)."""
    if not isinstance(body, Mapping) or "template" not in body:
        raise ApiError(400, "bad_request", "the body must be {\"template\": {...}}", "template")
    return body["template"]


# --------------------------------------------------------------------------- history and diff


async def history(service: Service, page: str) -> list[dict[str, Any]]:
    """Versions newest first; only the newest entry is live (a rollback repeats a version)."""
    records = await service.history(page)
    if not records:
        raise ApiError(404, "not_found", f"no page {page!r}", "page")
    return [
        {
            "version": r.version,
            "seq": r.seq,
            "author": r.author,
            "message": r.message,
            "created": r.created,
            "live": i == 0,
        }
        for i, r in enumerate(records)
    ]


async def version_record(service: Service, page: str, version: str, field: str) -> TemplateRecord:
    if not version:
        raise ApiError(400, "bad_request", f"{field} is required", field)
    record = await service.version(page, version)
    if record is None:
        raise ApiError(404, "not_found", f"page {page!r} has no version {version!r}", field)
    return record


async def diff(service: Service, page: str, old: str, new: str) -> dict[str, Any]:
    before = await version_record(service, page, old, "from")
    after = await version_record(service, page, new, "to")
    result = diff_documents(before.document, after.document, f"{page}@{old}", f"{page}@{new}")
    return {"page": page, "from": old, "to": new, **result}


# --------------------------------------------------------------------------- preview


def preview(
    service: Service, template: Template, persona: str, context: Context | None = None,
    version: str | None = None, *, personalization: float | None = None,
) -> Layout:
    """The page as `persona` gets it, from a live template or a draft; `personalization`
    overrides the persona's strength (0.0: that persona's base layout)."""
    profiles = personas()
    if persona not in profiles:
        raise ApiError(
            422, "invalid", f"unknown persona {persona!r}; one of {', '.join(persona_names())}",
            "persona",
        )
    profile = profiles[persona]
    if personalization is not None:
        settings = msgspec.structs.replace(profile.settings, personalization=personalization)
        profile = msgspec.structs.replace(profile, settings=settings)
    from uiserver.engine.check import LayoutRuleError
    from uiserver.engine.compiled import CompileError

    try:
        layout: Layout = service.preview(
            template, version or template_version(template), profile,
            context or Context(),
        )
    except (LayoutRuleError, CompileError) as exc:
        # Lint passed but the engine cannot build a layout that keeps every rule for this
        # persona: the designer needs to see why, not a 500.
        raise ApiError(422, "layout_rule", f"{persona}: {exc}", "template") from None
    return layout


def variant_shares(template: Template) -> list[dict[str, Any]]:
    """Each A/B variant and the share of users it gets (weights normalised to 1)."""
    total = sum(v.weight for v in template.variants)
    return [
        {
            "name": v.name,
            "weight": v.weight,
            "share": (v.weight / total) if total else 0.0,
            "order": v.order,
            "theme": v.theme is not None,
            "props": sorted(v.props),
            "changes": (["component order"] if v.order else [])
            + (["theme"] if v.theme is not None else [])
            + [f"props of {cid}" for cid in sorted(v.props)],
        }
        for v in template.variants
    ]


# --------------------------------------------------------------------------- segments


class Assignment(msgspec.Struct, forbid_unknown_fields=True):
    """One line of a segment import: the user's segments, replacing what they had."""

    user: str
    segments: list[str]


_one = msgspec.json.Decoder(Assignment)
_NAMED_FIELD = re.compile(r"^Object (?:contains unknown|missing required) field `([^`]+)`")
_many = msgspec.json.Decoder(list[Assignment])


def _invalid(exc: msgspec.ValidationError, where: str) -> ApiError:
    """422 naming the exact field, including an unknown or missing one (msgspec names its
    parent object); `where` is the line or array index of the item."""
    message, field = validation_field(exc)
    named = _NAMED_FIELD.match(message)
    if named:
        field = f"{field}.{named.group(1)}" if field else named.group(1)
    if where:
        field = f"{where}.{field}" if field else where
    return ApiError(422, "invalid", f"{field}: {message}" if field else message, field)


def _check(item: Assignment, where: str) -> None:
    if not item.user.strip() or len(item.user) > USER_ID_MAX:
        raise ApiError(422, "invalid", f"{where}: user must be 1-{USER_ID_MAX} characters",
                       f"{where}.user")
    if len(item.segments) > SEGMENTS_PER_USER_MAX:
        raise ApiError(422, "invalid",
                       f"{where}: at most {SEGMENTS_PER_USER_MAX} segments per user",
                       f"{where}.segments")
    for i, name in enumerate(item.segments):
        if not name.strip() or len(name) > SEGMENT_NAME_MAX:
            raise ApiError(
                422, "invalid", f"{where}: a segment name is 1-{SEGMENT_NAME_MAX} characters",
                f"{where}.segments[{i}]",
            )


def _json_lines(body: bytes) -> list[Assignment]:
    items = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            item = _one.decode(line)
        except msgspec.ValidationError as exc:
            raise _invalid(exc, where) from None
        except msgspec.DecodeError as exc:
            raise ApiError(400, "bad_json", f"{where}: malformed JSON: {exc}", where) from None
        _check(item, where)
        items.append(item)
    return items


def _json_array(body: bytes) -> list[Assignment]:
    try:
        items = _many.decode(body)
    except msgspec.ValidationError as exc:
        raise _invalid(exc, "") from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, "bad_json", f"malformed JSON: {exc}") from None
    for i, item in enumerate(items):
        _check(item, f"[{i}]")
    return items


def parse_segments(body: bytes, content_type: str = "") -> list[tuple[str, list[str]]]:
    """A JSON array or JSON lines (by Content-Type, else by the first character), all checked.

    Every item is validated before anything is returned, so a bad line stores nothing.
    """
    if not body.strip():
        raise ApiError(400, "bad_json", "a body is required: a JSON array or JSON lines")
    kind = content_type.split(";")[0].strip().lower()
    lines = kind in JSON_LINES_TYPES or not body.lstrip().startswith(b"[")
    items = _json_lines(body) if lines else _json_array(body)
    return [(item.user, item.segments) for item in items]

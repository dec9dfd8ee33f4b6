"""The visual designer's parts of the console pages: the editor's data for its scripts (the
catalogue palette, placements, personas, the designer's draft), marked persona panels with a
custom persona built from the query (a shareable URL, `admin.preview`), and side-by-side phones
for two versions of a template.

Every panel is the same H5 rendering as `GET /v1/admin/preview/{page}?format=html&marks=1`, in a
srcdoc frame, so the console shows exactly what the API answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args
from urllib.parse import urlencode

import msgspec
from starlette.requests import Request

from uiserver import admin
from uiserver.admin import drafts
from uiserver.admin.preview import PersonaSpec, SpecError, evidence_note, spec_from_query
from uiserver.engine.telemetry import ComponentCounts
from uiserver.http.console.auth import ConsoleError, Session
from uiserver.http.deps import service_of
from uiserver.http.preview.h5 import frame_for, render_h5
from uiserver.schema import Context, Settings, Template
from uiserver.serving.context import QueryError, parse_context
from uiserver.types import Placement
from uiserver.users.ids import shown
from uiserver.users.settings import SETTINGS_FIELDS

PLACEMENTS = list(get_args(Placement))
# Query parameters of the persona builder: the custom persona and the launch context.
BUILDER_FIELDS = (
    "persona",
    *SETTINGS_FIELDS,
    "events",
    "segments",
    "variant",
    "device",
    "width",
    "dark",
    "locale",
    "compare",
    "source",  # "live": the live version even when the designer has a draft
)


def catalogue(request: Request) -> list[dict[str, Any]]:
    """Each component type for the palette and the properties panel, with its props schema
    when the catalogue has one (`ComponentType.props`, read generically)."""
    out = []
    for _, ctype in sorted(service_of(request).catalog.types.items()):
        entry = msgspec.to_builtins(ctype)
        entry.setdefault("props", {})
        out.append(entry)
    return out


def settings_choices() -> dict[str, Any]:
    """Each setting with its default and, for a literal, its choices (the builder's fields)."""
    schema = msgspec.json.schema(Settings)["$defs"]["Settings"]["properties"]
    return {name: schema[name] for name in SETTINGS_FIELDS}


async def draft_of(request: Request, current: Session, page: str) -> drafts.DraftBody | None:
    service = service_of(request)
    try:
        return await drafts.load(service.live, service.drafts, current.who.user_id, page)
    except admin.NotFound:
        return None


def editor_data(request: Request, page: str, version: str) -> dict[str, Any]:
    """What the editor's scripts read (embedded as a JSON data block, never as script)."""
    return {
        "page": page,
        "live_version": version,
        "catalog": catalogue(request),
        "placements": PLACEMENTS,
        "personas": [[n, admin.persona_title(n)] for n in admin.persona_names()],
        "api": f"{request.scope.get('root_path', '')}/designer/api/v1/admin",
    }


# --------------------------------------------------------------------------- persona panels


def _panel(
    request: Request,
    template: Template,
    version: str | None,
    spec: PersonaSpec,
    context: Context,
    title: str,
    key: str,
    heat: Mapping[str, ComponentCounts] | None = None,
) -> dict[str, Any]:
    service = service_of(request)
    try:
        layout = admin.preview_persona(service.publisher, template, spec, context, version)
        base = admin.preview_persona(
            service.publisher, template, spec, context, version, personalization=0.0
        )
    except admin.Invalid as exc:
        # The custom persona itself is malformed (`font_scale=banana`, an unknown persona,
        # variant or event target): the caller's error, the page's 422 like any bad query value.
        raise ConsoleError(
            422, "Cannot build that persona", f"{exc.field}: {exc.message}"
        ) from None
    except admin.AdminError as exc:
        # One persona the engine cannot serve must not hide the others.
        return {"name": key, "title": title, "error": exc.message}
    frame = frame_for(context.device, context.width)
    policy = service.policy
    return {
        "name": key,
        "title": title,
        "error": None,
        "layout": layout,
        "why": evidence_note(spec, template, layout, policy.min_evidence, policy.hysteresis_margin),
        "html": render_h5(
            layout,
            service.catalog,
            title=template.title,
            caption=f"{title} · version {layout.template_version}",
            lang=context.locale,
            base=base,
            device=context.device,
            width=context.width,
            dark=context.dark or None,
            heat=heat,
        ),
        "adapted": [c for c in layout.components if c.reasons],
        "width": frame.width + 24,
        "height": frame.height + 110,
    }


def persona_panels(
    request: Request,
    template: Template,
    version: str | None,
    heat: Mapping[str, ComponentCounts] | None = None,
) -> dict[str, Any]:
    """The preview page's panels: with a custom persona in the query, it next to `compare` (a
    fixed persona, default `default`); without, every fixed persona. Marked against each
    persona's base; `heat`: the heatmap over each phone (`preview.h5.heat_marks`)."""
    # Blank fields of the builder's form mean "the persona's own": dropped before parsing.
    pairs = [(k, v) for k, v in request.query_params.multi_items() if v.strip()]
    query = dict(pairs)
    raw = urlencode(pairs).encode()
    try:
        context = parse_context(raw)
        spec = spec_from_query(raw)
    except (QueryError, SpecError) as exc:
        raise ConsoleError(
            422, "Cannot build that persona", f"{exc.field}: {exc.message}"
        ) from None
    compare = query.get("compare", "default")
    if compare not in admin.persona_names():
        # Refused whether or not a custom persona uses it: a malformed value is never ignored.
        raise ConsoleError(
            422, "Cannot build that persona", f"compare: unknown persona {shown(compare)}"
        )
    custom = (
        spec.custom
        or any(name in query for name in ("device", "width", "dark", "locale"))
        or "persona" in query
    )
    if custom:
        title = admin.persona_title(spec.base) + (" (custom)" if spec.custom else "")
        panels = [
            _panel(request, template, version, spec, context, title, "custom", heat),
            _panel(
                request,
                template,
                version,
                PersonaSpec(base=compare),
                context,
                admin.persona_title(compare),
                f"compare-{compare}",
                heat,
            ),
        ]
    else:
        panels = [
            _panel(
                request,
                template,
                version,
                PersonaSpec(base=name),
                context,
                admin.persona_title(name),
                name,
                heat,
            )
            for name in admin.persona_names()
        ]
    share = urlencode([(k, v) for k, v in pairs if k in BUILDER_FIELDS])
    return {
        "panels": panels,
        "custom": custom,
        "spec": spec,
        "context": context,
        "share": share,
        "query": {k: query.get(k, "") for k in BUILDER_FIELDS},
        "settings_choices": settings_choices(),
        "placements": PLACEMENTS,
        "variants": ["base", *(v.name for v in template.variants)],
        "persona_options": [
            (n, admin.persona_title(n)) for n in admin.persona_names() if n != "default"
        ],
        "pairs_of": lambda values: [(str(v), str(v)) for v in values],
        "targets": sorted(
            {c.category or c.id for c in template.components} | {c.id for c in template.components}
        ),
    }


# --------------------------------------------------------------------------- two versions


async def version_phones(
    request: Request, page: str, old: str, new: str, persona: str
) -> list[dict[str, Any]]:
    """Two phones as `persona` gets each version (the visual diff): `old` marked against that
    persona's base, `new` marked against `old`'s layout, so the badges say what the edit moved,
    hid or showed."""
    service = service_of(request)
    context = Context()
    spec = PersonaSpec(base=persona)
    phones: list[dict[str, Any]] = []
    before = None
    for label, version in (("From", old), ("To", new)):
        record = await admin.version_record(service.publisher, page, version, label.lower())
        template = msgspec.json.decode(record.document, type=Template)
        title = f"{label}: #{record.seq} {version}"
        panel = _panel(request, template, version, spec, context, title, label.lower())
        if before is not None and panel["error"] is None:
            panel["html"] = render_h5(
                panel["layout"],
                service.catalog,
                title=template.title,
                caption=f"{title}, marked against the old version",
                lang=context.locale,
                base=before,
            )
        before = panel.get("layout")
        phones.append(panel)
    return phones

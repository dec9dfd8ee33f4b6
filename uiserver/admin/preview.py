"""Custom personas for the designer preview: a fixed persona's profile with every setting,
synthetic events ("12 clicks on coupons"), segments and a forced A/B variant, from a query
string (a shareable URL) or a JSON object. No HTTP and no I/O: the admin API and the console
both call `preview_spec`.

Query form (every part optional; unknown parameters are left to the context parser):

    ?persona=elderly&font_scale=1.5&handedness=left&events=coupons:click:12,guess:convert
    &segments=churn_risk&variant=b&device=tablet&dark=1&locale=ar-SA

`events` items are `target[:kind[:count]]`: a component id or category of the page, a kind of
`schema.Event` (click by default) and a count (1 by default, at most `MAX_COUNT`). JSON form:

    {"base": "elderly", "settings": {"font_scale": 1.5}, "segments": ["churn_risk"],
     "events": [{"target": "coupons", "kind": "click", "count": 12}], "variant": "b"}

Synthetic events are folded exactly as stored events are (`affinity.fold`, all at one instant,
so no decay) under the key the engine reads: the component's category, or `page/id`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import parse_qsl

import msgspec
from msgspec import Meta

from uiserver.admin.errors import Invalid, LayoutRuleFailed
from uiserver.catalog import template_version
from uiserver.documents import error_path, named_field
from uiserver.engine import CompileError, LayoutRuleError
from uiserver.engine.affinity import Affinity, fold
from uiserver.engine.components import affinity_key
from uiserver.engine.personas import PERSONA_TITLES, PERSONAS
from uiserver.engine.stability import enough_evidence
from uiserver.publishing.publisher import Publisher
from uiserver.schema import Context, Ident, Layout, Profile, Settings, Template
from uiserver.serving.layouts import today
from uiserver.types import EventKind
from uiserver.users.ids import shown
from uiserver.users.settings import SETTINGS_FIELDS

MAX_COUNT = 1_000  # events per item: enough to pass any evidence floor, small enough to fold
MAX_ITEMS = 32
BASE_VARIANT = "base"  # `variant=base`: the template without any variant
Segment = Ident  # segment names are identifiers, as in templates and imports


class SpecError(ValueError):
    """A persona spec that cannot be used: 422 `invalid` naming `field`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class SyntheticEvent(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    target: Annotated[str, Meta(min_length=1, max_length=64)]
    kind: EventKind = "click"
    count: Annotated[int, Meta(ge=1, le=MAX_COUNT)] = 1


class PersonaSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A persona to preview: `base` (a fixed persona) with these changes on top."""

    base: str = "default"
    settings: dict[str, Any] = {}
    events: Annotated[list[SyntheticEvent], Meta(max_length=MAX_ITEMS)] = []
    segments: Annotated[list[Segment], Meta(max_length=MAX_ITEMS)] = []
    variant: str | None = None

    @property
    def custom(self) -> bool:
        return bool(self.settings or self.events or self.segments or self.variant)


def spec_from_json(value: Any) -> PersonaSpec:
    """A spec from a decoded JSON object (SpecError with the field's path)."""
    try:
        return msgspec.convert(value, PersonaSpec)
    except msgspec.ValidationError as exc:
        field, message = error_path(exc, PersonaSpec)
        field = named_field(field, message)  # an unknown member is named itself, not its parent
        raise SpecError(f"persona.{field}" if field != "$" else "persona", message) from None


def _events(text: str) -> list[dict[str, Any]]:
    items = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        target, _, rest = part.partition(":")
        kind, _, count = rest.partition(":")
        # ASCII digits, and few of them: int() refuses '³' (and reads '٣' as 3), and refuses
        # more than 4,300 digits (a 500 before); past MAX_COUNT's digits it is out of range.
        if count and not (count.isascii() and count.isdigit() and len(count) <= 9):
            raise SpecError(
                "events", f"{shown(part)}: the count must be a whole number, 1 to {MAX_COUNT}"
            )
        items.append({"target": target, "kind": kind or "click", "count": int(count or 1)})
    return items


def spec_from_query(query: bytes | str) -> PersonaSpec:
    """A spec from a query string (`persona` names the base; see the module docstring)."""
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    params = dict(parse_qsl(text, keep_blank_values=False))
    raw: dict[str, Any] = {"base": params.get("persona", "default")}
    settings: dict[str, Any] = {}
    for name in SETTINGS_FIELDS:
        if name in params:
            settings[name] = params[name]
    if settings:
        raw["settings"] = settings
    if params.get("events"):
        raw["events"] = _events(params["events"])
    if params.get("segments"):
        raw["segments"] = [s.strip() for s in params["segments"].split(",") if s.strip()]
    if params.get("variant"):
        raw["variant"] = params["variant"]
    return spec_from_json(raw)


def _settings(base: Settings, changes: Mapping[str, Any], *, strings: bool) -> Settings:
    merged = {**msgspec.structs.asdict(base), **changes}
    try:
        # Query values are text ("1.5", "1"): msgspec's str_values mode parses them.
        return msgspec.convert(merged, Settings, strict=not strings)
    except msgspec.ValidationError as exc:
        field, message = error_path(exc, Settings)
        raise SpecError(f"settings.{named_field(field, message)}", message) from None


def profile_of(spec: PersonaSpec, template: Template) -> Profile:
    """The profile the spec stands for on `template` (SpecError for an unknown persona, setting
    or event target)."""
    base = PERSONAS.get(spec.base)
    if base is None:
        raise SpecError(
            "persona", f"unknown persona {shown(spec.base)}; one of {', '.join(PERSONAS)}"
        )
    strings = any(isinstance(v, str) for v in spec.settings.values())
    settings = (
        _settings(base.settings, spec.settings, strings=strings) if spec.settings else base.settings
    )
    # The key the engine reads and stored events count under: the category, else `page/id`.
    keys = {c.id: affinity_key(template.page, c) for c in template.components}
    known = set(keys.values())
    events = []
    for i, item in enumerate(spec.events):
        key = keys.get(item.target, item.target if item.target in known else None)
        if key is None:
            raise SpecError(
                f"events[{i}].target",
                f"{item.target!r} is no component id or category of this page",
            )
        events += [_Event(key, item.kind)] * item.count
    state = fold(Affinity(dict(base.affinities), base.evidence), events, 0.0)
    return msgspec.structs.replace(
        base,
        settings=settings,
        affinities=state.scores,
        evidence=state.evidence,
        segments=base.segments | frozenset(spec.segments),
    )


class _Event(msgspec.Struct, frozen=True):
    component: str
    kind: EventKind
    ts: float | None = None


def preview_spec(
    publisher: Publisher,
    template: Template,
    spec: PersonaSpec,
    context: Context | None = None,
    version: str | None = None,
    *,
    personalization: float | None = None,
) -> Layout:
    """The page as the spec's persona gets it; `personalization` overrides the strength (0.0:
    that persona's base layout). SpecError for a bad spec or unknown variant; CompileError or
    LayoutRuleError when the engine cannot build the layout."""
    profile = profile_of(spec, template)
    if personalization is not None:
        settings = msgspec.structs.replace(profile.settings, personalization=personalization)
        profile = msgspec.structs.replace(profile, settings=settings)
    variant = None if spec.variant in (None, BASE_VARIANT) else spec.variant
    names = [v.name for v in template.variants]
    if variant is not None and variant not in names:
        raise SpecError(
            "variant",
            f"unknown variant {shown(variant)}; one of {', '.join([BASE_VARIANT, *names])}",
        )
    version = version or template_version(template)
    if variant is None:
        return publisher.preview(template, version, profile, context or Context(), today())
    engine = publisher.engine
    compiled = engine.compile(template, version).forced(variant)
    layout = engine.layout(compiled, profile, context or Context(), day=today())
    layout.variant = variant
    return layout


def evidence_note(
    spec: PersonaSpec, template: Template, layout: Layout, min_evidence: int, margin: float
) -> str:
    """Why a custom persona's synthetic events moved nothing, for the designer ("" when they
    moved something or there are none). The gate is the policy's `min_evidence` (meaningful
    events, rounded to a whole one: `engine.stability.enough_evidence`; Findlater & Gajos: adapt
    only on enough evidence); past it, a move also needs a movable, unpinned target ahead of
    its neighbours by the hysteresis margin (`engine.stability.beats`)."""
    if not spec.events or any(c.change == "moved" for c in layout.personalization.changes):
        return ""
    count = sum(item.count for item in spec.events)
    evidence = profile_of(spec, template).evidence
    events = f"{count} synthetic event{'s' if count != 1 else ''}"
    if not enough_evidence(evidence, min_evidence):
        more = max(1, math.ceil(min_evidence - 0.5 - evidence))
        return (
            f"Nothing moved: the {events} make an evidence of {evidence:.2f}, and "
            f"personalization moves components only from {min_evidence} (policy min_evidence: "
            f"adapt only on enough evidence). About {more} more click{'s' if more != 1 else ''} "
            "would open the gate."
        )
    return (
        f"Nothing moved although the {events} pass the evidence gate ({evidence:.2f} of "
        f"{min_evidence}): the target is pinned, outside a movable zone, already first in its "
        f"zone, or not ahead of its neighbours by the hysteresis margin ({margin:g})."
    )


__all__ = [
    "CompileError",
    "LayoutRuleError",
    "PersonaSpec",
    "SpecError",
    "evidence_note",
    "preview_spec",
    "profile_of",
    "spec_from_json",
    "spec_from_query",
]


def persona_names() -> list[str]:
    """Every persona, in the console's order."""
    return list(PERSONAS)


def preview_persona(
    publisher: Publisher,
    template: Template,
    spec: PersonaSpec,
    context: Context | None = None,
    version: str | None = None,
    *,
    personalization: float | None = None,
) -> Layout:
    """`preview` for a custom persona (`admin.preview`: settings, synthetic events, segments,
    a forced variant). Invalid for a bad spec; LayoutRuleFailed as `preview`."""
    try:
        return preview_spec(
            publisher, template, spec, context, version, personalization=personalization
        )
    except SpecError as exc:
        raise Invalid(exc.message, exc.field) from None
    except (LayoutRuleError, CompileError) as exc:
        raise LayoutRuleFailed(f"{spec.base}: {exc}", "template") from None


def persona_title(persona: str) -> str:
    return PERSONA_TITLES.get(persona, persona)

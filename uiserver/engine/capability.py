"""Capability negotiation: what a client can draw, and the template it can draw (pure: no I/O).

A mini-program release lives on phones for months while the catalogue grows. The SDK says what
it can draw in one compact, cacheable value, `X-UI-Capabilities: r=2.1.0;t=ab12cd34` (also the
query value `caps`): `r` its renderer version, `t` a short hash of the types it registered
(`types_hash`: FNV-1a 32-bit over the sorted names joined by "\\n", 8 hex digits; the SDK computes
the same). A hash the server knows stands for a set of types: the catalogue types whose `since`
is at most `r` (what an SDK of that version registers by default) or a set a client registered
(`POST /v1/capabilities`). Without `t`, the defaults for `r`.

Each catalogue type has `since` (the first renderer version that draws it) and a designer's
`fallback` (another type, or none). A component whose type the client cannot draw (unknown to
it, or switched off for its renderer version by an operator's `KillSwitch`) is served as its
fallback, following the chain to the first type the client can draw, else left out
(`substitute`). The substituted template then goes through the whole pipeline, so the cap and
every accessibility rule (`engine.check`) hold for it as for any other; each substitution is
named in `reasons` (`fallback:{type}` on the component, `omitted:{id}` on the page).

Adaptive Cards (`version`, `requires`, `fallback`) is the anchor; here the server does the
falling back, so an old client never receives a type it cannot draw and the fallback is checked
by the same rules as everything else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import msgspec

from uiserver.schema import (
    RENDERER_VERSION_PATTERN,
    ComponentSpec,
    ComponentType,
    Layout,
    Template,
    VariantSpec,
)

Version = tuple[int, int, int]
MAX_CAPABILITY = 128  # characters of the header or query value
_VERSION = re.compile(RENDERER_VERSION_PATTERN)
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


class CapabilityError(ValueError):
    """A capability value that cannot be read (a 400 at the edge, naming `field`)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_version(text: str) -> Version:
    """`MAJOR.MINOR.PATCH`, each 0-9999 (SemVer 2.0.0 section 2's core); CapabilityError."""
    # The schema's pattern (the body of POST /v1/capabilities, kill switches, the catalogue's
    # `since`): the header read `01.0.0`, which every other place refuses (SemVer: no leading
    # zeros), as 1.0.0.
    if not _VERSION.fullmatch(text):
        raise CapabilityError(f"renderer version {text[:32]!r} is not MAJOR.MINOR.PATCH")
    major, minor, patch = (int(p) for p in text.split("."))
    return major, minor, patch


def format_version(version: Version) -> str:
    return ".".join(str(n) for n in version)


def types_hash(types: Iterable[str]) -> str:
    """8 hex digits: FNV-1a 32-bit of the distinct names, sorted, joined by "\\n" (UTF-8)."""
    h = _FNV_OFFSET
    for byte in "\n".join(sorted(set(types))).encode():
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return f"{h:08x}"


class Capability(msgspec.Struct, frozen=True):
    """What a client declared: its renderer version and the hash of its types (None: the
    defaults of that version). `key` is the canonical text (the cache keys' part)."""

    renderer: Version
    types: str | None = None

    @property
    def key(self) -> str:
        r = format_version(self.renderer)
        return f"r={r}" if self.types is None else f"r={r};t={self.types}"


def parse_capability(value: str) -> Capability:
    """`r=MAJOR.MINOR.PATCH[;t=8 hex digits]`, parts in any order, spaces around them allowed,
    other keys ignored (a later SDK may say more); CapabilityError for anything else."""
    if len(value) > MAX_CAPABILITY:
        raise CapabilityError(f"longer than {MAX_CAPABILITY} characters")
    found: dict[str, str] = {}
    for part in value.split(";"):
        name, eq, text = part.strip().partition("=")
        if not eq or not name.strip():  # `=`, `=x`: a value without a name
            raise CapabilityError(f"{part.strip()[:32]!r} is not name=value")
        if name in found:
            raise CapabilityError(f"{name[:16]!r} given twice")
        found[name] = text.strip()
    if "r" not in found:
        raise CapabilityError("no renderer version (r=MAJOR.MINOR.PATCH)")
    types = found.get("t")
    if types is not None and (len(types) != 8 or any(ch not in "0123456789abcdef" for ch in types)):
        raise CapabilityError(f"types hash {types[:16]!r} is not 8 lowercase hex digits")
    return Capability(parse_version(found["r"]), types)


class KillSwitch(msgspec.Struct, frozen=True):
    """An operator's switch: `type` is not served to renderers from `since` through `until`
    (inclusive; None: every later version), whatever they registered. They get its fallback."""

    type: str
    since: str = "0.0.0"
    until: str | None = None
    reason: str = ""
    author: str = ""
    created: float = 0.0  # Unix seconds

    def covers(self, renderer: Version) -> bool:
        if renderer < parse_version(self.since):
            return False
        return self.until is None or renderer <= parse_version(self.until)


def default_types(catalog: Mapping[str, ComponentType], renderer: Version) -> frozenset[str]:
    """The catalogue types a renderer of that version draws by default (`since` <= it)."""
    return frozenset(
        name for name, ctype in catalog.items() if parse_version(ctype.since) <= renderer
    )


def drawable(
    catalog: Mapping[str, ComponentType],
    renderer: Version,
    registered: frozenset[str] | None,
    kills: Iterable[KillSwitch] = (),
) -> frozenset[str]:
    """The types the server may send: in the catalogue, drawn by `renderer` (`since`),
    registered by the client (None: the defaults), and not switched off for its version."""
    types = default_types(catalog, renderer)
    if registered is not None:
        types &= registered
    killed = {k.type for k in kills if k.covers(renderer)}
    return types - killed


class Substitution(msgspec.Struct, frozen=True, array_like=True):
    """A component the client cannot draw as designed: served as `fallback` (None: left out)."""

    component: str
    type: str
    fallback: str | None

    @property
    def reason(self) -> str:
        return f"fallback:{self.type}" if self.fallback is not None else f"omitted:{self.component}"


def fallback_for(
    type_name: str, catalog: Mapping[str, ComponentType], can_draw: frozenset[str]
) -> str | None:
    """The first type of `type_name`'s fallback chain the client can draw, or None (the chain
    ends, names an unknown type, or loops: lint refuses those, this never follows one twice)."""
    seen = {type_name}
    ctype = catalog.get(type_name)
    while ctype is not None and ctype.fallback is not None and ctype.fallback not in seen:
        if ctype.fallback in can_draw:
            return ctype.fallback
        seen.add(ctype.fallback)
        ctype = catalog.get(ctype.fallback)
    return None


def substitute(
    template: Template, catalog: Mapping[str, ComponentType], can_draw: frozenset[str]
) -> tuple[Template, tuple[Substitution, ...]]:
    """`template` with every component the client cannot draw replaced by its fallback (its
    props narrowed to those the fallback declares) or left out (and out of every variant);
    the same template when nothing needs replacing."""
    subs: list[Substitution] = []
    components: list[ComponentSpec] = []
    for c in template.components:
        if c.type in can_draw:
            components.append(c)
            continue
        target = fallback_for(c.type, catalog, can_draw)
        subs.append(Substitution(c.id, c.type, target))
        if target is not None:
            declared = catalog[target].props
            props = {k: v for k, v in c.props.items() if k in declared}
            components.append(msgspec.structs.replace(c, type=target, props=props))
    if not subs:
        return template, ()
    kept = {c.id: c.type for c in components}
    variants = [_narrowed(v, kept, catalog) for v in template.variants]
    return (
        msgspec.structs.replace(template, components=components, variants=variants),
        tuple(subs),
    )


def _narrowed(
    variant: VariantSpec, kept: Mapping[str, str], catalog: Mapping[str, ComponentType]
) -> VariantSpec:
    """A variant without the components left out, its props narrowed to the served types'."""
    order = None if variant.order is None else [i for i in variant.order if i in kept]
    props = {
        cid: {k: v for k, v in patch.items() if k in catalog[kept[cid]].props}
        for cid, patch in variant.props.items()
        if cid in kept and kept[cid] in catalog
    }
    return msgspec.structs.replace(variant, order=order, props=props)


def annotate(layout: Layout, subs: Iterable[Substitution]) -> Layout:
    """The layout with each substitution named: `fallback:{type}` in the component's reasons,
    `omitted:{id}` in the page's. New component objects: rendered rows may be shared."""
    fallbacks = {s.component: s.reason for s in subs if s.fallback is not None}
    omitted = [s.reason for s in subs if s.fallback is None]
    if fallbacks:
        layout.components = [
            msgspec.structs.replace(c, reasons=[*c.reasons, fallbacks[c.id]])
            if c.id in fallbacks
            else c
            for c in layout.components
        ]
    if omitted:
        layout.reasons = [*layout.reasons, *omitted]
    return layout


# A type a share of recently active clients above this cannot draw is named when publishing.
UNREACHABLE_SHARE = 0.05


class Reach(msgspec.Struct, frozen=True):
    """How many recent launches (of renderers that said their version) cannot draw `type` by
    default, of how many: those clients get `fallback` (None: the component is left out)."""

    type: str
    cannot: int
    launches: int
    fallback: str | None

    @property
    def share(self) -> float:
        return self.cannot / self.launches if self.launches else 0.0


def reach(
    catalog: Mapping[str, ComponentType],
    types: Iterable[str],
    launches: Mapping[str, int],
    kills: Iterable[KillSwitch] = (),
) -> list[Reach]:
    """For each of `types`, the launches per renderer version (`launches`; `other` and
    unreadable versions are not counted) whose renderer cannot draw it: older than its `since`,
    or switched off for it. Sorted by type."""
    versions: dict[Version, int] = {}
    for text, n in launches.items():
        try:
            version = parse_version(text)
        except CapabilityError:
            continue
        versions[version] = versions.get(version, 0) + n
    total = sum(versions.values())
    switches = list(kills)
    out = []
    for name in sorted(set(types)):
        ctype = catalog.get(name)
        if ctype is None:
            continue
        since = parse_version(ctype.since)
        cannot = sum(
            n
            for v, n in versions.items()
            if v < since or any(k.type == name and k.covers(v) for k in switches)
        )
        out.append(Reach(name, cannot, total, ctype.fallback))
    return out

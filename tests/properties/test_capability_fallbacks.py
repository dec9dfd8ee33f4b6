"""Capability negotiation's invariant (hypothesis): whatever a client declares it can draw and
whatever fallbacks designers declared, a layout the server serves contains only types the client
can draw, and passes the engine's final check (`engine.check`); when no such layout exists the
server refuses (NotDrawable / LayoutRuleError: a 406), it never serves the wrong one."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.engine import compiled_page, policy, shipped_templates
from uiserver.catalog import Catalog, template_version
from uiserver.engine import CompileError, Engine, check_layout
from uiserver.engine.capability import annotate, substitute
from uiserver.engine.check import LayoutRuleError
from uiserver.schema import Context, Profile, Settings

PAGES = sorted(shipped_templates())
pytestmark = pytest.mark.skipif(not PAGES, reason="no shipped layouts")


@st.composite
def declared(draw: st.DrawFn) -> tuple[str, Catalog, frozenset[str], Profile, Context]:
    page = draw(st.sampled_from(PAGES))
    engine, _, template = compiled_page(page)
    names = sorted(engine.catalog.types)
    used = sorted({c.type for c in template.components})
    missing = draw(st.sets(st.sampled_from(used), max_size=len(used)))
    fallbacks = draw(
        st.dictionaries(st.sampled_from(used), st.sampled_from(names), max_size=len(used))
    )
    types = {
        name: msgspec.structs.replace(ctype, fallback=fallbacks.get(name))
        for name, ctype in engine.catalog.types.items()
    }
    extra = draw(st.sets(st.sampled_from(names), max_size=5))
    can_draw = frozenset((set(names) - missing) | (extra - missing))
    settings_ = Settings(
        elderly_mode=draw(st.sampled_from(["auto", "on", "off"])),
        screen_reader=draw(st.booleans()),
        font_scale=draw(st.sampled_from([1.0, 1.5, 2.0])),
        personalization=draw(st.sampled_from([0.0, 1.0])),
    )
    profile = Profile(user_id="u", settings=settings_, affinities={}, evidence=0.0)
    context = Context(device=draw(st.sampled_from(["phone", "tablet"])), dark=draw(st.booleans()))
    return page, Catalog(types), can_draw, profile, context


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(declared())
def test_a_served_layout_has_only_drawable_types_and_passes_every_rule(
    case: tuple[str, Catalog, frozenset[str], Profile, Context],
) -> None:
    page, catalog, can_draw, profile, context = case
    template = shipped_templates()[page]
    engine = Engine(catalog, policy())
    substituted, subs = substitute(template, catalog.types, can_draw)
    try:
        compiled = engine.compile(substituted, template_version(template))
        layout = annotate(engine.layout(compiled, profile, context), subs)
    except (CompileError, LayoutRuleError):
        return  # refused (406): nothing served
    assert {c.type for c in layout.components} <= can_draw
    assert check_layout(layout, compiled, engine.policy) == []
    reasons = {r for c in layout.components for r in c.reasons} | set(layout.reasons)
    for sub in subs:
        assert (
            sub.reason in reasons
            or sub.fallback is None
            or all(c.id != sub.component for c in layout.components)
        )

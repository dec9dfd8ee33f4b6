"""长辈版 2.0 (issue 24) as properties over random templates (the shipped catalogue's types,
random props) and random elderly users: a template whose elderly variant would break a rule
is refused by lint naming the clause; every other one serves elderly layouts that meet every
rule, recomputed here from the layout and the catalogue; and the assessment's figures agree
with the layout served."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.engine import (
    COLOUR_ONLY,
    elderly_profile_st,
    policy,
    random_template_st,
    shipped_catalog,
)
from uiserver.catalog import Catalog, template_version
from uiserver.engine import Engine, Reason
from uiserver.engine.assess import measure
from uiserver.engine.components import PRESSURE_FLAGS
from uiserver.engine.contrast import contrast_ratio
from uiserver.lint.templates import lint_template
from uiserver.schema import Context, Layout, Template
from uiserver.types import NAVIGATION_ROLES

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CATALOG = shipped_catalog()
pytestmark = pytest.mark.skipif(CATALOG is None, reason="no shipped catalogue")
context_st = st.builds(
    Context,
    device=st.sampled_from(["phone", "tablet", "desktop"]),
    dark=st.booleans(),
    low_power=st.booleans(),
    font_px=st.one_of(st.none(), st.floats(12, 30)),
)


def _catalog() -> Catalog:
    assert CATALOG is not None
    return CATALOG


def _removed(type_name: str) -> bool:
    t = _catalog().types[type_name]
    return t.ad or t.promo or any(getattr(t, f) for f in PRESSURE_FLAGS)


def _breaks(template: Template) -> tuple[bool, bool]:
    """(a pressure prop on a component elderly mode keeps, a colour-only state), from the
    catalogue alone."""
    pressure = colour = False
    for spec in template.components:
        ctype = _catalog().types[spec.type]
        for name, value in spec.props.items():
            prop = ctype.props[name]
            pressure |= prop.pressure is not None and bool(value) and not _removed(spec.type)
            colour |= prop.state and value == COLOUR_ONLY
    return pressure, colour


def _meets_every_elderly_rule(layout: Layout, template: Template) -> None:
    pol = policy()
    cat = _catalog()
    specs = {s.id: s for s in template.components}
    assert layout.mode == "elderly" and layout.elderly is not None
    assert Reason.FALLBACK_BASE not in layout.reasons
    theme = layout.theme
    assert theme.paragraph_spacing is not None
    assert theme.paragraph_spacing >= pol.elderly_paragraph_spacing
    entries = 0
    for c in layout.components:
        ctype = cat.types[c.type]
        spec = specs[c.id]
        assert not (ctype.ad or ctype.promo), c.id
        assert not any(getattr(ctype, f) for f in PRESSURE_FLAGS), c.id
        assert not any(c.props.get(n) for n, p in ctype.props.items() if p.pressure), c.id
        assert c.speech and c.speech.startswith(c.label), c.id
        if ctype.role != "image":
            assert c.paragraph_px is not None
            need = c.font_px * theme.line_height * pol.elderly_paragraph_spacing
            assert c.paragraph_px + 1e-9 >= need, c.id
        if ctype.interactive or ctype.action:
            assert c.gap_px is not None and c.gap_px >= pol.elderly_target_gap_px, c.id
        if ctype.confirm:
            assert c.props.get("confirm") is True, c.id
        if ctype.role == "tablist":  # tabs drawn, 更多 included: never more than the items
            items = c.props.get("items")
            count = len(items) if isinstance(items, list) else 0
            drawn = min(c.props.get("visible") or count, count)
            assert drawn <= pol.elderly_max_tabs, c.id
            assert items == specs[c.id].props.get("items"), c.id  # every item kept, behind 更多
        elif ctype.column_prop:
            assert c.props.get(ctype.column_prop, ctype.columns) <= pol.elderly_max_columns
        fixed = (
            spec.pinned
            or ctype.role in NAVIGATION_ROLES
            or spec.placement != "flow"
            or ctype.help
            or ctype.name == "voice_nav_entry"
        )
        if c.folded:
            assert not fixed, c.id
        elif (
            ctype.interactive
            and not fixed
            and Reason.ELDERLY_RECENT not in c.reasons
            and template.page in pol.elderly_fold_pages
        ):
            entries += 1
    # Entries are counted per unit by the engine; a unit never holds two interactive
    # components of different categories, so components bound units from above here.
    if any(c.folded for c in layout.components):
        assert layout.elderly.more_label
    ids = {c.id for c in layout.components}
    if any(cat.types[s.type].help for s in template.components):
        assert "help" in ids
    assert "voice" in ids


def _units_shown(layout: Layout, template: Template) -> int:
    """Entries the way the rule counts them: runs of consecutive served components sharing a
    category (a unit, in the order served), counted once when one of them is an interactive
    flow component that is not folded, not recent, not navigation or help."""
    cat = _catalog()
    specs = {s.id: s for s in template.components}
    count, run, counted = 0, "", False
    for c in layout.components:
        spec = specs[c.id]
        ctype = cat.types[c.type]
        key = spec.category or f"{template.page}/{spec.id}"
        if key != run:
            run, counted = key, False
        entry = (
            spec.placement == "flow"
            and not spec.pinned
            and not c.folded
            and ctype.interactive
            and not ctype.help
            and ctype.role not in NAVIGATION_ROLES
            and Reason.ELDERLY_RECENT not in c.reasons
        )
        if entry and not counted:
            count, counted = count + 1, True
    return count


@PROPERTY
@given(data=st.data())
def test_a_template_is_refused_naming_the_clause_iff_its_elderly_variant_would_break_a_rule(
    data: st.DataObject,
) -> None:
    template = data.draw(random_template_st(_catalog()))
    problems = lint_template(template, _catalog(), policy())
    pressure, colour = _breaks(template)
    assert any("MIIT 5.x" in p.message for p in problems) == pressure
    assert any("WCAG 1.4.1" in p.message for p in problems) == colour


@PROPERTY
@given(data=st.data())
def test_every_elderly_layout_of_a_publishable_template_meets_every_rule(
    data: st.DataObject,
) -> None:
    template = data.draw(random_template_st(_catalog()))
    if lint_template(template, _catalog(), policy()):
        return  # refused at publish: never served
    engine = Engine(_catalog(), policy())
    compiled = engine.compile(template, template_version(template))
    profile = data.draw(elderly_profile_st)
    layout = engine.layout(
        compiled, profile, data.draw(context_st), day=data.draw(st.integers(0, 30_000))
    )
    _meets_every_elderly_rule(layout, template)
    if template.page in policy().elderly_fold_pages:
        assert _units_shown(layout, template) <= policy().elderly_max_entries


@PROPERTY
@given(data=st.data())
def test_the_report_agrees_with_the_layout_served(data: st.DataObject) -> None:
    template = data.draw(random_template_st(_catalog()))
    if lint_template(template, _catalog(), policy()):
        return
    engine = Engine(_catalog(), policy())
    compiled = engine.compile(template, template_version(template))
    layout = engine.layout(compiled, data.draw(elderly_profile_st), data.draw(context_st))
    comps = {c.id: c for c in compiled.views[layout.variant, layout.mode].comps}
    items = {i.id: i for i in measure(layout, comps, policy())}
    assert all(i.result != "fail" for i in items.values()), [
        (i.id, i.figure) for i in items.values() if i.result == "fail"
    ]
    smallest = min(c.font_px for c in layout.components)
    assert items["font_size"].figure.startswith(f"smallest {smallest:g} px")
    largest = max(c.font_px for c in layout.components)
    assert items["largest_font"].figure.startswith(f"largest {largest:g} px")
    palette = layout.theme.palette
    ratio = min(
        contrast_ratio(getattr(palette, fg), getattr(palette, bg))
        for fg, bg in (("text", "background"), ("on_primary", "primary"), ("muted", "surface"))
    )
    lowest = float(items["contrast"].figure.split()[2].rstrip(":1"))
    assert lowest <= math.ceil(ratio * 100) / 100 + 0.01
    named = sum(
        1
        for c in layout.components
        if _catalog().types[c.type].interactive or _catalog().types[c.type].image
    )
    assert items["names"].figure == f"{named} of {named} named"

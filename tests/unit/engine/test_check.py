"""The final check (`engine.check`): every rule of its tables refuses a layout that breaks it.

Each case starts from a layout the real engine serves for the shipped cart page (to a default
user, or to an elderly one), breaks one rule with `msgspec.structs.replace`, and expects exactly
that rule's refusal, word for word (the console and the fallback log show these messages). A
breakage that necessarily changes the change ratio (a component shown, hidden, moved or
re-placed) also reports the new ratio, as an honest engine would, so that only the rule under
test refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import msgspec
import pytest

from tests.helpers.engine import compiled_page, policy
from uiserver.catalog import template_version
from uiserver.engine import PERSONAS, CompiledTemplate, check_layout
from uiserver.engine.check import (
    CAP_RULES,
    COMPONENT_RULES,
    ELDERLY_COMPONENT_RULES,
    ELDERLY_PAGE_RULES,
    ELDERLY_THEME_RULES,
    PINNED_RULES,
    THEME_RULES,
)
from uiserver.engine.plan import RATIO_DIGITS
from uiserver.schema import Context, Layout, LayoutComponent

PAGE = "cart"
SIX_TABS = [{"page": f"p{n}", "text": f"页面 {n}"} for n in range(6)]
Break = Callable[[Layout], Layout]

# --------------------------------------------------------------------------- served layouts


@cache
def derived(source: str) -> CompiledTemplate:
    """The cart page changed for `source`. `pinned_action` pins its checkout button: the only
    way a pinned component may change placement is as an action button, and no shipped page
    pins one. `unpinned` drops its pinned header and tab bar (every shipped page pins some)."""
    engine, _, template = compiled_page(PAGE)
    if source == "pinned_action":
        components = [
            msgspec.structs.replace(spec, pinned=True) if spec.id == "checkout" else spec
            for spec in template.components
        ]
    else:
        components = [spec for spec in template.components if spec.id not in {"header", "tab_bar"}]
    changed = msgspec.structs.replace(template, components=components)
    return engine.compile(changed, template_version(changed))


def served(source: str) -> tuple[Layout, CompiledTemplate]:
    """A layout the engine serves, and the compiled template it was served from: the cart page
    for a default user (`standard`), for a user aged 60+ (`elderly`), or changed as `derived`
    says (`pinned_action`, `unpinned`) for a default user."""
    engine, compiled, _ = compiled_page(PAGE)
    if source in {"pinned_action", "unpinned"}:
        compiled = derived(source)
    persona = "elderly" if source == "elderly" else "default"
    return engine.layout(compiled, PERSONAS[persona], Context()), compiled


# --------------------------------------------------------------------------- breakages
# Each returns a new layout and never mutates the served one (render shares its components).


def with_component(layout: Layout, cid: str, **changes: object) -> Layout:
    components = [
        msgspec.structs.replace(lc, **changes) if lc.id == cid else lc for lc in layout.components
    ]
    return msgspec.structs.replace(layout, components=components)


def with_theme(layout: Layout, **changes: object) -> Layout:
    return msgspec.structs.replace(layout, theme=msgspec.structs.replace(layout.theme, **changes))


def with_palette(layout: Layout, **changes: str) -> Layout:
    palette = msgspec.structs.replace(layout.theme.palette, **changes)
    return with_theme(layout, palette=palette)


def with_info(layout: Layout, **changes: object) -> Layout:
    info = msgspec.structs.replace(layout.personalization, **changes)
    return msgspec.structs.replace(layout, personalization=info)


def reporting(layout: Layout, changed: int) -> Layout:
    """`layout` reporting `changed` elements changed out of the cart's 15 base components."""
    return with_info(layout, changed_ratio=round(changed / 15, RATIO_DIGITS))


def without(layout: Layout, cid: str) -> Layout:
    components = [lc for lc in layout.components if lc.id != cid]
    return msgspec.structs.replace(layout, components=components)


def swapped(layout: Layout, a: str, b: str) -> Layout:
    ids = [lc.id for lc in layout.components]
    i, j = ids.index(a), ids.index(b)
    components = list(layout.components)
    components[i], components[j] = components[j], components[i]
    return msgspec.structs.replace(layout, components=components)


def appended(layout: Layout, lc: LayoutComponent) -> Layout:
    return msgspec.structs.replace(layout, components=[*layout.components, lc])


def component(layout: Layout, cid: str) -> LayoutComponent:
    return next(lc for lc in layout.components if lc.id == cid)


def with_props(layout: Layout, cid: str, **props: object) -> Layout:
    """`cid` served with `props` set (None: left out)."""
    merged = {**component(layout, cid).props, **props}
    return with_component(layout, cid, props={k: v for k, v in merged.items() if v is not None})


def with_needs(layout: Layout, dropped: str) -> Layout:
    assert layout.elderly is not None
    needs = [n for n in layout.elderly.needs if n != dropped]
    return msgspec.structs.replace(
        layout, elderly=msgspec.structs.replace(layout.elderly, needs=needs)
    )


def coupons_for_elderly(layout: Layout) -> Layout:
    """The promotional coupon strip (elderly mode hides it) put back, at elderly sizes."""
    standard, _ = served("standard")
    coupons = msgspec.structs.replace(
        component(standard, "coupons"),
        font_px=24.0,
        min_target_px=44.0,
        paragraph_px=46.8,
        gap_px=12.0,
        speech=component(standard, "coupons").label,
    )
    return reporting(appended(layout, coupons), 1)


# --------------------------------------------------------------------------- the cases

Breakage = Callable[[Layout], Layout]


def case(rule: str, source: str, breakage: Breakage, *refusals: str, variant: str = "") -> Any:
    """A case of `CASES`: its id is the rule, or `rule-variant` for a second case of one."""
    ident = f"{rule}-{variant}" if variant else rule
    return pytest.param(rule, source, breakage, list(refusals), id=ident)


# (rule, layout source, breakage, the refusals in order). The rule is a name of the tables in
# engine/check.py, or one of the two gates before them (unknown_variant, unknown_component).
CASES = [
    # gates: nothing to check the layout (or a component) against
    case(
        "unknown_variant",
        "standard",
        lambda lay: msgspec.structs.replace(lay, variant="nope"),
        "unknown variant 'nope' / mode 'standard'",
    ),
    case(
        "unknown_component",
        "standard",
        lambda lay: appended(lay, msgspec.structs.replace(component(lay, "summary"), id="ufo")),
        "ufo: not a component of the template",
    ),
    # theme
    case(
        "contrast",
        "standard",
        lambda lay: with_palette(lay, on_primary=lay.theme.palette.primary),
        "contrast on_primary #C4320A on primary #C4320A is 1.00:1 < 4.5:1",
    ),
    case(
        "elderly_enhanced_palette",
        "elderly",
        lambda lay: with_theme(lay, high_contrast=False),
        "elderly: theme must use the enhanced-contrast palette",
    ),
    case(
        "elderly_body_font",
        "elderly",
        lambda lay: with_theme(lay, font_px=20.0),
        "elderly: theme font 20.0 < 24.0",
    ),
    case(
        "elderly_line_height",
        "elderly",
        lambda lay: with_theme(lay, line_height=1.2),
        "elderly: line height 1.2 < 1.3",
    ),
    case(
        "elderly_paragraph_spacing",
        "elderly",
        lambda lay: with_theme(lay, paragraph_spacing=1.0),
        "elderly: paragraph spacing 1.0 < 1.3 x the line spacing (MIIT 1.2)",
    ),
    # 长辈版 2.0 (issue 24)
    case(
        "elderly_no_pressure",
        "elderly",
        lambda lay: with_props(lay, "summary", pay_countdown=True),
        "summary: puts the user under pressure (pay_countdown) in elderly mode (MIIT 5.x)",
    ),
    case(
        "elderly_paragraph",
        "elderly",
        lambda lay: with_component(lay, "summary", paragraph_px=40.0),
        "summary: paragraph spacing 40.0 < 46.8 px (MIIT 1.2)",
    ),
    case(
        "elderly_target_gap",
        "elderly",
        lambda lay: with_component(lay, "checkout", gap_px=4.0),
        "checkout: gap around the target 4.0 < 12.0 px",
    ),
    case(
        "elderly_reflow",
        "elderly",
        lambda lay: with_props(lay, "add_ons", columns=5),
        "add_ons: 5 columns > 3 in elderly mode (WCAG 1.4.10)",
    ),
    case(
        "elderly_reflow",
        "elderly",
        lambda lay: with_props(lay, "tab_bar", items=SIX_TABS),
        "tab_bar: 6 tabs > 4 in elderly mode (WCAG 1.4.10)",
        variant="tabs",
    ),
    case(
        "elderly_reflow",
        "elderly",
        lambda lay: with_props(lay, "tab_bar", items=SIX_TABS, visible=5),
        "tab_bar: 5 tabs > 4 in elderly mode (WCAG 1.4.10)",
        variant="visible_tabs",
    ),
    case(
        "elderly_confirm",
        "elderly",
        lambda lay: with_props(lay, "checkout", confirm=None),
        "checkout: payment or destructive action without confirmation (WCAG 3.3.4)",
    ),
    case(
        "elderly_speech",
        "elderly",
        lambda lay: with_component(lay, "summary", speech=None),
        "summary: no speech text for its label (WCAG 1.1.1, 4.1.2)",
    ),
    case(
        "elderly_folded",
        "elderly",
        lambda lay: with_component(lay, "header", folded=True),
        "header: navigation, help and voice entries are never folded",
        "elderly: folded components without a More entry",
    ),
    case(
        "elderly_help",
        "elderly",
        lambda lay: reporting(without(lay, "service"), 1),
        "elderly: help entry missing (WCAG 3.2.6)",
    ),
    case(
        "elderly_fewer_choices",
        "elderly",
        lambda lay: with_component(lay, "recently_viewed", folded=True),
        "elderly: folded components without a More entry",
    ),
    case(
        "elderly_needs_listed",
        "elderly",
        lambda lay: with_needs(lay, "elderly:confirm"),
        "elderly: needs not listed: elderly:confirm",
    ),
    case(
        "elderly_motion",
        "elderly",
        lambda lay: with_theme(lay, motion="full"),
        "elderly: motion must be reduced",
    ),
    # components
    case(
        "served_once",
        "standard",
        lambda lay: appended(lay, component(lay, "summary")),
        "summary: appears twice",
    ),
    case(
        "same_name",
        "standard",
        lambda lay: with_component(lay, "summary", label="Total"),
        "summary: renamed (label, role and type never change)",
    ),
    # The compiled label and role of an interactive or image component are never empty (compile
    # falls back to the type's description), so emptying them also renames the component.
    case(
        "named",
        "standard",
        lambda lay: with_component(lay, "items", label="\u200b"),
        "items: renamed (label, role and type never change)",
        "items: interactive or image component without label or role",
        variant="invisible_label",
    ),
    case(
        "named",
        "standard",
        lambda lay: with_component(lay, "items", role=""),
        "items: renamed (label, role and type never change)",
        "items: interactive or image component without label or role",
        variant="no_role",
    ),
    case(
        "not_colour_only",
        "standard",
        lambda lay: with_props(lay, "continue_shopping", badge="#D93025"),
        "continue_shopping: badge is a state carried by colour alone (WCAG 1.4.1)",
    ),
    case(
        "not_colour_only",
        "elderly",
        lambda lay: with_props(lay, "continue_shopping", badge={"colour": "#D93025", "text": " "}),
        "continue_shopping: badge is a state carried by colour alone (WCAG 1.4.1)",
        variant="blank_text",
    ),
    case(
        "catalogue_font",
        "standard",
        lambda lay: with_component(lay, "summary", font_px=10.0),
        "summary: font 10.0 < catalogue minimum 14.0",
    ),
    case(
        "touch_target",
        "standard",
        lambda lay: with_component(lay, "summary", min_target_px=20.0),
        "summary: touch target 20.0 below the minimum",
        variant="absolute_floor",
    ),
    case(
        "touch_target",
        "standard",
        lambda lay: with_component(lay, "service", min_target_px=40.0),
        "service: touch target 40.0 below the minimum",
        variant="interactive_floor",
    ),
    case(
        "no_autoplay",
        "elderly",
        lambda lay: with_component(lay, "notice", props={"autoplay": True}),
        "notice: animated component auto-plays with motion reduced",
    ),
    case(
        "no_autoplay",
        "standard",
        lambda lay: with_theme(lay, motion="none"),
        "notice: animated component auto-plays with motion none",
        variant="unset_without_motion",
    ),
    case(
        "pinned_flag",
        "standard",
        lambda lay: with_component(lay, "summary", pinned=True),
        "summary: pinned flag changed",
    ),
    case(
        "action_placement",
        "standard",
        lambda lay: reporting(with_component(lay, "summary", placement="bottom_left"), 1),
        "summary: only action buttons change placement",
    ),
    case(
        "elderly_font",
        "elderly",
        lambda lay: with_component(lay, "summary", font_px=20.0),
        "summary: elderly font 20.0 < 24.0",
    ),
    case(
        "elderly_target",
        "elderly",
        lambda lay: with_component(lay, "payment", min_target_px=50.0),
        "payment: elderly target 50.0 too small",
        variant="main",
    ),
    # For other interactive components the elderly floor is the general one (44 px both).
    case(
        "elderly_target",
        "elderly",
        lambda lay: with_component(lay, "service", min_target_px=40.0),
        "service: touch target 40.0 below the minimum",
        "service: elderly target 40.0 too small",
        variant="other",
    ),
    case(
        "elderly_no_ads",
        "elderly",
        coupons_for_elderly,
        "coupons: ads and promotions are not shown in elderly mode",
    ),
    # page
    case(
        "elderly_largest_step",
        "elderly",
        lambda lay: with_component(lay, "add_ons_title", font_px=28.0),
        "elderly: largest font 28.0 < 30.0",
    ),
    case(
        "elderly_voice_nav",
        "elderly",
        lambda lay: reporting(without(lay, "voice_nav"), 1),
        "elderly: voice navigation entry missing",
    ),
    # cap
    case(
        "cap_formula",
        "standard",
        lambda lay: with_info(lay, cap=0.3),
        "cap 0.3 is not max_change x strength",
    ),
    case(
        "within_cap",
        "standard",
        lambda lay: with_info(
            swapped(lay, "delivery", "summary"), strength=0.0, cap=0.0, changed_ratio=0.0667
        ),
        "changed ratio 0.067 exceeds the cap 0.000",
    ),
    case(
        "reported_ratio",
        "standard",
        lambda lay: with_info(lay, changed_ratio=0.25),
        "reported changed ratio 0.25 != measured 0.0",
    ),
    # pinned
    case(
        "pinned_shown",
        "standard",
        lambda lay: reporting(without(lay, "header"), 1),
        "header: pinned component hidden",
    ),
    case(
        "pinned_in_place",
        "standard",
        lambda lay: reporting(swapped(lay, "header", "notice"), 1),
        "header: pinned component moved",
    ),
    case(
        "pinned_placement",
        "pinned_action",
        lambda lay: reporting(with_component(lay, "checkout", placement="bottom_left"), 1),
        "checkout: pinned component changed placement",
    ),
]


@pytest.mark.parametrize("source", ["standard", "elderly", "pinned_action", "unpinned"])
def test_a_served_layout_passes(source: str) -> None:
    layout, compiled = served(source)
    assert check_layout(layout, compiled, policy()) == []


@pytest.mark.parametrize(("rule", "source", "breakage", "expected"), CASES)
def test_each_rule_refuses_the_layout_that_breaks_it(
    rule: str, source: str, breakage: Break, expected: list[str]
) -> None:
    layout, compiled = served(source)
    assert check_layout(breakage(layout), compiled, policy()) == expected


def test_every_rule_of_the_tables_has_a_breaking_case() -> None:
    tables = (
        THEME_RULES,
        ELDERLY_THEME_RULES,
        COMPONENT_RULES,
        ELDERLY_COMPONENT_RULES,
        ELDERLY_PAGE_RULES,
        CAP_RULES,
        PINNED_RULES,
    )
    names = [name for table in tables for name, _ in table]
    assert len(names) == len(set(names))
    assert {case.values[0] for case in CASES} == {*names, "unknown_variant", "unknown_component"}


@pytest.mark.parametrize(
    ("source", "change"),
    [
        pytest.param(
            "standard",
            lambda lay: reporting(with_component(lay, "checkout", placement="bottom_left"), 1),
            id="an_action_button_changes_placement",
        ),
        pytest.param(
            "standard",
            lambda lay: with_info(lay, cap=0.4 + 0.9 * 10.0**-RATIO_DIGITS),
            id="the_cap_within_the_wire_rounding",
        ),
        pytest.param(
            "standard",
            lambda lay: reporting(swapped(lay, "delivery", "summary"), 1),
            id="a_reported_move_within_the_cap",
        ),
        pytest.param(
            "elderly",
            lambda lay: with_component(lay, "notice", props={"autoplay": False, "speed": 1}),
            id="a_still_carousel_in_elderly_mode",
        ),
    ],
)
def test_what_the_rules_allow_passes(source: str, change: Break) -> None:
    layout, compiled = served(source)
    assert check_layout(change(layout), compiled, policy()) == []


def test_refusals_come_in_table_order_then_layout_order() -> None:
    """Theme, then each component in layout order (its rules in table order, the elderly ones
    last), then the page, the cap and the pinned components, whatever order rules fire in."""
    layout, compiled = served("elderly")
    broken = with_theme(layout, font_px=20.0)
    broken = with_component(broken, "items", pinned=True)  # 3rd component, 7th rule
    broken = with_component(broken, "summary", label="Total", font_px=20.0)  # 5th, 2nd rule
    broken = with_info(without(broken, "header"), changed_ratio=0.5)
    assert check_layout(broken, compiled, policy()) == [
        "elderly: theme font 20.0 < 24.0",
        "items: pinned flag changed",
        "summary: renamed (label, role and type never change)",
        "summary: elderly font 20.0 < 24.0",
        "summary: no speech text for its label (WCAG 1.1.1, 4.1.2)",
        "reported changed ratio 0.5 != measured 0.0667",
        "header: pinned component hidden",
    ]

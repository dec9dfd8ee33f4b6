"""Persona cases as data: one JSON file per case in tests/cases/, one test per file.

A case names a page, a profile and a context, and what the served layout must show. Every key
of `expect` has a checker in CHECKS; an unknown key fails, so a typo never passes silently.
Every case also runs the engine's own final check.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.helpers.engine import compiled_page, policy, shipped_templates
from uiserver.engine import Reason, check_layout
from uiserver.schema import Context, Layout, LayoutComponent, Profile, Settings

CASES = sorted(Path(__file__).parent.glob("*.json"))


@dataclass(frozen=True)
class Served:
    layout: Layout
    base: Layout  # same user, context and settings with personalization off
    run: Callable[[Context], Layout]  # the same profile in another context

    def component(self, cid: str) -> LayoutComponent:
        found = [c for c in self.layout.components if c.id == cid]
        assert found, f"{cid} is not in the layout"
        return found[0]

    def ids(self) -> list[str]:
        return [c.id for c in self.layout.components]


def _first_movable(s: Served) -> str:
    return next(c.id for c in s.layout.components if not c.pinned and c.placement == "flow")


def _check_subset(expected: dict[str, Any], actual: dict[str, Any], where: str) -> None:
    for key, value in expected.items():
        assert actual.get(key) == value, f"{where}.{key}: {actual.get(key)!r} != {value!r}"


def _changes(s: Served) -> list[dict[str, str]]:
    return [msgspec.to_builtins(c) for c in s.layout.personalization.changes]


def _check_theme(s: Served, v: dict[str, Any]) -> None:
    _check_subset(v, msgspec.to_builtins(s.layout.theme), "theme")


def _check_props(s: Served, v: dict[str, dict[str, Any]]) -> None:
    for cid, props in v.items():
        _check_subset(props, s.component(cid).props, f"{cid}.props")


def _check_reasons(s: Served, v: dict[str, list[str]]) -> None:
    for cid, reasons in v.items():
        missing = set(reasons) - set(s.component(cid).reasons)
        assert not missing, f"{cid}: reasons {s.component(cid).reasons} lack {missing}"


def _check_changes(s: Served, v: list[dict[str, str]]) -> None:
    for change in v:
        assert change in _changes(s), f"{change} not in {_changes(s)}"


def _check_at_least(values: Callable[[Served, str], float]) -> Callable[[Served, Any], None]:
    def check(s: Served, v: dict[str, float]) -> None:
        for cid, low in v.items():
            assert values(s, cid) >= low, f"{cid}: {values(s, cid)} < {low}"

    return check


CHECKS: dict[str, Callable[[Served, Any], None]] = {
    "mode": lambda s, v: assert_equal(s.layout.mode, v, "mode"),
    "variant": lambda s, v: assert_equal(s.layout.variant, v, "variant"),
    "present": lambda s, v: assert_equal(sorted(set(v) - set(s.ids())), [], "missing"),
    "absent": lambda s, v: assert_equal(sorted(set(v) & set(s.ids())), [], "unexpected"),
    "theme": _check_theme,
    "theme_font_px_at_least": lambda s, v: assert_true(s.layout.theme.font_px >= v, "theme font"),
    "line_height_at_least": lambda s, v: assert_true(s.layout.theme.line_height >= v, "line"),
    "min_font_px": lambda s, v: assert_true(
        min(c.font_px for c in s.layout.components) >= v, "smallest font"
    ),
    "max_font_px_at_least": lambda s, v: assert_true(
        max(c.font_px for c in s.layout.components) >= v, "largest font"
    ),
    "fonts_at_least": _check_at_least(lambda s, cid: s.component(cid).font_px),
    "targets_at_least": _check_at_least(lambda s, cid: s.component(cid).min_target_px),
    "placements": lambda s, v: _check_subset(
        v, {c.id: c.placement for c in s.layout.components}, "placement"
    ),
    "props": _check_props,
    "first_movable": lambda s, v: assert_equal(_first_movable(s), v, "first movable"),
    "order_prefix": lambda s, v: assert_equal(s.ids()[: len(v)], v, "order prefix"),
    "order_equals_base": lambda s, v: assert_equal(
        s.ids() == [c.id for c in s.base.components], v, "same order as base"
    ),
    "order_same_as_context": lambda s, v: assert_equal(
        s.ids(), [c.id for c in s.run(Context(**v)).components], "order in other context"
    ),
    "changes_include": _check_changes,
    "reasons_include": _check_reasons,
    "page_reasons_include": lambda s, v: assert_equal(
        sorted(set(v) - set(s.layout.reasons)), [], "page reasons missing"
    ),
    "strength": lambda s, v: assert_equal(s.layout.personalization.strength, v, "strength"),
    "capped": lambda s, v: assert_equal(s.layout.personalization.capped, v, "capped"),
    "changed_ratio": lambda s, v: assert_equal(
        s.layout.personalization.changed_ratio, v, "changed ratio"
    ),
    "max_changed_ratio": lambda s, v: assert_true(
        s.layout.personalization.changed_ratio <= v, "changed ratio too high"
    ),
    "min_changed_ratio": lambda s, v: assert_true(
        s.layout.personalization.changed_ratio >= v, "changed ratio too low"
    ),
}


def assert_equal(actual: object, expected: object, what: str) -> None:
    assert actual == expected, f"{what}: {actual!r} != {expected!r}"


def assert_true(ok: bool, what: str) -> None:
    assert ok, what


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path) -> None:
    case = json.loads(path.read_text())
    page = case["page"]
    if page != "mini" and page not in shipped_templates():
        pytest.fail(f"{path.name}: page {page!r} is not shipped in layouts/")
    engine, compiled, _ = compiled_page(page)
    profile = msgspec.convert(case.get("profile", {}), Profile)
    context = msgspec.convert(case.get("context", {}), Context)
    day = case.get("day", 0)
    off = msgspec.structs.replace(profile.settings, personalization=0.0)
    blank = Profile(user_id=profile.user_id, settings=off)
    served = Served(
        layout=engine.layout(compiled, profile, context, day=day),
        base=engine.layout(compiled, blank, context, day=day),
        run=lambda ctx: engine.layout(compiled, profile, ctx, day=day),
    )
    assert check_layout(served.layout, compiled, policy()) == []
    assert Reason.FALLBACK_BASE not in served.layout.reasons
    unknown = set(case["expect"]) - set(CHECKS)
    assert not unknown, f"unknown expectations {sorted(unknown)}"
    for key, value in case["expect"].items():
        CHECKS[key](served, value)


def test_every_persona_of_the_brief_has_a_case() -> None:
    stems = {p.stem for p in CASES}
    assert {
        "default_adult",
        "elderly_auto_60_plus",
        "low_vision_left_handed",
        "screen_reader",
        "personalization_off",
        "churn_risk_segment",
        "coupon_clicker",
    } <= stems
    assert Settings().personalization == 1.0

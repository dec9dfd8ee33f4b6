"""The assessment (`engine.assess`): each item fails on the layout that breaks it, naming the
component; the score takes the MIIT programme's form; shipped pages score full marks."""

from __future__ import annotations

import msgspec
import pytest

from tests.helpers.engine import compiled_page, policy, shipped_templates
from uiserver.engine import PERSONAS
from uiserver.engine.assess import ITEMS, Item, measure, score
from uiserver.engine.components import ResolvedComponent
from uiserver.schema import Context, Layout


def served(page: str = "cart") -> tuple[Layout, dict[str, ResolvedComponent]]:
    engine, compiled, _ = compiled_page(page)
    layout = engine.layout(compiled, PERSONAS["elderly"], Context())
    comps = {c.id: c for c in compiled.views[layout.variant, layout.mode].comps}
    return layout, comps


def with_component(layout: Layout, cid: str, **changes: object) -> Layout:
    components = [
        msgspec.structs.replace(c, **changes) if c.id == cid else c for c in layout.components
    ]
    return msgspec.structs.replace(layout, components=components)


BREAKAGES = [
    pytest.param("font_size", {"font_px": 20.0}, id="font_size"),
    pytest.param("paragraph_spacing", {"paragraph_px": 30.0}, id="paragraph_spacing"),
    pytest.param("target_size", {"min_target_px": 40.0}, id="target_size"),
    pytest.param("target_gap", {"gap_px": 2.0}, id="target_gap"),
    pytest.param("speech", {"speech": None}, id="speech"),
    pytest.param("confirm", {"props": {}}, id="confirm"),
    pytest.param("names", {"label": " "}, id="names"),
]


@pytest.mark.parametrize(("item", "changes"), BREAKAGES)
def test_an_item_fails_on_the_layout_that_breaks_it_naming_the_component(
    item: str, changes: dict[str, object]
) -> None:
    layout, comps = served()
    assert all(i.result != "fail" for i in measure(layout, comps, policy()))
    broken = with_component(layout, "checkout", **changes)
    found = {i.id: i for i in measure(broken, comps, policy())}
    assert found[item].result == "fail"
    assert "checkout" in found[item].components


def test_pressure_and_colour_only_states_fail() -> None:
    layout, comps = served()
    broken = with_component(layout, "summary", props={"pay_countdown": True})
    broken = with_component(broken, "continue_shopping", props={"badge": "#FF0000"})
    found = {i.id: i for i in measure(broken, comps, policy())}
    assert found["no_pressure"].components == ["summary"]
    assert found["colour_cues"].components == ["continue_shopping"]


def test_a_tab_bar_drawing_more_than_the_policy_s_tabs_fails_reflow() -> None:
    layout, comps = served()
    tabs = [{"page": f"p{n}", "text": f"页面 {n}"} for n in range(6)]
    before = {i.id: i for i in measure(layout, comps, policy())}["reflow"]
    assert before.result == "pass" and "4 tabs (<= 4)" in before.figure
    broken = with_component(layout, "tab_bar", props={"items": tabs})
    found = {i.id: i for i in measure(broken, comps, policy())}["reflow"]
    assert found.result == "fail" and found.components == ["tab_bar"]
    assert "6 tabs (<= 4)" in found.figure
    kept = with_component(layout, "tab_bar", props={"items": tabs, "visible": 4})
    assert {i.id: i for i in measure(kept, comps, policy())}["reflow"].result == "pass"


def test_the_score_is_out_of_100_with_60_to_pass() -> None:
    items = [
        Item("a", "A", "c", "pass", ""),
        Item("b", "B", "c", "fail", ""),
        Item("c", "C", "c", "n/a", ""),
    ]
    s = score(items)
    assert (s.points, s.judged, s.failed, s.passed, s.out_of, s.pass_mark) == (
        50.0,
        2,
        1,
        False,
        100,
        60,
    )
    assert score([]).points == 100.0
    assert len({item_id for item_id, *_ in ITEMS}) == len(ITEMS)


@pytest.mark.parametrize("page", sorted(shipped_templates()))
def test_shipped_pages_score_full_marks_on_server_judged_items(page: str) -> None:
    engine, compiled, _ = compiled_page(page)
    report = engine.assess(compiled)
    assert report.score.points == 100.0, [
        (r.persona, r.theme, i.id, i.figure, i.components)
        for r in report.personas
        for i in r.items
        if i.result == "fail"
    ]
    assert {(r.persona, r.theme) for r in report.personas} == {
        (p, t)
        for p in ("default", "elderly", "low_vision", "screen_reader")
        for t in ("standard", "dark")
    }

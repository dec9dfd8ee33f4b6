"""The cold path's memos never change an answer (issue 26, engine cold path).

- The final check remembers each component's verdict (elderly mode) by the component's encoded
  bytes within a check context (`check._memo`): a layout is refused exactly as the uncached
  check refuses it, whatever the memo already holds, including a broken component with a
  served one's id, a component mutated in place after it was checked, and the same bytes in
  another context.
- `render` remembers touched components as rendered (elderly mode, `CompiledTemplate.rendered`):
  a warm compiled template serves the bytes a freshly compiled one does.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadtests.bench_engine import random_inputs
from tests.helpers.engine import all_pages, compiled_page
from uiserver.engine import PERSONAS, check_layout, encode_layout
from uiserver.engine import check as check_module
from uiserver.engine import render as render_module
from uiserver.schema import Context, Layout, LayoutComponent

PAGES = all_pages()

# Ways to break one served component, keeping its id: each breaks at least one rule for some
# component (a label on a heading is no rule, a font of 1 px always is).
Mutation = Callable[[LayoutComponent], LayoutComponent]
MUTATIONS: dict[str, Mutation] = {
    "font": lambda lc: msgspec.structs.replace(lc, font_px=1.0),
    "target": lambda lc: msgspec.structs.replace(lc, min_target_px=10.0),
    "label": lambda lc: msgspec.structs.replace(lc, label=""),
    "role": lambda lc: msgspec.structs.replace(lc, role="renamed"),
    "pinned": lambda lc: msgspec.structs.replace(lc, pinned=not lc.pinned),
    "placement": lambda lc: msgspec.structs.replace(lc, placement="top_left"),
    "autoplay": lambda lc: msgspec.structs.replace(lc, props={**lc.props, "autoplay": True}),
    "confirm": lambda lc: msgspec.structs.replace(lc, props={**lc.props, "confirm": False}),
    "columns": lambda lc: msgspec.structs.replace(lc, props={**lc.props, "columns": 6}),
    "folded": lambda lc: msgspec.structs.replace(lc, folded=True),
    "speech": lambda lc: msgspec.structs.replace(lc, speech=None),
    "paragraph": lambda lc: msgspec.structs.replace(lc, paragraph_px=0.5),
    "gap": lambda lc: msgspec.structs.replace(lc, gap_px=0.0),
    "reasons": lambda lc: msgspec.structs.replace(lc, reasons=[*lc.reasons, "elderly:x"]),
}


def launch(page: str, seed: int) -> Layout:
    engine, compiled, template = compiled_page(page)
    profile, context = random_inputs(random.Random(seed), template, seed)
    return engine.layout(compiled, profile, context, day=seed)


def replaced(layout: Layout, k: int, lc: LayoutComponent) -> Layout:
    components = list(layout.components)
    components[k] = lc
    return msgspec.structs.replace(layout, components=components)


def copied(lc: LayoutComponent, **changes: Any) -> LayoutComponent:
    """A private copy of a served component (served ones are shared: never mutate those)."""
    fields: dict[str, Any] = {"props": dict(lc.props), "reasons": list(lc.reasons), **changes}
    return msgspec.structs.replace(lc, **fields)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    page=st.sampled_from(PAGES),
    seed=st.integers(min_value=0, max_value=10_000),
    mutation=st.sampled_from(sorted(MUTATIONS)),
    where=st.integers(min_value=0, max_value=10_000),
)
def test_the_memoized_check_answers_as_the_uncached_one(
    page: str, seed: int, mutation: str, where: int
) -> None:
    _, compiled, _ = compiled_page(page)
    policy = compiled_page(page)[0].policy
    layout = launch(page, seed)
    assert check_layout(layout, compiled, policy) == []
    k = where % len(layout.components)
    broken = replaced(layout, k, MUTATIONS[mutation](layout.components[k]))
    expected = check_layout(broken, compiled, policy, memo=False)
    assert check_layout(broken, compiled, policy) == expected  # the memo holds the served one
    assert check_layout(broken, compiled, policy) == expected  # now it holds the broken one too
    assert check_layout(layout, compiled, policy) == []


def test_a_broken_component_with_a_served_ones_id_is_refused() -> None:
    engine, compiled, _ = compiled_page("home")
    layout = engine.layout(compiled, PERSONAS["elderly"], Context())
    assert check_layout(layout, compiled, engine.policy) == []  # every verdict remembered
    k, lc = next((k, lc) for k, lc in enumerate(layout.components) if lc.id == "search")
    broken = replaced(layout, k, msgspec.structs.replace(lc, font_px=1.0))
    problems = check_layout(broken, compiled, engine.policy)
    assert problems == check_layout(broken, compiled, engine.policy, memo=False)
    assert "search: font 1.0 < catalogue minimum 14.0" in problems
    assert "search: elderly font 1.0 < 24.0" in problems


def test_a_component_mutated_in_place_after_its_check_is_checked_again() -> None:
    engine, compiled, _ = compiled_page("home")
    served = engine.layout(compiled, PERSONAS["elderly"], Context())
    layout = msgspec.structs.replace(served, components=[copied(lc) for lc in served.components])
    assert check_layout(layout, compiled, engine.policy) == []
    banner = next(lc for lc in layout.components if lc.id == "notice")
    banner.props["autoplay"] = True
    assert check_layout(layout, compiled, engine.policy) == [
        "notice: animated component auto-plays with motion reduced"
    ]


def test_the_same_bytes_in_another_context_are_checked_again() -> None:
    """no_autoplay reads the theme's motion: a verdict reached with full motion is not reused
    with reduced motion (elderly mode, where the verdicts are remembered)."""
    engine, compiled, _ = compiled_page("home")
    layout = engine.layout(compiled, PERSONAS["elderly"], Context())
    assert layout.theme.motion == "reduced"
    k, lc = next((k, lc) for k, lc in enumerate(layout.components) if lc.id == "notice")
    playing = replaced(layout, k, copied(lc, props={**lc.props, "autoplay": True}))
    full = msgspec.structs.replace(
        playing, theme=msgspec.structs.replace(playing.theme, motion="full")
    )
    assert check_layout(full, compiled, engine.policy) == ["elderly: motion must be reduced"]
    problems = check_layout(playing, compiled, engine.policy)
    assert problems == ["notice: animated component auto-plays with motion reduced"]
    assert problems == check_layout(playing, compiled, engine.policy, memo=False)


def test_the_verdict_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(check_module, "MEMO_CONTEXTS", 2)
    monkeypatch.setattr(check_module, "MEMO_COMPONENTS", 40)
    engine, served, template = compiled_page("product")
    compiled = engine.compile(template, served.version)  # empty memos
    for seed in range(40):
        layout = launch("product", seed)
        assert check_layout(layout, compiled, engine.policy) == []
        assert check_layout(layout, compiled, engine.policy) == []
        assert len(compiled.checked) <= 2
        assert all(len(memo) <= 40 for memo in compiled.checked.values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=st.sampled_from(PAGES), seeds=st.lists(st.integers(0, 10_000), min_size=1, max_size=4))
def test_a_warm_render_serves_the_bytes_of_a_cold_one(page: str, seeds: list[int]) -> None:
    engine, warm, template = compiled_page(page)
    cold = engine.compile(template, warm.version)  # empty memos
    for seed in seeds:
        profile, context = random_inputs(random.Random(seed), template, seed)
        plan = engine.plan(warm, profile, context, day=seed)
        assert plan == engine.plan(cold, profile, context, day=seed)
        body = encode_layout(engine.render(warm, plan))
        assert body == encode_layout(engine.render(cold, plan))
        cold = engine.compile(template, warm.version)


def test_the_render_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render_module, "RENDERED_LAUNCHES", 3)
    monkeypatch.setattr(render_module, "RENDERED_MAX", 30)
    engine, warm, template = compiled_page("home")
    fresh = engine.compile(template, warm.version)
    for seed in range(30):
        profile, context = random_inputs(random.Random(seed), template, seed)
        plan = engine.plan(fresh, profile, context, day=seed)
        body = encode_layout(engine.render(fresh, plan))
        assert body == encode_layout(engine.render(warm, plan))
        assert len(fresh.rendered) <= 3
        assert all(len(memo) <= 30 for memo in fresh.rendered.values())

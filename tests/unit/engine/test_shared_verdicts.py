"""The final check's verdicts on shared renderings never change an answer (issue 26).

`check` takes the verdict it reached on a shared rendering of the compiled template (a static
row's component or a memoized touched one, `CompiledTemplate.shared`) for the same object in
the same check context (`check._shared`). Compared here against the check without memos
(`memo=False`): on seeded launches of every page, and on a broken component registered as
shared (what a render serving a broken rendering would do) checked in several contexts. And
the premise: nothing the engine does mutates a shared rendering.
"""

from __future__ import annotations

import random

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadtests.bench_engine import random_inputs
from tests.helpers.engine import all_pages, compiled_page
from tests.unit.engine.test_engine_memos import MUTATIONS, copied, replaced
from uiserver.engine import PERSONAS, CompiledTemplate, Engine, check_layout
from uiserver.engine.compiled import share
from uiserver.schema import Context, Layout, Profile

PAGES = all_pages()


def fresh(page: str) -> tuple[Engine, CompiledTemplate, random.Random]:
    engine, served, template = compiled_page(page)
    return engine, engine.compile(template, served.version), random.Random(page)


def contexts(layout: Layout) -> list[Layout]:
    """`layout` in its own check context and in three others (motion, line height)."""
    theme = layout.theme
    other_motion = "full" if theme.motion != "full" else "reduced"
    return [
        layout,
        msgspec.structs.replace(layout, theme=msgspec.structs.replace(theme, motion=other_motion)),
        msgspec.structs.replace(
            layout, theme=msgspec.structs.replace(theme, line_height=theme.line_height * 2)
        ),
        msgspec.structs.replace(
            layout, theme=msgspec.structs.replace(theme, line_height=theme.line_height / 4)
        ),
    ]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    page=st.sampled_from(PAGES),
    seed=st.integers(min_value=0, max_value=10_000),
    mutation=st.sampled_from(sorted(MUTATIONS)),
    where=st.integers(min_value=0, max_value=10_000),
    order=st.permutations(range(4)),
)
def test_a_shared_broken_rendering_is_refused_as_the_uncached_check_refuses_it(
    page: str, seed: int, mutation: str, where: int, order: list[int]
) -> None:
    engine, compiled, _ = fresh(page)
    profile, context = random_inputs(random.Random(seed), compiled.template, seed)
    layout = engine.layout(compiled, profile, context, day=seed)
    assert check_layout(layout, compiled, engine.policy) == []
    k = where % len(layout.components)
    broken = replaced(layout, k, share(compiled, MUTATIONS[mutation](layout.components[k])))
    variants = contexts(broken)
    for i in order:  # the contexts in any order: a verdict never leaks into another one
        expected = check_layout(variants[i], compiled, engine.policy, memo=False)
        assert check_layout(variants[i], compiled, engine.policy) == expected
        assert check_layout(variants[i], compiled, engine.policy) == expected
    assert check_layout(layout, compiled, engine.policy) == []


def test_a_shared_rendering_checked_with_full_motion_is_checked_again_with_reduced() -> None:
    engine, compiled, _ = fresh("home")
    layout = engine.layout(compiled, PERSONAS["elderly"], Context())
    assert layout.theme.motion == "reduced"
    k, lc = next((k, lc) for k, lc in enumerate(layout.components) if lc.id == "notice")
    playing = replaced(layout, k, share(compiled, copied(lc, props={**lc.props, "autoplay": True})))
    full = msgspec.structs.replace(
        playing, theme=msgspec.structs.replace(playing.theme, motion="full")
    )
    assert check_layout(full, compiled, engine.policy) == ["elderly: motion must be reduced"]
    assert check_layout(playing, compiled, engine.policy) == [
        "notice: animated component auto-plays with motion reduced"
    ]


def test_a_shared_rendering_checked_in_elderly_mode_is_checked_again_in_standard() -> None:
    """A font of 20 px is fine in standard mode (the catalogue's floor is 14) and refused in
    elderly mode (24): the same shared object gets each mode's verdict, in either order."""
    engine, compiled, _ = fresh("home")
    standard = engine.layout(compiled, Profile(user_id="u1"), Context())
    assert standard.mode == "standard"
    k, lc = next((k, lc) for k, lc in enumerate(standard.components) if lc.id == "search")
    broken = replaced(standard, k, share(compiled, copied(lc, font_px=20.0)))
    as_elderly = msgspec.structs.replace(broken, mode="elderly")
    refused = "search: elderly font 20.0 < 24.0"
    assert refused in check_layout(as_elderly, compiled, engine.policy)
    assert check_layout(broken, compiled, engine.policy) == []
    assert refused in check_layout(as_elderly, compiled, engine.policy)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=st.sampled_from(PAGES), start=st.integers(min_value=0, max_value=10_000))
def test_seeded_launches_are_checked_as_without_memos(page: str, start: int) -> None:
    engine, compiled, _ = fresh(page)
    for seed in range(start, start + 60):
        profile, context = random_inputs(random.Random(seed), compiled.template, seed)
        layout = engine.layout(compiled, profile, context, day=seed)
        problems = check_layout(layout, compiled, engine.policy)
        assert problems == check_layout(layout, compiled, engine.policy, memo=False)
        assert problems == []


def test_no_launch_mutates_a_shared_rendering() -> None:
    encode = msgspec.msgpack.Encoder().encode
    for page in PAGES:
        engine, compiled, _ = fresh(page)
        for seed in range(150):
            profile, context = random_inputs(random.Random(seed), compiled.template, seed)
            engine.layout(compiled, profile, context, day=seed)
        before = {key: (lc, encode(lc)) for key, lc in compiled.shared.items()}
        assert len(before) > len(compiled.template.components)
        for seed in range(150, 450):
            profile, context = random_inputs(random.Random(seed), compiled.template, seed)
            engine.layout(compiled, profile, context, day=seed)
        assert all(encode(lc) == raw for lc, raw in before.values())

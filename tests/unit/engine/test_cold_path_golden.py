"""The engine's cold path keeps its exact output (issue 26, cold-path optimisations).

Every optimisation of `Engine.plan` / `Engine.render` / `encode_layout` must leave plans and
layout bytes unchanged. The reference (`data/cold_path_golden.json`) was written by the engine
before those optimisations: for every shipped page, 120 seeded random launches shaped like
`loadtests/bench_engine.py` traffic plus every persona in light and dark themes on a phone and a
desktop, one 16-hex-digit digest of (plan fingerprint, encoded layout) per launch.

Regenerate only for an intended output change:
    python -m tests.unit.engine.test_cold_path_golden
"""

from __future__ import annotations

import json
import random
from functools import cache
from hashlib import blake2b
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtests.bench_engine import random_inputs
from tests.helpers.engine import all_pages, compiled_page
from uiserver.engine import (
    PERSONAS,
    CompiledTemplate,
    Engine,
    encode_layout,
    lis_length,
    plan_fingerprint,
)
from uiserver.schema import Context, Profile

# The pages `random_inputs` can draw from (12 affinity keys or more): home, product, category.
PAGES = [
    page
    for page in all_pages()
    if len({c.category or c.id for c in compiled_page(page)[2].components}) >= 12
]
GOLDEN = Path(__file__).parent / "data" / "cold_path_golden.json"
RANDOM_LAUNCHES = 120
SEED = 26_2026
CONTEXTS = (
    Context(),
    Context(dark=True),
    Context(device="desktop", width=1280, dark=True, font_px=24.0),
    Context(device="tablet", width=768, low_power=True),
)


@cache
def page_of(page: str) -> tuple[Engine, CompiledTemplate]:
    engine, compiled, _ = compiled_page(page)
    return engine, compiled


def launches(page: str) -> list[tuple[str, Profile, Context, int]]:
    """(case name, profile, context, day) of every reference launch of `page`."""
    _, compiled = page_of(page)
    rng = random.Random(f"{SEED}-{page}")
    cases = [
        (f"random-{i}", *random_inputs(rng, compiled.template, i), 20_000 + i)
        for i in range(RANDOM_LAUNCHES)
    ]
    for name, profile in PERSONAS.items():
        for j, context in enumerate(CONTEXTS):
            cases.append((f"{name}-{j}", profile, context, 20_400))
    return cases


def digests(page: str) -> dict[str, str]:
    """Case name -> digest of (plan fingerprint, layout bytes) for every launch of `page`."""
    engine, compiled = page_of(page)
    out: dict[str, str] = {}
    for name, profile, context, day in launches(page):
        plan = engine.plan(compiled, profile, context, day=day)
        body = encode_layout(engine.render(compiled, plan))
        h = blake2b(digest_size=8)
        h.update(plan_fingerprint(compiled.version, plan))
        h.update(body)
        out[name] = h.hexdigest()
    return out


@pytest.mark.parametrize("page", PAGES)
def test_plans_and_bodies_match_the_reference(page: str) -> None:
    expected: dict[str, str] = json.loads(GOLDEN.read_text())[page]
    got = digests(page)
    changed = sorted(name for name in expected if got.get(name) != expected[name])
    assert not changed, f"{page}: {len(changed)} launches changed, e.g. {changed[:5]}"
    assert got.keys() == expected.keys()


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps({page: digests(page) for page in PAGES}, indent=0) + "\n")


@given(st.lists(st.integers(min_value=0, max_value=12), max_size=30))
def test_lis_length_is_the_longest_strictly_increasing_subsequence(seq: list[int]) -> None:
    """The fast path of `lis_length` (extend without a search) against the O(n^2) DP."""
    best = [1] * len(seq)
    for j in range(len(seq)):
        for i in range(j):
            if seq[i] < seq[j]:
                best[j] = max(best[j], best[i] + 1)
    assert lis_length(seq) == max(best, default=0)

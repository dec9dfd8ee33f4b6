"""Every variant serves its weight share of the 10,000 buckets to within one bucket (scheme 3),
counted through the engine's plan over one user per bucket: the shipped experiments, and
several experiment ids and weight sets (2, 3 and 5 variants). Only the engine's public API is
used, so the same test measures any bucketing scheme (scheme 2 served 4,949 / 5,051 for the
shipped 50/50)."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.helpers.engine import (
    compiled_page,
    mini_engine,
    mini_template,
    served_split,
    shipped_templates,
)
from uiserver.catalog import template_version
from uiserver.engine.hashing import BUCKETS


def _within_one(split: Counter[str | None], weights: list[tuple[str, int]]) -> None:
    total = sum(w for _, w in weights)
    assert sum(split.values()) == BUCKETS
    assert split[None] == 0, "every bucket serves a variant"
    for name, weight in weights:
        assert abs(split[name] - BUCKETS * weight / total) < 1, (name, split)


def test_the_shipped_home_experiment_splits_exactly_5000_5000() -> None:
    engine, compiled, home = compiled_page("home")
    assert [(v.name, v.weight) for v in home.variants] == [("control", 50), ("deals_first", 50)]
    assert served_split(engine, compiled) == {"control": 5_000, "deals_first": 5_000}


def test_every_shipped_experiment_splits_within_one_bucket() -> None:
    running = {p: t for p, t in shipped_templates().items() if t.experiment and t.variants}
    assert running, "layouts/ ships an experiment"
    for page in running:
        engine, compiled, template = compiled_page(page)
        _within_one(served_split(engine, compiled), [(v.name, v.weight) for v in template.variants])


SPLITS = [
    pytest.param("exp", [("control", 50), ("variant", 50)], id="exp-control-variant-50-50"),
    pytest.param("checkout_v2", [("control", 50), ("variant", 50)], id="checkout-50-50"),
    pytest.param(
        "home_deals_position_v1", [("control", 50), ("variant", 50)], id="home-id-control-variant"
    ),
    pytest.param("exp", [("control", 90), ("variant", 10)], id="exp-90-10"),
    pytest.param("banner_test", [("control", 9), ("variant", 1)], id="banner-9-1"),
    pytest.param("exp", [("a", 1), ("b", 1), ("c", 1)], id="three-1-1-1"),
    pytest.param("search_v3", [("a", 33), ("b", 33), ("c", 34)], id="three-33-33-34"),
    pytest.param("exp", [("a", 1), ("b", 2)], id="one-third"),
    pytest.param(
        "onboarding", [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5)], id="five-1-to-5"
    ),
    pytest.param("five_even", [(n, 7) for n in "vwxyz"], id="five-even"),
    pytest.param("zeroed", [("off", 0), ("a", 1), ("b", 1)], id="a-zero-weight"),
]


@pytest.mark.parametrize(("experiment", "weights"), SPLITS)
def test_split_over_all_buckets_is_the_weights_to_within_one(
    experiment: str, weights: list[tuple[str, int]]
) -> None:
    variants = [{"name": n, "weight": w} for n, w in weights]
    template = mini_template(experiment=experiment, variants=variants)
    compiled = mini_engine().compile(template, template_version(template))
    split = served_split(mini_engine(), compiled)
    _within_one(split, weights)
    if weights == [("control", 50), ("variant", 50)]:
        assert split == {"control": 5_000, "variant": 5_000}
    if [w for _, w in weights] in ([90, 10], [9, 1]):
        assert split == {"control": 9_000, "variant": 1_000}

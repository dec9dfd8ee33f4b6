"""The experiment readout's expected shares are the allocation being served: an exactly allocated
experiment with exact exposures (30 users in each of the 10,000 buckets: 300,000 users, the
issue's count) is not flagged by the SRM check; during a staged rollout the two versions'
allocations mix by its percent."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests.helpers.engine import served_split
from tests.helpers.units import AUTHOR, Publishing, publishing, template
from uiserver.admin.experiments import experiment_readout, experiments
from uiserver.catalog import template_to_json, template_version
from uiserver.engine.readout import VariantCounts
from uiserver.schema import Template, VariantSpec
from uiserver.store.base import ActivityStore, Conversion, Exposure, PublishOptions

pytestmark = pytest.mark.anyio

PER_BUCKET = 30  # users in every bucket: exposures exactly as allocated


class ExactCounts:
    """An `ActivityStore` whose experiment counts are given: exact exposures per variant."""

    def __init__(self, exposed: Mapping[str, int]) -> None:
        self.exposed = dict(exposed)

    async def record_activity(
        self, launches: Mapping[str, tuple[int, int, int]], exposures: Sequence[Exposure]
    ) -> None:
        raise AssertionError("the readout writes nothing")

    async def record_conversions(self, user_id: str, conversions: Sequence[Conversion]) -> int:
        raise AssertionError("the readout writes nothing")

    async def experiment_counts(
        self, experiment: str, variants: Sequence[str], cohort: str | None = None
    ) -> list[VariantCounts]:
        exposed = self.exposed if cohort is None else {}
        return [VariantCounts(v, exposed=exposed.get(v, 0), exact=True) for v in variants]

    async def experiment_version(self, experiment: str) -> int:
        return id(self)  # one set of counts per instance


def _counts(exposed: Mapping[str, int]) -> ActivityStore:
    return ExactCounts(exposed)


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[Publishing]:
    async with publishing(tmp_path) as made:
        yield made


async def _publish(parts: Publishing, page: Template, rollout: int | None = None) -> None:
    options = PublishOptions(rollout=rollout) if rollout is not None else None
    await parts.store.templates.publish(
        page.page, template_version(page), template_to_json(page), AUTHOR, "", 1.0, options
    )
    await parts.live.reload()


def _home(weights: Sequence[tuple[str, int]]) -> Template:
    return template("home", variants=[VariantSpec(name=n, weight=w) for n, w in weights])


def _exposed(parts: Publishing, per_bucket: int = PER_BUCKET) -> Counter[str]:
    """Exposures of the live version when every bucket has `per_bucket` users, counted by what
    the engine serves (one user per bucket through `Engine.plan`)."""
    split = served_split(parts.engine, parts.live.page("home").compiled)
    assert split[None] == 0
    return Counter({v: n * per_bucket for v, n in split.items() if v is not None})


@pytest.mark.parametrize("per_bucket", [pytest.param(30, id="300k"), pytest.param(100, id="1M")])
async def test_the_shipped_50_50_with_exact_exposures_is_not_flagged(
    parts: Publishing, per_bucket: int
) -> None:
    await _publish(parts, template("home"))
    exposed = _exposed(parts, per_bucket)
    assert sum(exposed.values()) == per_bucket * 10_000
    found = await experiment_readout(parts.live, _counts(exposed), "home")
    assert found.srm is not None
    assert not found.srm.flagged, found.srm  # scheme 2 served 4,949 / 5,051: p = 2e-8
    assert found.srm.p_value > 0.5
    assert [v.share for v in found.variants] == [0.5, 0.5]


@pytest.mark.parametrize(
    "weights",
    [
        pytest.param([("control", 90), ("deals_first", 10)], id="90-10"),
        pytest.param([("control", 1), ("deals_first", 1), ("third", 1)], id="1-1-1"),
        pytest.param([("control", 1), ("deals_first", 2), ("c", 3), ("d", 4), ("e", 5)], id="5"),
    ],
)
async def test_exact_exposures_of_other_splits_are_not_flagged(
    parts: Publishing, weights: list[tuple[str, int]]
) -> None:
    await _publish(parts, _home(weights))
    exposed = _exposed(parts)
    found = await experiment_readout(parts.live, _counts(exposed), "home")
    assert found.srm is not None and not found.srm.flagged, found.srm
    allocation = parts.live.page("home").compiled.allocation
    assert allocation is not None
    counts = allocation.counts()
    assert [v.share for v in found.variants] == [counts[n] / 10_000 for n, _ in weights]


async def test_a_staged_rollout_mixes_both_allocations(parts: Publishing) -> None:
    """50/50 live, 90/10 staged to half the users: users really get 70/30, and the readout's
    shares say that. No SRM check: the experiment's exposures so far mix 50/50 (before the
    rollout) with 70/30 and later splits, so no one split is expected (by the weights, 90/10,
    it would flag at any size; by 70/30, a week of 50/50 before would)."""
    await _publish(parts, template("home"))
    before = _exposed(parts)
    await _publish(parts, _home([("control", 90), ("deals_first", 10)]), rollout=50)
    live = parts.live.page("home")
    assert live.rollout is not None and live.previous is not None
    after = _exposed(parts)
    exposed = {v: (before[v] + after[v]) // 2 for v in ("control", "deals_first")}
    assert exposed == {"control": 210_000, "deals_first": 90_000}
    found = await experiment_readout(parts.live, _counts(exposed), "home")
    assert found.srm is None and found.split_changed, found.srm
    assert [round(v.share, 6) for v in found.variants] == [0.7, 0.3]
    listed = {e.page: e for e in await experiments(parts.live, _counts(exposed))}["home"]
    assert [(v.share, round(v.allocated_share, 6), v.buckets) for v in listed.variants] == [
        (0.9, 0.7, 9_000),
        (0.1, 0.3, 1_000),
    ]


async def test_a_real_mismatch_is_still_flagged(parts: Publishing) -> None:
    await _publish(parts, template("home"))
    found = await experiment_readout(
        parts.live, _counts({"control": 151_000, "deals_first": 149_000}), "home"
    )
    assert found.srm is not None and found.srm.flagged


async def test_variant_shares_report_the_allocation(parts: Publishing) -> None:
    await _publish(parts, _home([("control", 1), ("deals_first", 1), ("third", 1)]))
    listed = {e.page: e for e in await experiments(parts.live, _counts({}))}["home"]
    assert [v.share for v in listed.variants] == [pytest.approx(1 / 3)] * 3
    assert sorted(v.buckets for v in listed.variants) == [3_333, 3_333, 3_334]
    assert [v.allocated_share for v in listed.variants] == [
        v.buckets / 10_000 for v in listed.variants
    ]

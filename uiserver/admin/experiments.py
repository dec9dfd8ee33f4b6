"""Experiments as designers and operators see them: each live page's variants, their shares of
users and the readout of what they did (`engine.readout`): for everyone and per cohort, with
the exposure figures (users exposed to more than one variant, ignored conversions, the
attribution rule), cached until the experiment's counts change.

A variant's real share of users is its share of the bucket allocation being served
(`engine.allocation`: the weights' share to within one bucket in 10,000); during a staged
rollout of a version with the same experiment, the two versions' allocations mixed by the
rollout's percent. The readout's `share` and its SRM checks use that, not the weights."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Hashable, Sequence
from operator import sub

import msgspec

from uiserver.admin.errors import NotFound
from uiserver.datastructures import BoundedDict, Coalescer
from uiserver.engine.activity import MODES, STAGES
from uiserver.engine.allocation import Allocation
from uiserver.engine.compiled import initial_allocation
from uiserver.engine.hashing import BUCKETS
from uiserver.engine.readout import CohortReadout, ExperimentReadout, VariantCounts, readout
from uiserver.schema import Template
from uiserver.serving.pages import LivePage, LivePages
from uiserver.store.allocations import experiment_of as _experiment_of
from uiserver.store.allocations import served
from uiserver.store.base import ActivityStore, TemplateRecord, TemplateStore
from uiserver.users.ids import shown


class VariantShare(msgspec.Struct):
    """An A/B variant and the share of users it gets: `share` is its weight normalised (the
    weights sum to 1), `allocated_share` its share of the buckets served now (of 10,000,
    `buckets`), what users really get and what the SRM check expects."""

    name: str
    weight: int
    share: float
    order: list[str] | None
    theme: bool
    props: list[str]
    changes: list[str]
    allocated_share: float = 0.0
    buckets: int = 0


class Experiment(msgspec.Struct):
    page: str
    experiment: str | None
    variants: list[VariantShare]
    readout: ExperimentReadout | None = None  # counts so far (pages running an experiment)


def variant_shares(
    template: Template, allocation: Allocation | None = None, real: Sequence[float] | None = None
) -> list[VariantShare]:
    """The template's variants with their weight shares, the buckets `allocation` gives each
    (default: the template's initial allocation) and their real shares (`real`, in template
    order; default: the allocation's)."""
    total = sum(v.weight for v in template.variants)
    if allocation is None:
        allocation = initial_allocation(template)
    counts = allocation.counts() if allocation is not None else {}
    names = [v.name for v in template.variants]
    shares = list(real) if real is not None else [counts.get(n, 0) / BUCKETS for n in names]
    return [
        VariantShare(
            name=v.name,
            weight=v.weight,
            share=(v.weight / total) if total else 0.0,
            order=v.order,
            theme=v.theme is not None,
            props=sorted(v.props),
            changes=(["component order"] if v.order else [])
            + (["theme"] if v.theme is not None else [])
            + [f"props of {cid}" for cid in sorted(v.props)],
            allocated_share=shares[i],
            buckets=counts.get(v.name, 0),
        )
        for i, v in enumerate(template.variants)
    ]


def served_shares(live: LivePage) -> list[float] | None:
    """Each variant's real share of users now, in template order: its share of the served
    allocation; during a staged rollout whose previous version runs the same experiment, the
    two allocations mixed by the rollout's percent (rollout buckets are exact too). None
    without an allocation."""
    allocation = live.compiled.allocation
    if allocation is None:
        return None
    names = [v.name for v in live.template.variants]
    shares = allocation.shares(names)
    rollout, previous = live.rollout, live.previous
    if rollout is None or previous is None or rollout.percent >= 100:
        return shares
    before = previous.compiled.allocation
    if before is None or before.experiment != allocation.experiment:
        return shares
    p = rollout.percent / 100
    return [p * now + (1 - p) * was for now, was in zip(shares, before.shares(names), strict=True)]


def _shares_of(live: LivePage) -> list[VariantShare]:
    return variant_shares(live.template, live.compiled.allocation, served_shares(live))


async def experiments(pages: LivePages, counts: ActivityStore) -> list[Experiment]:
    """Every live page's experiment, variant shares and readout, by page name; then every
    archived page that ran an experiment (its last published version, readout `archived`)."""
    await pages.sync()
    out = [
        Experiment(
            page,
            live.template.experiment,
            _shares_of(live),
            await _readout(live, counts, pages) if live.template.variants else None,
        )
        for page, live in sorted(pages.pages.items())
    ]
    for page in sorted(pages.archived - pages.pages.keys()):
        archived = await _archived(pages, page)
        if archived is None or not archived.template.variants:
            continue
        result = await _readout(archived, counts, pages)
        out.append(
            Experiment(
                page,
                archived.template.experiment,
                _shares_of(archived),
                msgspec.structs.replace(result, archived=True),
            )
        )
    return out


async def _archived(pages: LivePages, page: str) -> LivePage | None:
    """The last published version of a page that is not served (archived), compiled here as
    loading would, for its readout only; None for a page never published."""
    state = (await pages.templates.states(page)).get(page)
    return None if state is None else pages._compile(state.head)


async def experiment_readout(
    pages: LivePages, counts: ActivityStore, page: str, experiment: str | None = None
) -> ExperimentReadout:
    """`GET /v1/admin/experiments/{page}`: NotFound for a page never published; an empty
    readout (no variants, a note) for a page without an experiment. An archived page keeps
    its counts: its experiment reads out as its last published version, marked `archived`.
    `experiment` (`?experiment=`): another experiment the page ran (replaced by the one it
    runs now, or by none) reads out as the page's newest version that ran it, marked
    `ended`; NotFound (field `experiment`) when the page never ran it."""
    await pages.sync()
    live = pages.pages.get(page)
    if live is None:
        live = await _archived(pages, page)
        if live is None:
            raise NotFound(f"no page {shown(page)}", "page")
    archived = page in pages.archived
    if experiment is not None and experiment != live.template.experiment:
        live = await _ran(pages, page, experiment)
        result = await _readout(live, counts, pages)
        return msgspec.structs.replace(result, archived=archived, ended=True)
    result = await _readout(live, counts, pages)
    return msgspec.structs.replace(result, archived=archived) if archived else result


async def _ran(pages: LivePages, page: str, experiment: str) -> LivePage:
    """The page's newest version that ran `experiment`, compiled for its readout only."""
    for record in await pages.templates.history(page):
        if _experiment_of(record) == experiment:
            return pages._compile(record)
    raise NotFound(f"page {shown(page)} never ran experiment {shown(experiment)}", "experiment")


ATTRIBUTION = (
    "A user served a variant is exposed to it (every variant served, from its first serve). "
    "A conversion counts for each variant the user was exposed to before it (60 s of client "
    "clock skew allowed), each user once per variant as a converter; conversions dated before "
    "the user's first exposure to the experiment are ignored. Users exposed to more than one "
    "variant (moved by a weight edit) count in each: see multiple_exposures."
)
COHORT_NOTE = (
    "Cohort rows count users by their cohort when first exposed to the variant (layout mode; "
    "new: the new_user rule); users with personalization off are in no cohort."
)
# dimension -> its cohorts (`engine.activity.MODES`, `STAGES`)
DIMENSIONS = (("mode", MODES), ("stage", STAGES))
READOUT_CACHE = 256  # readouts kept per store (pages x template versions)

# Readouts cached per store until the experiment's data version moves (`experiment_version`
# changes on every count written, on every replica); weakly keyed so a closed store's go too.
_cache: weakref.WeakKeyDictionary[ActivityStore, BoundedDict[Hashable, ExperimentReadout]] = (
    weakref.WeakKeyDictionary()
)
_coalesce: Coalescer[Hashable, ExperimentReadout] = Coalescer()


async def _readout(live: LivePage, counts: ActivityStore, pages: LivePages) -> ExperimentReadout:
    """The readout of the page's experiment from the store's counts (empty without one), with
    a row per cohort, its SRM checks left out when the split changed (`split_changes`);
    cached until the experiment's counts change."""
    template = live.template
    weights = [(v.name, v.weight) for v in template.variants]
    if template.experiment is None or not weights:
        return readout(template.page, None, [], [])
    experiment = template.experiment
    version = await counts.experiment_version(experiment)
    shares = served_shares(live)
    key = (template.page, live.record.version, experiment, version, tuple(shares or ()))
    cache = _cache.get(counts)
    if cache is None:
        cache = _cache[counts] = BoundedDict(READOUT_CACHE)
    found = cache.get(key)
    if found is not None:
        return found

    async def compute() -> ExperimentReadout:
        result = await _compute(template.page, experiment, weights, counts, shares)
        splits = await split_changes(pages.templates, template.page, experiment, weights)
        if splits > 1:
            result = _without_srm(result, splits)
        cache[key] = result
        return result

    return await _coalesce.run((id(counts), key), compute)


async def _compute(
    page: str,
    experiment: str,
    weights: list[tuple[str, int]],
    counts: ActivityStore,
    shares: list[float] | None = None,
) -> ExperimentReadout:
    names = [name for name, _ in weights]
    cohorts = [(dimension, c) for dimension, values in DIMENSIONS for c in values]
    everyone, *by_cohort = await asyncio.gather(
        counts.experiment_counts(experiment, names),
        *(counts.experiment_counts(experiment, names, cohort=c) for _, c in cohorts),
    )
    result = _with_exposure(readout(page, experiment, weights, everyone, shares=shares), everyone)
    rows = []
    for (dimension, cohort), found in zip(cohorts, by_cohort, strict=True):
        part = _with_exposure(readout(page, experiment, weights, found, shares=shares), found)
        rows.append(CohortReadout(cohort, dimension, part.variants, part.srm, part.exposed_users))
    return msgspec.structs.replace(result, cohorts=rows, notes=[*result.notes, COHORT_NOTE])


SAME_SPLIT = 2 / BUCKETS  # shares this close are one split (rounding to whole buckets)
SPLIT_NOTE = (
    "The split changed during the experiment ({splits} different splits were published for "
    "it): exposed users counted since the start mix them, so no SRM check is made against "
    "the current split (it would flag a healthy experiment). Publish under a new experiment "
    "id to check the split again."
)


async def split_changes(
    templates: TemplateStore, page: str, experiment: str, weights: Sequence[tuple[str, int]]
) -> int:
    """How many different splits of the readout's variants (`weights`' names) the page's
    published versions of `experiment` served: each version's allocation shares over those
    names, normalised (a version serving none of them, or no allocation, exposed nobody to
    them). Exposures are counted over the experiment's life, so with more than one split an
    SRM check against the current one compares a mixture with one of its parts."""
    names = [name for name, _ in weights]
    seen: list[list[float]] = []
    for record in await templates.history(page):
        ran, counts = _served_counts(record)
        if ran != experiment:
            continue
        total = sum(counts.get(name, 0) for name in names)
        if not total:
            continue
        split = [counts.get(name, 0) / total for name in names]
        # Within a bucket or so of a split seen: the same (exact counts round each share).
        if not any(max(map(abs, map(sub, split, other))) <= SAME_SPLIT for other in seen):
            seen.append(split)
    return len(seen)


# (page, version, stored allocation) -> (experiment, buckets per variant): a stored entry never
# changes (a version names one document), so a readout decodes each allocation once (~260 us).
_SERVED: BoundedDict[tuple[str, str, bytes], tuple[str | None, dict[str, int]]] = BoundedDict(4096)


def _served_counts(record: TemplateRecord) -> tuple[str | None, dict[str, int]]:
    """The experiment `record` serves and its buckets per variant (None, {}: none)."""
    key = (record.page, record.version, record.allocation)
    found = _SERVED.get(key)
    if found is None:
        allocation = served(record)
        found = (None, {}) if allocation is None else (allocation.experiment, allocation.counts())
        _SERVED[key] = found
    return found


def _without_srm(result: ExperimentReadout, splits: int) -> ExperimentReadout:
    """`result` without SRM checks (overall and per cohort), saying why."""
    cohorts = [msgspec.structs.replace(row, srm=None) for row in result.cohorts]
    notes = [*result.notes, SPLIT_NOTE.format(splits=splits)]
    return msgspec.structs.replace(
        result, srm=None, cohorts=cohorts, notes=notes, split_changed=True
    )


def _with_exposure(result: ExperimentReadout, found: list[VariantCounts]) -> ExperimentReadout:
    """The readout with the exposure figures: users exposed to more than one variant, ignored
    conversions by reason, the attribution rule."""
    multiple = sum(c.switched for c in found)
    early = sum(c.early for c in found)
    notes = list(result.notes)
    if multiple:
        notes.append(
            f"{multiple} users were exposed to more than one variant (moved by a weight edit): "
            "each counts as exposed in every variant served, and their conversions count for "
            "each variant served before the conversion."
        )
    if early:
        notes.append(f"{early} conversions dated before the user's first exposure were ignored.")
    variants = [
        msgspec.structs.replace(v, multiple_exposures=c.multi)
        for v, c in zip(result.variants, found, strict=True)
    ]
    return msgspec.structs.replace(
        result,
        variants=variants,
        multiple_exposures=multiple,
        ignored_conversions={"before_exposure": early},
        attribution=ATTRIBUTION,
        notes=notes,
    )

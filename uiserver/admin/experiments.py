"""Experiments as designers and operators see them: each live page's variants, their shares of
users and the readout of what they did (`engine.readout`)."""

from __future__ import annotations

import msgspec

from uiserver.admin.errors import NotFound
from uiserver.engine.readout import ExperimentReadout, readout
from uiserver.schema import Template
from uiserver.serving.pages import LivePage, LivePages
from uiserver.store.base import ActivityStore


class VariantShare(msgspec.Struct):
    """An A/B variant and the share of users it gets (weights normalised to 1)."""

    name: str
    weight: int
    share: float
    order: list[str] | None
    theme: bool
    props: list[str]
    changes: list[str]


class Experiment(msgspec.Struct):
    page: str
    experiment: str | None
    variants: list[VariantShare]
    readout: ExperimentReadout | None = None  # counts so far (pages running an experiment)


def variant_shares(template: Template) -> list[VariantShare]:
    total = sum(v.weight for v in template.variants)
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
        )
        for v in template.variants
    ]


async def experiments(pages: LivePages, counts: ActivityStore) -> list[Experiment]:
    """Every live page's experiment, variant shares and readout, by page name."""
    await pages.sync()
    return [
        Experiment(
            page,
            live.template.experiment,
            variant_shares(live.template),
            await _readout(live, counts) if live.template.variants else None,
        )
        for page, live in sorted(pages.pages.items())
    ]


async def experiment_readout(
    pages: LivePages, counts: ActivityStore, page: str
) -> ExperimentReadout:
    """`GET /v1/admin/experiments/{page}`: NotFound for a page never published; an empty
    readout (no variants, a note) for a page without an experiment. An archived page keeps
    its counts: its experiment reads out as its last published version, marked `archived`."""
    await pages.sync()
    live = pages.pages.get(page)
    if live is not None:
        return await _readout(live, counts)
    state = (await pages.templates.states(page)).get(page)
    if state is None:
        raise NotFound(f"no page {page!r}", "page")
    # Not served, so not loaded: compiled here (as loading would) for this readout only.
    result = await _readout(pages._compile(state.head), counts)
    return msgspec.structs.replace(result, archived=state.archived is not None)


async def _readout(live: LivePage, counts: ActivityStore) -> ExperimentReadout:
    """The readout of the page's experiment from the store's counts (empty without one)."""
    template = live.template
    weights = [(v.name, v.weight) for v in template.variants]
    if template.experiment is None or not weights:
        return readout(template.page, None, [], [])
    found = await counts.experiment_counts(template.experiment, [name for name, _ in weights])
    return readout(template.page, template.experiment, weights, found)

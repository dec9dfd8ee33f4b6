"""Experiments as designers and operators see them: each live page's variants, their shares of
users and the readout of what they did (`engine.readout`)."""

from __future__ import annotations

import msgspec

from uiserver.admin.errors import NotFound
from uiserver.engine.readout import ExperimentReadout
from uiserver.schema import Template
from uiserver.service import Service
from uiserver.serving.pages import UnknownPage


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


async def experiments(service: Service) -> list[Experiment]:
    """Every live page's experiment, variant shares and readout, by page name."""
    await service.sync()
    return [
        Experiment(
            page,
            live.template.experiment,
            variant_shares(live.template),
            await service.experiment(page) if live.template.variants else None,
        )
        for page, live in sorted(service.pages.items())
    ]


async def experiment_readout(service: Service, page: str) -> ExperimentReadout:
    """`GET /v1/admin/experiments/{page}`: NotFound for an unknown page; an empty readout
    (no variants, a note) for a page without an experiment."""
    try:
        return await service.experiment(page)
    except UnknownPage:
        raise NotFound(f"no page {page!r}", "page") from None

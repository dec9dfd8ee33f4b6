"""Lint of what a template's elderly variant would serve (长辈版, issue 24): refused at publish
with the clause named, so a designer learns it before any user does.

- a pressure prop (catalogue `pressure`: a countdown, a pop-up, an auto-advancing carousel, an
  inducing button) set on a component elderly mode keeps: elderly layouts never contain one
  (MIIT APP ageing-friendly specification 5.x, clause number from memory; WCAG 2.2.1, 2.2.2);
- a state or badge prop (catalogue `state`) whose value is a colour alone: state is never carried
  by colour only (WCAG 1.4.1; MIIT 1.4).

Both read the component's props and every variant's patch of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from uiserver.catalog import Catalog
from uiserver.engine.colour_cues import colour_only
from uiserver.engine.components import PRESSURE_FLAGS
from uiserver.policy import Policy
from uiserver.schema import ComponentType, Problem, Template


def elderly_removes(ctype: ComponentType) -> bool:
    """Elderly mode removes every component of this type (ads, promotions, pressure types)."""
    return ctype.ad or ctype.promo or any(getattr(ctype, flag) for flag in PRESSURE_FLAGS)


def _patches(template: Template) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
    index = {spec.id: i for i, spec in enumerate(template.components)}
    for i, spec in enumerate(template.components):
        yield f"components[{i}].props", i, spec.props
    for j, variant in enumerate(template.variants):
        for cid, props in variant.props.items():
            if cid in index and props:
                yield f"variants[{j}].props.{cid}", index[cid], props


def check_elderly(template: Template, catalog: Catalog, policy: Policy) -> Iterator[Problem]:
    """Pressure an elderly layout would keep, and colour-only states."""
    for where, i, props in _patches(template):
        ctype = catalog.get(template.components[i].type)
        if ctype is None:
            continue  # reported as an unknown type
        for name, value in props.items():
            spec = ctype.props.get(name)
            if spec is None:
                continue  # reported by the props lint
            if spec.pressure is not None and value and not elderly_removes(ctype):
                yield Problem(
                    f"{where}.{name}",
                    f"{name} puts users under pressure ({spec.pressure}) and elderly mode keeps "
                    f"this {ctype.name}: elderly layouts never contain one (MIIT 5.x; WCAG "
                    "2.2.1, 2.2.2)",
                )
            if spec.state and colour_only(value):
                yield Problem(
                    f"{where}.{name}",
                    f"{name} is a state carried by colour alone: give it text or an icon "
                    "(WCAG 1.4.1; MIIT 1.4)",
                )

"""Lint of what personalization may move: navigation pinned, zones declared and used.

- A component whose role navigates (`navigation`, `tablist`: headers, tab bars, category
  shortcuts) must be `pinned`: navigation stays put (WCAG 3.2.3 consistent navigation).
- `zones` name the parts of a page; affinity reorders components only inside a `movable` one
  (DESIGN section 4: prefer a personalized zone over moving existing components). A component's
  `zone` must be declared; zone names are unique.
"""

from __future__ import annotations

from collections.abc import Iterator

from uiserver.catalog import Catalog
from uiserver.policy import Policy
from uiserver.schema import Problem, Template
from uiserver.types import NAVIGATION_ROLES


def check_navigation_pinned(
    template: Template, catalog: Catalog, policy: Policy
) -> Iterator[Problem]:
    for i, spec in enumerate(template.components):
        ctype = catalog.get(spec.type)
        if ctype is not None and ctype.role in NAVIGATION_ROLES and not spec.pinned:
            yield Problem(
                f"components[{i}].pinned",
                f"a {ctype.name} (role {ctype.role}) is navigation and must be pinned: "
                "navigation never moves (WCAG 3.2.3)",
            )


def check_zones(template: Template, catalog: Catalog, policy: Policy) -> Iterator[Problem]:
    names: set[str] = set()
    for j, zone in enumerate(template.zones):
        if zone.name in names:
            yield Problem(f"zones[{j}].name", f"duplicate zone {zone.name!r}")
        names.add(zone.name)
    for i, spec in enumerate(template.components):
        if spec.zone is None or spec.zone in names:
            continue
        declared = ", ".join(sorted(names)) or "none: add a zones list"
        yield Problem(
            f"components[{i}].zone", f"zone {spec.zone!r} is not declared (declared: {declared})"
        )

"""Elderly reflow keeps a grid's row prop within the catalogue's range: `category_grid.rows` is
1..4 (components/category_grid.yaml); 4 rows of 5 at 3 columns stay 4 rows (before: 7, a prop
the lint refuses in a template, served)."""

from __future__ import annotations

import msgspec

from tests.helpers.engine import compiled_page
from uiserver.catalog import template_version
from uiserver.engine import PERSONAS, Reason
from uiserver.schema import Context, LayoutComponent


def _categories(persona: str, rows: int) -> LayoutComponent:
    engine, _, template = compiled_page("home")
    components = [
        msgspec.structs.replace(s, props={**s.props, "rows": rows}) if s.id == "categories" else s
        for s in template.components
    ]
    changed = msgspec.structs.replace(template, components=components)
    compiled = engine.compile(changed, template_version(changed))
    layout = engine.layout(compiled, PERSONAS[persona], Context())
    return next(c for c in layout.components if c.id == "categories")


def test_grown_rows_stay_within_the_catalogue_maximum() -> None:
    engine, _, _ = compiled_page("home")
    spec = engine.catalog.types["category_grid"].props["rows"]
    assert (spec.minimum, spec.maximum) == (1, 4)
    for rows, expected in ((1, 2), (2, 4), (3, 4), (4, 4)):  # ceil(rows * 5 / 3), at most 4
        grid = _categories("elderly", rows)
        assert grid.props["columns"] == 3 and Reason.ELDERLY_REFLOW in grid.reasons
        assert grid.props["rows"] == expected, (rows, grid.props)
    assert _categories("default", 4).props["rows"] == 4  # standard: left alone

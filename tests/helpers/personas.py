"""Persona queries a preview cannot build, and the field each is refused by.

The same on every layer that builds a persona from a query: `admin.preview.preview_persona`
raises `Invalid` naming the field, `/v1/admin/preview/<page>` answers 422 with it as
`error.field`, and the console's preview page is a 422 page naming it. Each layer's tests add
the cases only it refuses (a malformed `events` value, `?compare=`...).
"""

from __future__ import annotations

import pytest
from _pytest.mark.structures import ParameterSet

# (id, query, field)
_UNBUILDABLE = [
    ("font-scale-text", "font_scale=banana", "settings.font_scale"),
    ("font-scale-range", "font_scale=9", "settings.font_scale"),
    ("handedness", "handedness=both", "settings.handedness"),
    ("strength", "personalization=2", "settings.personalization"),
    ("persona", "persona=alien", "persona"),
    ("variant", "variant=zzz", "variant"),
    ("event-target", "events=nothing:click:3", "events[0].target"),
]


def unbuildable_personas(prefix: str = "") -> list[ParameterSet]:
    """`pytest.param(prefix + query, field, id=...)` for each persona query no layer can build
    (`prefix`: the path before the query, e.g. `"preview?"`)."""
    return [pytest.param(prefix + query, field, id=name) for name, query, field in _UNBUILDABLE]

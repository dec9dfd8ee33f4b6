"""What the renderer measures, as counters: impressions, taps and render errors per (page,
template version, component, mode). Pure: no I/O, no clock.

A phone reports three kinds (`TELEMETRY_KINDS`): `impression` (the component was at least half
visible for 800 ms, once per launch: the SDK's default, after the IAB/MRC viewable-impression
rule for display), `click` (a tap) and `render_error` (the component threw or could not be
drawn). The server keeps only counters, never a log: one row per key, an integer per kind, and
no user id anywhere (nothing to erase; `users.events` decides which events count).

The key space is bounded by what was published: a page must be live, the version one of its live
versions (the new and the previous one during a staged rollout), the component one of that
version's ids, the mode one of `MODES` (`unknown` when the client did not say and the settings do
not decide it); anything else is ignored by reason, never counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

from uiserver.types import EventKind

# The kinds counted, in the column order of every store.
TELEMETRY_KINDS: tuple[EventKind, ...] = ("impression", "click", "render_error")
# The modes a counter is kept under: the layout's `mode`, or `unknown` (not said, not decided).
MODES: frozenset[str] = frozenset({"standard", "elderly", "unknown"})
UNKNOWN_MODE = "unknown"


class CounterKey(msgspec.Struct, frozen=True, array_like=True, order=True):
    """One counter: a kind of event on a component of a template version, in a mode."""

    page: str
    version: str
    component: str
    mode: str
    kind: EventKind


class ComponentCounts(msgspec.Struct, frozen=True):
    """The counters of one (page, template version, component, mode); what the store answers
    and `GET /v1/admin/telemetry/{page}` lists. `tap_rate`: clicks per impression (None before
    the first impression); `error_rate`: render errors per impression (None likewise)."""

    page: str
    version: str
    component: str
    mode: str
    impressions: int = 0
    clicks: int = 0
    render_errors: int = 0

    @property
    def tap_rate(self) -> float | None:
        return None if self.impressions == 0 else self.clicks / self.impressions

    @property
    def error_rate(self) -> float | None:
        return None if self.impressions == 0 else self.render_errors / self.impressions


def tally(keys: Iterable[CounterKey]) -> dict[CounterKey, int]:
    """How many times each key occurs (one event = one occurrence)."""
    out: dict[CounterKey, int] = {}
    for key in keys:
        out[key] = out.get(key, 0) + 1
    return out


def rows(counts: Mapping[CounterKey, int]) -> list[ComponentCounts]:
    """Counters folded into one row per (page, version, component, mode), sorted by those."""
    folded: dict[tuple[str, str, str, str], dict[str, int]] = {}
    for key, n in counts.items():
        cell = folded.setdefault((key.page, key.version, key.component, key.mode), {})
        cell[key.kind] = cell.get(key.kind, 0) + n
    return [
        ComponentCounts(
            page,
            version,
            component,
            mode,
            impressions=cell.get("impression", 0),
            clicks=cell.get("click", 0),
            render_errors=cell.get("render_error", 0),
        )
        for (page, version, component, mode), cell in sorted(folded.items())
    ]


def by_component(counts: Iterable[ComponentCounts]) -> dict[str, ComponentCounts]:
    """Rows summed over versions and modes, per component (the console's heatmap): each
    result's `version` and `mode` are `*` when it sums more than one."""
    out: dict[str, ComponentCounts] = {}
    for row in counts:
        old = out.get(row.component)
        if old is None:
            out[row.component] = row
            continue
        out[row.component] = ComponentCounts(
            row.page,
            old.version if old.version == row.version else "*",
            row.component,
            old.mode if old.mode == row.mode else "*",
            old.impressions + row.impressions,
            old.clicks + row.clicks,
            old.render_errors + row.render_errors,
        )
    return out


def render_errors(counts: Iterable[ComponentCounts]) -> dict[str, int]:
    """Render errors per template version (what a rollout guardrail compares between arms)."""
    out: dict[str, int] = {}
    for row in counts:
        out[row.version] = out.get(row.version, 0) + row.render_errors
    return out

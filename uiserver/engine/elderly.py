"""长辈版 2.0 (issue 24): the ageing-friendly rules beyond fonts and targets, applied to every
elderly layout. Needs, not preferences: none of them counts against the personalization cap
(nothing here moves, hides or shows a component), and each is named in `reasons` and listed in
the layout's `elderly.needs`. Every number is the policy's; its source is in the policy file's
`sources`.

- spacing: paragraphs >= `elderly_paragraph_spacing` x the line spacing (MIIT 1.2), in the theme
  and per text component (`paragraph_px`); `elderly_target_gap_px` around every tap target;
- reflow, not zoom: a grid's column prop (catalogue `column_prop`) at most `elderly_max_columns`,
  its row prop (`row_prop`) grown so every item still shows (WCAG 1.4.10); a tab bar's (role
  tablist) at most `elderly_max_tabs` tabs drawn, the last 更多 More when more items remain;
- fewer choices: on `elderly_fold_pages` at most `elderly_max_entries` entries stay on the page
  (most used from evidence, else the designer's `essential` ones, then page order); the rest are
  `folded` behind one "更多 More" entry; never navigation, pinned or placed components, the help
  or voice entries, nor anything opened within `elderly_recent_days`;
- safe actions: `confirm: true` on payment and destructive types (WCAG 3.3.4), `help: <kind>` on
  the help entry;
- read aloud: `speech` on every component (`engine.speech`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from itertools import chain
from typing import Any, Protocol

from uiserver.engine.affinity import WEIGHTS, decay_factor
from uiserver.engine.components import ResolvedComponent
from uiserver.engine.explain import Reason
from uiserver.engine.stability import enough_evidence
from uiserver.policy import Policy
from uiserver.schema import Profile
from uiserver.types import NAVIGATION_ROLES, TABLIST, VOICE_NAV_TYPE

DAY_S = 86_400.0
# Page reasons every elderly layout carries: what it applies to every component.
PAGE_NEEDS: tuple[str, ...] = (
    Reason.ELDERLY_PARAGRAPH,
    Reason.ELDERLY_TARGET_GAP,
    Reason.ELDERLY_SPEECH,
)


def safe_props(c: ResolvedComponent, policy: Policy) -> tuple[ResolvedComponent, tuple[str, ...]]:
    """The component as elderly mode serves it: `confirm: true` on a payment or destructive
    type (WCAG 3.3.4 error prevention), `help: <policy.elderly_help>` on a help entry."""
    patch: dict[str, Any] = {}
    reasons: list[str] = []
    if c.confirm:
        patch["confirm"] = True
        reasons.append(Reason.ELDERLY_CONFIRM)
    if c.help:
        patch["help"] = policy.elderly_help  # the reason comes with showing it (`rules`)
    if not patch:
        return c, ()
    return replace(c, props={**c.props, **patch}), tuple(reasons)


def never_folded(c: ResolvedComponent) -> bool:
    """Navigation, pinned and placed components, the help and voice entries stay on the page."""
    return (
        c.pinned
        or c.role in NAVIGATION_ROLES
        or c.placement != "flow"
        or c.help
        or c.type == VOICE_NAV_TYPE
    )


def paragraph_px(font_px: float, line_height: float, spacing: float) -> float:
    """The paragraph gap of text at `font_px`: spacing x the line spacing (font x line height),
    rounded up to 0.1 px so it is never below the rule (MIIT 1.2)."""
    return math.ceil(font_px * line_height * spacing * 10.0 - 1e-9) / 10.0


class Spacing(Protocol):
    """What `extras` reads of a (variant, mode) base (`engine.variant_base.VariantBase`)."""

    @property
    def line_height(self) -> float: ...

    @property
    def paragraph_spacing(self) -> float: ...

    @property
    def target_gap(self) -> float: ...


def extras(
    c: ResolvedComponent, font_px: float, view: Spacing, *, speech: bool = False
) -> dict[str, Any]:
    """The per-component fields of an elderly layout (keyword arguments of LayoutComponent);
    in standard mode (no paragraph spacing) only `speech`, for a screen-reader user (`speech`:
    WCAG 1.1.1, 4.1.2), else none."""
    spacing = view.paragraph_spacing
    if not spacing:
        return {"speech": c.speech or None} if speech else {}
    return {
        "speech": c.speech or None,
        "paragraph_px": paragraph_px(font_px, view.line_height, spacing) if c.text else None,
        "gap_px": view.target_gap if c.interactive else None,
    }


def columns_drawn(
    column_prop: str | None, role: str, default: int, props: Mapping[str, Any]
) -> int | None:
    """The columns a row-laid component draws: its column prop (else the catalogue's `columns`);
    for a tab bar (role tablist, no default) the tabs drawn, at most one per item of `items`
    (the prop unset: all of them). None: no column prop, or not an integer."""
    if column_prop is None:
        return None
    value = props.get(column_prop, default)
    if role == TABLIST:
        items = props.get("items")
        count = len(items) if isinstance(items, list) else 0
        value = count if value in (None, 0) else value
        if isinstance(value, int) and not isinstance(value, bool):
            value = min(value, count)
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return value


def reflow(
    c: ResolvedComponent, props: dict[str, Any], max_columns: int, reasons: list[str]
) -> None:
    """Fewer columns at care-mode sizes: the column prop at most `max_columns` (0: no limit),
    the row prop grown to keep rows x columns items, at most the row prop's catalogue maximum
    (`row_max`; 4 rows of 5 become 4 rows of 3, not 7) (a tab bar keeps its items: the renderer
    draws the rest behind its last, 更多 More, tab); `elderly:reflow` added to `reasons`."""
    key = c.column_prop
    if key is None or max_columns <= 0:
        return
    current = columns_drawn(key, c.role, c.columns, props)
    if current is None or current <= max_columns:
        return
    props[key] = max_columns
    rows = props.get(c.row_prop) if c.row_prop else None
    if c.row_prop and isinstance(rows, int) and not isinstance(rows, bool):
        grown = math.ceil(rows * current / max_columns)
        # within the catalogue's range (components/<type>.yaml props.<row_prop>.maximum): a
        # served prop is never one the lint would refuse; past it the grid shows fewer rows
        props[c.row_prop] = grown if c.row_max is None else max(rows, min(grown, c.row_max))
    reasons.append(Reason.ELDERLY_REFLOW)


def _recent_floor(policy: Policy) -> float:
    """The smallest score a component clicked within `elderly_recent_days` still has: one click
    decayed over the whole window (scores only ever add, so a recent click scores at least
    this; an older history may too, and then stays as well: never hidden is the promise)."""
    return WEIGHTS["click"] * decay_factor(policy.elderly_recent_days * DAY_S)


def entry_units(
    comps: Sequence[ResolvedComponent], units: Sequence[tuple[int, ...]]
) -> tuple[bool, ...]:
    """By unit: does it count as an entry (an interactive member, and no member that must stay
    on the page)? Fixed per (variant, mode): `variant_base` keeps it."""
    return tuple(
        not any(never_folded(comps[m]) for m in members)
        and any(comps[m].interactive for m in members)
        for members in units
    )


def entries_in(seq: Sequence[int], unit_of: Sequence[int], is_entry: Sequence[bool]) -> list[int]:
    """The entry units (`entry_units`) in `seq` order, each once."""
    entries: list[int] = []
    seen: set[int] = set()
    for i in seq:
        u = unit_of[i]
        if u >= 0 and is_entry[u] and u not in seen:
            seen.add(u)
            entries.append(u)
    return entries


def fold(
    comps: Sequence[ResolvedComponent],
    order: Sequence[int],
    seq_entries: Sequence[int],
    units: Sequence[tuple[int, ...]],
    unit_of: Sequence[int],
    unit_key: Sequence[str],
    is_entry: Sequence[bool],
    profile: Profile,
    day: int,
    policy: Policy,
) -> tuple[tuple[int, str], ...]:
    """(component index, reason) for the fewer-choices rule: folded ones get `elderly:more`,
    kept ones `elderly:recent` or (from evidence) `elderly:most_used`.

    Entries are ranked among those the layout `order` shows, then the rest of the mode's
    (`seq_entries`: the entries of the mode's order, so the base layout, which may show others,
    folds them too): the recent ones stay whatever the limit, then the best ranked fill it up
    to `elderly_max_entries`."""
    entries = entries_in(order, unit_of, is_entry)
    shown = set(entries)
    unshown = [u for u in seq_entries if u not in shown]
    limit = policy.elderly_max_entries
    if len(entries) + len(unshown) <= limit:
        return ()
    age = day * DAY_S - profile.evidence_updated if profile.evidence_updated and day > 0 else 0.0
    now = decay_factor(age)
    every = entries + unshown
    affinities = profile.affinities
    score = {u: affinities.get(unit_key[u], 0.0) * now for u in every} if affinities else {}
    floor = _recent_floor(policy)
    recent = {u for u in every if score.get(u, 0.0) >= floor}
    evidence = enough_evidence(profile.evidence * now, policy.min_evidence)
    if evidence:
        ranked = sorted(entries, key=lambda u: -score.get(u, 0.0))  # stable: page order on ties
    else:
        ranked = sorted(entries, key=lambda u: not any(comps[m].essential for m in units[u]))
    room = max(limit - len(recent), 0)
    chosen = set([u for u in [*ranked, *unshown] if u not in recent][:room])
    out: list[tuple[int, str]] = []
    for u in every:
        why: str | None = Reason.ELDERLY_MORE
        if u in recent:
            why = Reason.ELDERLY_RECENT
        elif u in chosen:
            why = Reason.ELDERLY_MOST_USED if evidence and u in shown else None
        if why is not None:
            out.extend([(m, why) for m in units[u]])
    out.sort()
    return tuple(out)


def needs(page_reasons: Sequence[str], component_reasons: Iterable[Sequence[str]]) -> list[str]:
    """Every elderly need the layout applies, once each, page reasons first (then in the order
    the components first name them)."""
    found = dict.fromkeys(r for r in page_reasons if r.startswith("elderly:"))
    named = dict.fromkeys(chain.from_iterable(component_reasons))
    found.update(dict.fromkeys(r for r in named if r.startswith("elderly:")))
    return list(found)

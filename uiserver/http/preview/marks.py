"""What personalization changed on a layout against its base: the badges of a marked preview.

The definitions are those of the change ratio (DESIGN section 5, `engine/cap.py`): a component
is *hidden* if only the base has it, *shown* if only the layout has it, *re-placed* if its
placement differs, and *moved* if it is common, kept its placement and lies outside a longest
common subsequence of the two orders. A common component whose label differs is marked too
(*label*, or its other mark with the label change in the detail), so a version diff shows the
words that changed on the phone. When several longest subsequences exist, the one that keeps
in place the components the engine did not report as moved is chosen, so the badges agree with
`personalization.changes` whenever the base is the one the engine compared against.

Each mark names its reason: the engine's own change record for that component, then the first
personalization reason on the component, then a neutral "differs from the base" (e.g. when the
base is another template version, not this persona's base).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from uiserver.schema import Layout, LayoutComponent
from uiserver.types import ChangeKind

# Reasons on a component that personalization (not a mode or accessibility rule) put there;
# see engine/explain.py. Mode and a11y reasons apply to the base too, so they never explain a
# difference from it.
PERSONALIZATION_PREFIXES = ("affinity", "stability", "handedness", "explore", "cap:", "segment:")
NO_REASON = "differs from the base"


@dataclass(frozen=True, slots=True)
class Mark:
    """A change on one component of the layout: kind, why, and what changed (1-based)."""

    change: ChangeKind | Literal["label"]
    reason: str
    detail: str = ""  # "position 7 → 3", "bottom_right → bottom_left"

    @property
    def text(self) -> str:
        words = [self.change, self.detail] if self.detail else [self.change]
        return " ".join(words) + f" · {self.reason}"


@dataclass(frozen=True, slots=True)
class Ghost:
    """A base component this layout does not show, drawn as a "hidden: reason" row after
    `after` (the nearest preceding base component still in its base place; None: first)."""

    id: str
    type: str
    label: str
    reason: str
    after: str | None


@dataclass(frozen=True, slots=True)
class Marks:
    by_id: Mapping[str, Mark]
    ghosts: Sequence[Ghost]


def _reason(layout: Layout, component: LayoutComponent | None, cid: str, change: ChangeKind) -> str:
    exact = other = None
    for record in layout.personalization.changes:
        if record.component != cid:
            continue
        if record.change == change and exact is None:
            exact = record.reason
        elif other is None:
            other = record.reason
    if exact or other:
        return exact or other or NO_REASON
    if component is not None:
        for reason in component.reasons:
            if reason.startswith(PERSONALIZATION_PREFIXES):
                return reason
    return NO_REASON


def _kept_in_place(seq: Sequence[tuple[int, bool]]) -> set[int]:
    """Indices into `seq` of a longest strictly increasing subsequence of its base positions,
    preferring (as the tie-break) items flagged True. O(n²): pages hold tens of components."""
    n = len(seq)
    if n == 0:
        return set()
    best: list[tuple[int, int]] = [(1, int(seq[i][1])) for i in range(n)]
    prev = [-1] * n
    for i in range(n):
        for j in range(i):
            if seq[j][0] < seq[i][0]:
                candidate = (best[j][0] + 1, best[j][1] + int(seq[i][1]))
                if candidate > best[i]:
                    best[i], prev[i] = candidate, j
    end = max(range(n), key=lambda i: best[i])
    kept: set[int] = set()
    while end >= 0:
        kept.add(end)
        end = prev[end]
    return kept


def compare(layout: Layout, base: Layout) -> Marks:
    """Marks for `layout`'s components and ghost rows for the base components it hides."""
    base_pos = {c.id: p for p, c in enumerate(base.components)}
    base_by_id = {c.id: c for c in base.components}
    reported_moved = {c.component for c in layout.personalization.changes if c.change == "moved"}
    marks: dict[str, Mark] = {}
    seq: list[tuple[int, bool]] = []
    seq_ids: list[str] = []
    for component in layout.components:
        cid = component.id
        before = base_by_id.get(cid)
        if before is None:
            marks[cid] = Mark("shown", _reason(layout, component, cid, "shown"))
        elif before.placement != component.placement:
            marks[cid] = Mark(
                "placement",
                _reason(layout, component, cid, "placement"),
                f"{before.placement} → {component.placement}",
            )
        else:
            seq.append((base_pos[cid], cid not in reported_moved))
            seq_ids.append(cid)
    kept = _kept_in_place(seq)
    now = {c.id: p for p, c in enumerate(layout.components)}
    for i, cid in enumerate(seq_ids):
        if i not in kept:
            reason = _reason(layout, layout.components[now[cid]], cid, "moved")
            marks[cid] = Mark("moved", reason, f"position {base_pos[cid] + 1} → {now[cid] + 1}")
    for component in layout.components:
        before = base_by_id.get(component.id)
        if before is None or before.label == component.label:
            continue
        words = f"label “{before.label}” → “{component.label}”"
        mark = marks.get(component.id)
        marks[component.id] = (
            Mark("label", "label changed", words)
            if mark is None
            else replace(mark, detail=f"{mark.detail}, {words}" if mark.detail else words)
        )
    # A ghost follows the nearest base predecessor that stayed in place (a moved one would
    # drag it along to its new position).
    in_place = {cid for i, cid in enumerate(seq_ids) if i in kept}
    ghosts: list[Ghost] = []
    after: str | None = None
    for component in base.components:
        if component.id in in_place:
            after = component.id
        if component.id in now:
            continue
        ghosts.append(
            Ghost(
                component.id,
                component.type,
                component.label,
                _reason(layout, None, component.id, "hidden"),
                after,
            )
        )
    return Marks(marks, ghosts)

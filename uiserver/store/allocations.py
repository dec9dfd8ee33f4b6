"""Each template version's bucket allocation as both stores keep it (`TemplateRecord.allocation`).

A publish computes the new entry's allocation from its true predecessor inside the write's
transaction (`template_writes`): the entry the others keep, which is the newest entry, or the
previous version's new entry when a running rollout is aborted first. The same experiment id:
an edit of the predecessor's allocation (`engine.allocation.allocate`); another id, or none:
an edit of the page's newest entry that ran this id (an id changed back, A -> B -> A, keeps
A's users where they were), else the initial allocation. Entries re-made from an older one
(an aborted rollout's return) copy its allocation, so both versions of a staged rollout keep
their own.

A record stored before bucketing scheme 3 has no allocation (b""): it is read as the initial
allocation of its template, which is deterministic, so every replica and every later edit
agree on it without rewriting old rows. A stored allocation that does not decode or does not
belong to its template is read the same way, with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import msgspec

from uiserver.engine.allocation import Allocation, AllocationError, allocate, initial
from uiserver.schema import Template, VariantSpec
from uiserver.store.base import PageState, TemplateRecord

log = logging.getLogger("uiserver.store")

_WEIGHT = next(f.default for f in msgspec.structs.fields(VariantSpec) if f.name == "weight")


class _Variant(msgspec.Struct):
    name: str
    weight: int = _WEIGHT


class _Experiment(msgspec.Struct):
    """What an allocation needs of a template document (the rest is not read)."""

    experiment: str | None = None
    variants: list[_Variant] = []


_decode_experiment = msgspec.json.Decoder(_Experiment).decode
Weights = tuple[tuple[str, int], ...]


def _experiment(document: bytes) -> tuple[str | None, Weights]:
    """(experiment id, (name, weight) pairs) of a template document; (None, ()) for a document
    that is not a template (the store itself holds any bytes)."""
    try:
        found = _decode_experiment(document)
    except msgspec.DecodeError:
        return None, ()
    return found.experiment, tuple((v.name, v.weight) for v in found.variants)


def served(record: TemplateRecord, template: Template | None = None) -> Allocation | None:
    """The allocation `record` serves (`template`: its document, when already decoded); None
    for a template without an experiment (or no weight above 0)."""
    if template is not None:
        experiment: str | None = template.experiment
        weights: Weights = tuple((v.name, v.weight) for v in template.variants)
    else:
        experiment, weights = _experiment(record.document)
    if experiment is None or not any(w > 0 for _, w in weights):
        return None
    if record.allocation:
        try:
            stored = Allocation.decode(record.allocation)
        except AllocationError as exc:
            log.warning(
                "%s@%s: stored allocation unreadable (%s); serving the initial one",
                record.page,
                record.version,
                exc,
            )
        else:
            if stored.fits(experiment, weights):
                return stored
            log.warning(
                "%s@%s: the stored allocation is not this template's; serving the initial one",
                record.page,
                record.version,
            )
    return initial(experiment, weights)


def following(
    document: bytes,
    predecessor: TemplateRecord | None,
    history: Iterable[TemplateRecord] = (),
) -> bytes:
    """The encoded allocation of a new entry with `document` after `predecessor` (b"" without
    an experiment). When the predecessor runs another experiment (or none), the newest entry of
    `history` (the page's entries, any order) that ran this one is the predecessor: an
    experiment id changed and back (A -> B -> A), or switched off and on, gives A's users their
    A variants again, not A's initial allocation. AllocationError for more variants than a
    table holds (lint refuses it)."""
    experiment, weights = _experiment(document)
    if experiment is None or not any(w > 0 for _, w in weights):
        return b""
    previous = served(predecessor) if predecessor is not None else None
    if previous is None or previous.experiment != experiment:
        earlier = [r for r in history if _experiment(r.document)[0] == experiment]
        if earlier:
            previous = served(max(earlier, key=lambda r: r.seq)) or previous
    if previous is None or previous.experiment != experiment:
        return initial(experiment, weights).encode()  # remembered: every start publishes it
    return allocate(experiment, weights, previous).encode()


def needs_history(document: bytes, state: PageState | None) -> bool:
    """Does `following` need the page's history for `document` published on `state`? Only
    when the document runs an experiment that an entry it may follow (the head, an aborted
    rollout's previous) does not (a store reads the history only then)."""
    experiment, _ = _experiment(document)
    if experiment is None or state is None:
        return False
    keeps = [state.head] if state.previous is None else [state.head, state.previous]
    return any(_experiment(k.document)[0] != experiment for k in keeps)


def experiment_of(record: TemplateRecord) -> str | None:
    """The experiment id a stored version runs (None: none, or not a template)."""
    return _experiment(record.document)[0]

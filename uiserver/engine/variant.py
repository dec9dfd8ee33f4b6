"""Sticky A/B bucketing: a user's variant is their bucket's entry in the experiment's allocation.

A user's place in an experiment is a *bucket*: a keyed hash of (experiment, user id) into a fixed
space of `hashing.BUCKETS` (10,000) buckets, never Python's `hash()` (salted per process). The
bucket does not depend on the variants, so editing them cannot move it. The bucket's variant is
its entry in the experiment's `Allocation` (`engine.allocation`), a table stored with each
published template version: one hash and one byte lookup per launch.

Each variant serves exactly its weight share of the buckets, to within one bucket (50/50 is
5,000 / 5,000), and an edit of a published experiment changes the table minimally:

- the same shares written differently (50/50 -> 1/1) or variants reordered: nobody moves;
- growing one variant (50/50 -> 50/60) moves users only *into* it; shrinking one moves users only
  *out of* it; a new variant only takes users, a removed one only gives them away;
- renaming a variant re-buckets its users (a variant is known by its name); changing the
  experiment id starts a new allocation (everybody re-bucketed; changing it back edits the
  page's last allocation of that id, so its users return); so does a new
  `hashing.SCHEME_VERSION`. Other template edits, rollbacks, staged rollouts, aborts, archiving
  and restoring move nobody by themselves (each version keeps the allocation it was published
  with; a rollback's new entry is an edit of the live allocation).

Scheme history: 1 = bucket modulo the weight sum (any weight edit re-bucketed about half the
users); 2 = weighted rendezvous hashing per bucket (sticky, but each variant got a binomial
number of buckets: 4,949 / 5,051 for a 50/50 split, so the SRM check flagged healthy
experiments); 3 = this: exact stored allocations, edited minimally.
"""

from __future__ import annotations

from uiserver.engine.allocation import Allocation, allocate, initial
from uiserver.engine.hashing import SCHEME_VERSION, bucket


def choose_variant(user_id: str, allocation: Allocation | None) -> str | None:
    """The variant of `user_id` under `allocation` (its experiment's), or None (the base) for
    anonymous users and pages without an experiment."""
    if not user_id or allocation is None:
        return None
    return allocation.variant(bucket(user_id, allocation.experiment))


__all__ = ["SCHEME_VERSION", "Allocation", "allocate", "bucket", "choose_variant", "initial"]

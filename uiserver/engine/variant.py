"""Sticky A/B bucketing that survives weight edits.

A user's place in an experiment is a *bucket*: a keyed hash of (experiment, user id) into a fixed
space of `hashing.BUCKETS` (10,000) buckets, never Python's `hash()` (salted per process). The
bucket does not depend on the variants, so editing them cannot move it.

`assign` maps a bucket to a variant by weighted rendezvous hashing (highest random weight): every
(bucket, variant name) pair draws a uniform number u, and the bucket goes to the variant with the
largest `ln(u) / weight`. A variant's share of the buckets is its share of the weights, and the
choice depends only on the weights' *ratios* and the variants' names, so an edit moves only the
users it must:

- the same shares written differently (50/50 -> 1/1) or variants reordered: nobody moves;
- growing one variant (50/50 -> 50/60) moves users only *into* it; shrinking one moves users only
  *out of* it; a new variant only takes users, a removed one only gives them away;
- renaming a variant, changing the experiment id, or a new `hashing.SCHEME_VERSION` re-buckets.

(Contiguous bucket ranges in variant order give the first two only for two variants: with three,
growing the third shifts the boundary between the first two.) Scheme history: 1 = bucket modulo
the weight sum (any weight edit re-bucketed about half the users); 2 = this.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from uiserver.engine.hashing import SCHEME_VERSION, bucket, uniform, variant_seed


def assign(point: int, variants: Sequence[tuple[str, int]]) -> str | None:
    """The variant of bucket `point` among (name, weight) pairs; None when no weight is > 0."""
    best: str | None = None
    best_score = -math.inf
    for name, weight in variants:
        if weight <= 0:
            continue
        score = math.log(uniform(variant_seed(name), point)) / weight
        if score > best_score:
            best, best_score = name, score
    return best


def choose_variant(
    user_id: str, experiment: str | None, variants: Sequence[tuple[str, int]]
) -> str | None:
    """The variant of `user_id`, or None (the base) for anonymous users and no experiment."""
    if not user_id or experiment is None or not variants:
        return None
    return assign(bucket(user_id, experiment), variants)


__all__ = ["SCHEME_VERSION", "assign", "bucket", "choose_variant"]

"""An experiment's bucket allocation: which variant each of the 10,000 buckets serves (scheme 3).

Every variant gets exactly its weight share of the buckets, to within one bucket: largest-
remainder rounding of BUCKETS x share (Hamilton's method), so 50/50 is 5,000 / 5,000, 90/10 is
9,000 / 1,000 and 1/1/1 is 3,334 / 3,333 / 3,333. A hash cannot give exact counts (weighted
rendezvous, scheme 2, gave each variant a binomial number: 4,949 / 5,051 for a 50/50 split, and
the SRM check flagged healthy experiments), so the allocation is a table, stored with the
template version it belongs to and changed minimally by each edit:

- `allocate(experiment, variants, None)`, the initial allocation: an exact-count greedy over
  rendezvous scores (`hashing.rendezvous` of the variant's seed and the bucket, integers only):
  every (bucket, variant) pair in descending score order gives the bucket to the variant while
  it is below its count. Deterministic from the experiment id, the names and the weights' ratios.
- `allocate(experiment, variants, previous)`, an edit of a published experiment (same id): the
  new counts are chosen within one bucket of the new shares and, where the share moved, in the
  same direction as the share (never more for a variant whose share fell, never fewer for one
  whose share rose, the same for one whose share held). Shrinking variants release the buckets
  they score lowest; growing ones take the freed buckets they score highest (the same greedy).
  Nobody else moves: the fewest buckets change that the new counts allow.

So: equal shares (50/50 -> 1/1, variants reordered) move nobody; growing a variant only moves
users into it; shrinking one only moves users out of it; a new variant only takes users, a
removed one only gives them away. (Contiguous bucket ranges in a fixed order cannot do this for
three or more variants: growing the last shifts the boundary between the first two.) In the rare
case where exact counts and those directions cannot both hold (Hamilton's method has a
population paradox), exactness wins and the fewest variants change against their share.

Encoded (`Allocation.encode`) as a format byte then zlib of a msgpack array (scheme, experiment,
names, weights, one byte per bucket: the variant's index in `names`, 255 for the base); a
two-variant table is about 1.5 KB. `Allocation.decode` bounds what it inflates and raises
AllocationError naming what is wrong.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterable, Sequence
from fractions import Fraction
from functools import lru_cache
from math import ceil, floor

import msgspec

from uiserver.engine.hashing import BUCKETS, SCHEME_VERSION, allocation_seed, rendezvous_all

BASE = 0xFF  # the byte of a bucket served the base layout (no variant)
MAX_VARIANTS = 255  # bytes 0..254 name a variant
FORMAT = 1  # the encoding's first byte
MAX_ENCODED = 64 * 1024  # bytes: far above the ~1.5 KB of a real table
MAX_DECODED = 256 * 1024  # bytes inflated at most (10,000 table bytes + 255 names)

Variants = Sequence[tuple[str, int]]  # (name, weight >= 0), in template order


class AllocationError(ValueError):
    """An allocation that cannot be made (too many variants) or decoded (corrupt, foreign)."""


class _Wire(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    scheme: int
    experiment: str
    names: list[str]
    weights: list[int]
    table: bytes


_encode_wire = msgspec.msgpack.Encoder().encode
_decode_wire = msgspec.msgpack.Decoder(_Wire).decode


class Allocation:
    """Bucket -> variant for one experiment; immutable, shared by every request.

    alloc = allocate("home_deals_v1", [("control", 50), ("deals_first", 50)], None)
    alloc.variant(bucket(user_id, alloc.experiment))  # "control" or "deals_first"
    alloc.counts()                                      # {"control": 5000, "deals_first": 5000}

    Raises AllocationError when `table` is not BUCKETS bytes naming a variant or the base.
    """

    __slots__ = ("_by_byte", "experiment", "names", "table", "weights")

    def __init__(self, experiment: str, variants: Variants, table: bytes) -> None:
        names = tuple(name for name, _ in variants)
        if len(names) > MAX_VARIANTS:
            raise AllocationError(f"{len(names)} variants: a bucket table holds {MAX_VARIANTS}")
        if len(set(names)) != len(names):
            raise AllocationError(f"duplicate variant names in {list(names)}")
        if any(weight < 0 for _, weight in variants):
            raise AllocationError("a variant weight is negative")
        if len(table) != BUCKETS:
            raise AllocationError(f"the table has {len(table)} buckets, not {BUCKETS}")
        stray = set(table) - set(range(len(names))) - {BASE}
        if stray:
            raise AllocationError(f"the table names variant {min(stray)} of {len(names)}")
        self.experiment = experiment
        self.names = names
        self.weights = tuple(weight for _, weight in variants)
        self.table = bytes(table)
        self._by_byte: tuple[str | None, ...] = names + (None,) * (256 - len(names))

    def variant(self, point: int) -> str | None:
        """The variant bucket `point` (0..BUCKETS-1) serves; None: the base layout."""
        return self._by_byte[self.table[point]]

    def counts(self) -> dict[str, int]:
        """Buckets per variant, in template order."""
        return {name: self.table.count(i) for i, name in enumerate(self.names)}

    def shares(self, names: Iterable[str]) -> list[float]:
        """Each named variant's share of the buckets (0.0 for a name it does not have)."""
        counts = self.counts()
        return [counts.get(name, 0) / BUCKETS for name in names]

    def fits(self, experiment: str | None, variants: Variants) -> bool:
        """Is this the allocation of `experiment` with these variants and weights (any order)?"""
        mine = dict(zip(self.names, self.weights, strict=True))
        return experiment == self.experiment and mine == dict(variants)

    def encode(self) -> bytes:
        wire = _Wire(
            SCHEME_VERSION, self.experiment, list(self.names), list(self.weights), self.table
        )
        return bytes([FORMAT]) + zlib.compress(_encode_wire(wire), 9)

    @classmethod
    def decode(cls, data: bytes) -> Allocation:
        """The allocation `encode` wrote; AllocationError for anything else (empty, too large,
        another format or bucketing scheme, corrupt, truncated)."""
        if not data:
            raise AllocationError("no allocation stored")
        if len(data) > MAX_ENCODED:
            raise AllocationError(f"an allocation of {len(data)} bytes (at most {MAX_ENCODED})")
        if data[0] != FORMAT:
            raise AllocationError(f"unknown allocation format {data[0]} (this server reads 1)")
        inflate = zlib.decompressobj()
        try:
            raw = inflate.decompress(data[1:], MAX_DECODED)
        except zlib.error as exc:
            raise AllocationError(f"corrupt allocation: {exc}") from None
        if inflate.unconsumed_tail:
            raise AllocationError(f"the allocation inflates past {MAX_DECODED} bytes")
        if not inflate.eof or inflate.unused_data:
            raise AllocationError("truncated allocation, or bytes after its end")
        try:
            wire = _decode_wire(raw)
        except msgspec.DecodeError as exc:
            raise AllocationError(f"corrupt allocation: {exc}") from None
        if wire.scheme != SCHEME_VERSION:
            raise AllocationError(
                f"an allocation of bucketing scheme {wire.scheme}; this server buckets by "
                f"scheme {SCHEME_VERSION}"
            )
        if len(wire.weights) != len(wire.names):
            raise AllocationError("the allocation has not one weight per variant")
        return cls(wire.experiment, list(zip(wire.names, wire.weights, strict=True)), wire.table)


def _exact(variants: Variants) -> dict[str, Fraction]:
    """BUCKETS x each variant's share of the weights (exact)."""
    total = sum(weight for _, weight in variants)
    return {name: Fraction(BUCKETS * weight, total or 1) for name, weight in variants}


def _bounds(share: Fraction, had: int | None, was: Fraction | None) -> tuple[int, int, int, int]:
    """(lowest, highest) count within one bucket of `share`, then the same range narrowed by
    the direction the share moved since `was` (with `had` buckets then)."""
    lo, hi = floor(share), ceil(share)
    if had is None or was is None:
        return lo, hi, lo, hi
    if share < was:
        narrow = (lo, min(hi, had))
    elif share > was:
        narrow = (max(lo, had), hi)
    else:
        narrow = (had, had)
    if narrow[0] > narrow[1]:  # the previous count was off (not made here): no direction
        narrow = (lo, hi)
    return lo, hi, narrow[0], narrow[1]


def target_counts(variants: Variants, previous: Allocation | None) -> dict[str, int]:
    """Buckets per variant after the edit (see the module docstring): within one bucket of
    each share, moved in the share's direction, closest to the previous counts; the seats
    left after rounding go by largest remainder (ties by name, so order does not matter)."""
    shares = _exact(variants)
    had = previous.counts() if previous is not None else {}
    was = _exact(list(zip(previous.names, previous.weights, strict=True))) if previous else {}
    bounds = {name: _bounds(x, had.get(name), was.get(name)) for name, x in shares.items()}
    counts = {name: min(max(had.get(name, 0), b[2]), b[3]) for name, b in bounds.items()}
    remainder = {name: x - floor(x) for name, x in shares.items()}
    for strict in (True, False):  # within the directions first; exactness beats them
        missing = BUCKETS - sum(counts.values())
        if missing > 0:
            up = [n for n in shares if counts[n] < bounds[n][3 if strict else 1]]
            up.sort(key=lambda n: (-remainder[n], n))
            for name in up[:missing]:
                counts[name] += 1
        elif missing < 0:
            down = [n for n in shares if counts[n] > bounds[n][2 if strict else 0]]
            down.sort(key=lambda n: (remainder[n], n))
            for name in down[:-missing]:
                counts[name] -= 1
    return counts


def allocate(experiment: str, variants: Variants, previous: Allocation | None) -> Allocation:
    """The allocation of `experiment` over (name, weight) pairs: the initial one without
    `previous`, else `previous` (the same experiment's allocation before this edit) changed
    by the fewest buckets. A previous allocation of another experiment is not a predecessor.
    AllocationError for more than MAX_VARIANTS variants or no weight above 0."""
    if len(variants) > MAX_VARIANTS:
        raise AllocationError(f"{len(variants)} variants: a bucket table holds {MAX_VARIANTS}")
    if not any(weight > 0 for _, weight in variants):
        raise AllocationError(f"experiment {experiment!r} has no variant with a weight above 0")
    if previous is not None and previous.experiment != experiment:
        previous = None
    names = [name for name, _ in variants]
    index = {name: i for i, name in enumerate(names)}
    table = bytearray([BASE]) * BUCKETS
    if previous is not None:
        remap = bytes(
            [index.get(name, BASE) for name in previous.names]
            + [BASE] * (256 - len(previous.names))
        )
        table = bytearray(previous.table.translate(remap))
    targets = target_counts(variants, previous)
    seeds = {name: allocation_seed(experiment, name) for name in names}
    held = {name: table.count(index[name]) for name in names}
    for name in names:  # shrinking variants release the buckets they score lowest
        extra = held[name] - targets[name]
        if extra > 0:
            mine = [p for p in range(BUCKETS) if table[p] == index[name]]
            ranked = sorted(zip(rendezvous_all(seeds[name], mine), mine, strict=True))
            for _, p in ranked[:extra]:
                table[p] = BASE
    need = {name: targets[name] - held[name] for name in names if targets[name] > held[name]}
    if need:
        _take(table, need, index, seeds)
    return Allocation(experiment, variants, bytes(table))


def _take(
    table: bytearray, need: dict[str, int], index: dict[str, int], seeds: dict[str, int]
) -> None:
    """Growing variants take the free buckets they score highest: every (bucket, variant) pair
    in descending score order (ties: higher bucket, then name) gives the bucket to the variant
    while it needs more. Pairs are packed into one integer each: score, bucket, name's rank.

    The pairs come out of a heap of each grower's best remaining pair (each grower's pairs in
    a heap of their own, negated: heapq is a min-heap), and a grower that has its buckets
    stops taking part: the order of one global sort of all pairs, without sorting them (255
    variants: 3.9 s -> 1.4 s, the scores' hashing is the rest)."""
    free = [p for p in range(BUCKETS) if table[p] == BASE]
    growers = sorted(need)  # by name: template order does not matter
    codes = [index[name] for name in growers]
    left = [need[name] for name in growers]
    heaps: list[list[int]] = []
    best: list[int] = []
    for rank, name in enumerate(growers):
        scores = rendezvous_all(seeds[name], free)
        mine = [-((s << 22) | (p << 8) | rank) for s, p in zip(scores, free, strict=True)]
        heapq.heapify(mine)
        heaps.append(mine)
        if left[rank] > 0 and mine:
            best.append(heapq.heappop(mine))
    heapq.heapify(best)
    while best:
        key = -best[0]
        rank = key & 0xFF
        p = (key >> 8) & 0x3FFF
        if table[p] == BASE:
            table[p] = codes[rank]
            left[rank] -= 1
        if left[rank] > 0 and heaps[rank]:
            heapq.heapreplace(best, heapq.heappop(heaps[rank]))
        else:
            heapq.heappop(best)


@lru_cache(maxsize=64)
def initial(experiment: str, variants: tuple[tuple[str, int], ...]) -> Allocation:
    """`allocate(experiment, variants, None)`, remembered (previews compile drafts often)."""
    return allocate(experiment, variants, None)

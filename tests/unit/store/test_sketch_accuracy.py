"""The SQLite HyperLogLog's estimate against exact counts (issue #20: it read +1.6 to +2.4% high
at 42,000-46,000 users, the classic estimator's switch from linear counting to the raw
estimate). Measured over 1,000-200,000 distinct users and several seeds; the figures the README
quotes come from here (run with -s)."""

from __future__ import annotations

import random
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uiserver.store.sqlite import sketch

CARDINALITIES = (
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    30_000,
    38_000,
    41_000,
    42_000,
    44_000,
    46_000,
    50_000,
    60_000,
    80_000,
    100_000,
    150_000,
    200_000,
)
SEEDS = 5


def _errors() -> dict[int, list[float]]:
    """cardinality -> relative error (estimate / exact - 1) per seed, each seed one sketch
    filled with exposure items (`experiment \\x1f user`, as the store adds them)."""
    out: dict[int, list[float]] = {n: [] for n in CARDINALITIES}
    for seed in range(SEEDS):
        registers = sketch.empty()
        added = 0
        for n in CARDINALITIES:
            sketch.add(registers, (f"exp-{seed}\x1fuser-{i}" for i in range(added, n)))
            added = n
            out[n].append(sketch.count(registers) / n - 1)
    return out


@pytest.fixture(scope="module")
def errors() -> dict[int, list[float]]:
    return _errors()


def test_error_against_exact_counts(errors: dict[int, list[float]]) -> None:
    flat = [abs(e) for row in errors.values() for e in row]
    worst, mean = max(flat), statistics.fmean(flat)
    print(f"\nsketch error over {len(flat)} counts: max {worst:.2%}, mean {mean:.2%}")
    for n, row in errors.items():
        print(f"  {n:>7}: mean {statistics.fmean(row):+.2%}, max {max(map(abs, row)):.2%}")
    # 3 standard errors (0.81% each) bound every count, the mean is well under one
    assert worst < 3 * sketch.RELATIVE_ERROR
    assert mean < sketch.RELATIVE_ERROR


def test_no_bias_where_the_estimators_used_to_switch(errors: dict[int, list[float]]) -> None:
    """At 38,000-50,000 users the old estimator was 1.5-2.4% high on every seed; the mean error
    over the seeds is now within the noise (standard error of a mean of 5: 0.36%)."""
    band = [e for n in CARDINALITIES if 38_000 <= n <= 50_000 for e in errors[n]]
    assert abs(statistics.fmean(band)) < 0.005, band
    for n in (42_000, 44_000, 46_000):
        assert max(map(abs, errors[n])) < 0.016, (n, errors[n])


def test_below_30000_users(errors: dict[int, list[float]]) -> None:
    for n in CARDINALITIES:
        if n < 30_000:
            assert max(map(abs, errors[n])) < 0.021, (n, errors[n])


def test_stored_sketches_keep_counting_and_merging() -> None:
    """The register format is unchanged: registers as the store always wrote them count and
    merge (register-wise max) as before, and an empty or foreign-sized blob does no harm."""
    a, b = sketch.empty(), sketch.empty()
    sketch.add(a, (f"e\x1fu{i}" for i in range(0, 30_000)))
    sketch.add(b, (f"e\x1fu{i}" for i in range(20_000, 50_000)))
    assert len(a) == sketch.REGISTERS and max(a) <= sketch.Q + 1
    union = sketch.count(sketch.merge([bytes(a), bytes(b), b"\x00" * 10]))
    assert abs(union / 50_000 - 1) < 3 * sketch.RELATIVE_ERROR
    assert sketch.count(sketch.empty()) == 0
    one = sketch.empty()
    sketch.add(one, ["e\x1fsomeone"])
    assert sketch.count(one) == 1
    full = bytearray([sketch.Q + 1]) * sketch.REGISTERS  # every register at its maximum
    assert sketch.count(full) > 10**15


def test_the_estimate_grows_as_registers_reach_their_maximum() -> None:
    """Registers at the maximum rank Q + 1 (hashes with no one bit left: about 2^64 items) feed
    Ertl's tau term: each share of saturated registers estimates more than the share below
    it, under 2^64 up to a quarter of them, and half or more saturated reads 2^64 (the cap)."""
    estimates = []
    for saturated in (0, 1, 256, sketch.REGISTERS // 8, sketch.REGISTERS // 4):
        registers = bytearray([sketch.Q]) * sketch.REGISTERS
        registers[:saturated] = bytes([sketch.Q + 1]) * saturated
        estimates.append(sketch.count(registers))
    assert estimates == sorted(set(estimates)), estimates
    assert all(10**15 < e < 1 << 64 for e in estimates), estimates
    half = bytearray([sketch.Q + 1]) * (sketch.REGISTERS // 2)
    assert sketch.count(half + bytearray([sketch.Q]) * (sketch.REGISTERS // 2)) == 1 << 64
    assert sketch.count(bytearray([sketch.Q + 1]) * sketch.REGISTERS) == 1 << 64


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), sketches=st.integers(0, 6), top=st.integers(0, sketch.Q + 1))
def test_merge_is_the_register_wise_max(seed: int, sketches: int, top: int) -> None:
    rng = random.Random(seed)
    blobs = [bytes(rng.randint(0, top) for _ in range(sketch.REGISTERS)) for _ in range(sketches)]
    expected = bytearray(sketch.REGISTERS)
    for one in blobs:
        expected = bytearray(map(max, expected, one))
    assert sketch.merge(blobs) == expected


def test_merge_of_every_register_value_pair() -> None:
    values = range(sketch.Q + 2)
    pairs = [(a, b) for a in values for b in values]
    pairs += [(0, 0)] * (sketch.REGISTERS - len(pairs))
    first = bytes(a for a, _ in pairs)
    second = bytes(b for _, b in pairs)
    assert list(sketch.merge([first, second])) == [max(a, b) for a, b in pairs]
    assert list(sketch.merge([second, first])) == [max(a, b) for a, b in pairs]

"""The mSPRT's always-valid p-values and confidence sequences (`engine.sequential`), by
simulation: 1,000 A/A experiments, each read 20 times as it grows, flag at most ~5% of the time
at any look (issue #20), while the fixed-horizon z-test read the same way flags several times
more. Seeded, so the figures are the same on every run."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uiserver.engine.readout import SKETCH_ERROR, VariantCounts, diff_interval, readout, z_test
from uiserver.engine.sequential import ALPHA, RHO2, TUNED_USERS, msprt

EXPERIMENTS = 1_000
LOOKS = 20


def _paths(seed: int, rate: float, lift: float, per_look: int) -> tuple[np.ndarray, ...]:
    """Cumulative (control converted, exposed, variant converted, exposed) at each look of
    each experiment: `per_look` new users per variant between looks."""
    rng = np.random.default_rng(seed)
    shape = (EXPERIMENTS, LOOKS)
    n = np.cumsum(np.full(shape, per_look), axis=1)
    xc = np.cumsum(rng.binomial(per_look, rate, shape), axis=1)
    xv = np.cumsum(rng.binomial(per_look, rate + lift, shape), axis=1)
    return xc, n, xv, n


def _flag_rates(
    seed: int, rate: float, lift: float = 0.0, per_look: int = 500
) -> tuple[float, float]:
    """(share of experiments whose sequential p < ALPHA at any look, the same for the
    fixed-horizon z-test: what a daily peek at it gives)."""
    xc, nc, xv, nv = _paths(seed, rate, lift, per_look)
    sequential = fixed = 0
    for e in range(EXPERIMENTS):
        seq_hit = fix_hit = False
        for t in range(LOOKS):
            args = (int(xc[e, t]), int(nc[e, t]), int(xv[e, t]), int(nv[e, t]))
            look = msprt(*args)
            assert look is not None
            seq_hit = seq_hit or look.p_value < ALPHA
            p = z_test(*args)
            fix_hit = fix_hit or (p is not None and p < ALPHA)
        sequential += seq_hit
        fixed += fix_hit
    return sequential / EXPERIMENTS, fixed / EXPERIMENTS


@pytest.mark.parametrize(
    ("seed", "rate", "per_look"),
    [
        (1, 0.10, 500),
        (2, 0.03, 1_000),
        (3, 0.25, 200),
        (7, 0.05, 50),  # small: 50..1,000 users, where the normal approximation is weakest
        (8, 0.01, 100),  # rare conversions
        (10, 0.02, 5_000),  # large: up to 100,000 users per variant
    ],
)
def test_aa_experiments_looked_at_20_times_flag_at_most_5_percent(
    seed: int, rate: float, per_look: int
) -> None:
    sequential, fixed = _flag_rates(seed, rate, per_look=per_look)
    print(
        f"\nA/A rate {rate}: sequential flags {sequential:.3f}, fixed-horizon peeking {fixed:.3f}"
    )
    assert sequential <= 0.05
    assert fixed > 0.10  # the peeking inflation the mSPRT removes
    assert fixed > 2 * sequential


def test_a_real_lift_is_found() -> None:
    sequential, _ = _flag_rates(4, 0.10, lift=0.02, per_look=500)
    assert sequential > 0.8  # +2 pp at 10%, up to 10,000 users per variant


def test_p_value_and_confidence_sequence_agree_and_the_sequence_holds_the_estimate() -> None:
    rng = np.random.default_rng(5)
    for _ in range(2_000):
        nc, nv = (int(v) for v in rng.integers(1, 50_000, 2))
        xc, xv = int(rng.binomial(nc, rng.uniform(0, 0.3))), int(rng.binomial(nv, 0.1))
        look = msprt(xc, nc, xv, nv)
        assert look is not None
        low, high = look.interval
        d = xv / nv - xc / nc
        assert -1 <= low <= d <= high <= 1
        if abs(look.p_value - ALPHA) > 1e-9:
            assert (look.p_value < ALPHA) == (not low <= 0 <= high), (xc, nc, xv, nv, look)
        fixed = z_test(xc, nc, xv, nv)
        assert fixed is not None


def test_the_mixture_is_the_documented_one() -> None:
    """Lambda = sqrt(V / (V + tau^2)) exp(tau^2 d^2 / (2 V (V + tau^2))), tau^2 = rho^2 2 pi
    (1 - pi), rho^2 = (2 ln 20 + ln(1 + 2 ln 20)) / TUNED_USERS, computed here independently."""
    expected = (2 * math.log(20) + math.log(1 + 2 * math.log(20))) / TUNED_USERS
    assert expected == pytest.approx(RHO2, rel=1e-12)
    xc, nc, xv, nv = 480, 5_000, 560, 5_000
    ac, av = (xc + 1) / (nc + 2), (xv + 1) / (nv + 2)
    v = ac * (1 - ac) / nc + av * (1 - av) / nv
    pooled = (xc + xv + 1) / (nc + nv + 2)
    tau2 = RHO2 * 2 * pooled * (1 - pooled)
    d = xv / nv - xc / nc
    lam = math.sqrt(v / (v + tau2)) * math.exp(tau2 * d * d / (2 * v * (v + tau2)))
    look = msprt(xc, nc, xv, nv)
    assert look is not None
    assert look.p_value == pytest.approx(min(1.0, 1 / lam), rel=1e-12)
    assert look.mixing_variance == pytest.approx(tau2)
    # the sequence is every theta the mixture does not reject at 5%
    low, high = look.interval
    for theta, inside in ((low + 1e-9, True), (high - 1e-9, True), (low - 1e-6, False)):
        e = d - theta
        lam_t = math.sqrt(v / (v + tau2)) * math.exp(tau2 * e * e / (2 * v * (v + tau2)))
        assert (lam_t < 1 / ALPHA) == inside
    assert msprt(0, 0, 1, 10) is None


def test_sketch_error_widens_the_sequence() -> None:
    exact = msprt(40_000, 400_000, 41_000, 400_000)
    sketched = msprt(40_000, 400_000, 41_000, 400_000, errors=(SKETCH_ERROR, SKETCH_ERROR))
    assert exact is not None and sketched is not None
    assert sketched.p_value > exact.p_value
    assert sketched.interval[0] < exact.interval[0] and sketched.interval[1] > exact.interval[1]


def test_the_readout_reports_the_sequential_numbers() -> None:
    body = readout(
        "home",
        "exp",
        [("control", 50), ("variant", 50)],
        [VariantCounts("control", 8_000, 800), VariantCounts("variant", 8_000, 960)],
    )
    variant = body.variants[1]
    look = msprt(800, 8_000, 960, 8_000, errors=(SKETCH_ERROR, SKETCH_ERROR))
    assert look is not None
    assert variant.sequential_p_value == look.p_value
    assert variant.sequential_interval == look.interval
    assert body.variants[0].sequential_p_value is None  # control


@settings(max_examples=300, deadline=None)
@given(
    nc=st.integers(1, 10**6),
    nv=st.integers(1, 10**6),
    fc=st.floats(0, 1),
    fv=st.floats(0, 1),
    sketched=st.booleans(),
)
def test_sequence_properties(nc: int, nv: int, fc: float, fv: float, sketched: bool) -> None:
    xc, xv = round(fc * nc), round(fv * nv)
    errors = (SKETCH_ERROR, SKETCH_ERROR) if sketched else (0.0, 0.0)
    look = msprt(xc, nc, xv, nv, errors=errors)
    swapped = msprt(xv, nv, xc, nc, errors=errors)
    assert look is not None and swapped is not None
    low, high = look.interval
    d = xv / nv - xc / nc
    assert -1.0 <= low <= d <= high <= 1.0 and high > low
    assert 0.0 <= look.p_value <= 1.0  # 0.0: below the smallest float
    assert swapped.p_value == pytest.approx(look.p_value, rel=1e-9)
    assert swapped.interval == pytest.approx((-high, -low), abs=1e-12)  # symmetric
    fixed = diff_interval(xc, nc, xv, nv, errors=errors)
    assert fixed is not None  # the sequence is the wider, never inside the fixed interval
    assert low <= max(fixed[0], d) and high >= min(fixed[1], d)

"""The readout's fixed-horizon statistics against scipy and statsmodels (the oracles), the
widening for sketch-estimated exposures, and a readout without enough data saying so.

Issue #20 section 2: the Wald difference interval gave [0, 0] at 0/10 vs 0/10, [1, 1] at 0/1 vs
1/1 (p = 0.157) and an upper bound of 1.088 at 1/3 vs 2/3; sketch estimates treated as exact
counts flagged SRM at p = 1e-12 with 500,000 users per variant; with no conversions the readout
printed "+0.00 pp (+0.00 to +0.00)" and "54.4% chance to beat control".
"""

from __future__ import annotations

import math
import warnings

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

from uiserver.engine.readout import (
    SKETCH_ERROR,
    VariantCounts,
    chance_to_beat,
    diff_interval,
    readout,
    srm,
    wilson,
    z_test,
)

WEIGHTS = [("control", 50), ("variant", 50)]

# (control converted, control exposed, variant converted, variant exposed): the issue's three
# and siblings of each kind (no conversions, all-or-nothing, tiny, extreme, large).
TABLES = [
    (0, 10, 0, 10),
    (0, 1, 1, 1),
    (1, 3, 2, 3),
    (0, 1, 0, 1),
    (1, 1, 0, 1),
    (2, 3, 1, 3),
    (0, 5, 5, 5),
    (10, 10, 0, 10),
    (0, 200, 3, 200),
    (1, 2, 1, 50),
    (3, 7, 0, 12),
    (100, 1000, 130, 1000),
    (4_950, 50_000, 5_210, 50_500),
    (0, 100, 0, 37),
]


def _newcombe(xc: int, nc: int, xv: int, nv: int) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels divides by zero at 0/n on its way
        low, high = confint_proportions_2indep(xv, nv, xc, nc, method="newcomb", compare="diff")
    return float(low), float(high)


def _readout(*counts: VariantCounts) -> dict[str, object]:
    body: dict[str, object] = msgspec.to_builtins(readout("home", "exp", WEIGHTS, list(counts)))
    return body


@pytest.mark.parametrize("table", TABLES)
def test_difference_interval_is_newcombes_as_statsmodels_computes_it(
    table: tuple[int, int, int, int],
) -> None:
    interval = diff_interval(*table)
    assert interval is not None
    low, high = interval
    assert (low, high) == pytest.approx(_newcombe(*table), abs=1e-12)
    xc, nc, xv, nv = table
    d = xv / nv - xc / nc
    assert -1.0 <= low <= d <= high <= 1.0
    assert high - low > 0  # positive width, even at 0/10 vs 0/10


def test_the_issues_three_tables() -> None:
    zero = diff_interval(0, 10, 0, 10)
    assert zero is not None and zero[0] < 0 < zero[1]
    assert zero == pytest.approx((-0.27753, 0.27753), abs=1e-5)
    one = diff_interval(0, 1, 1, 1)
    assert one is not None and one != (1.0, 1.0)
    assert one[0] < 0 < one[1] == 1.0  # agrees with p = 0.157: not significant
    assert z_test(0, 1, 1, 1) == pytest.approx(0.1573, abs=1e-4)
    third = diff_interval(1, 3, 2, 3)
    assert third is not None and third[1] <= 1.0
    assert third == pytest.approx((-0.31580, 0.71778), abs=1e-5)


def test_the_issues_tables_through_the_readout() -> None:
    body = _readout(VariantCounts("control", 1, 0, exact=True), VariantCounts("variant", 1, 1))
    variant = body["variants"][1]  # type: ignore[index]
    low, high = variant["difference_interval"]
    assert -1 <= low < 0 < high <= 1 and (low, high) != (1.0, 1.0)
    assert variant["p_value"] == pytest.approx(0.1573, abs=1e-3)
    body = _readout(VariantCounts("control", 3, 1, exact=True), VariantCounts("variant", 3, 2))
    assert body["variants"][1]["difference_interval"][1] <= 1.0  # type: ignore[index]


def test_the_interval_agrees_with_the_z_test() -> None:
    """0 is outside Newcombe's interval exactly when the z-test's p < 0.05, but for a few
    tables with p near 0.05 (the two are different approximations): measured over every table
    with 5..40 users per variant, they disagree in under 1% and never beyond p in (0.01, 0.06)."""
    disagree = total = 0
    for nc in range(5, 41, 5):
        for nv in range(5, 41, 5):
            for xc in range(nc + 1):
                for xv in range(nv + 1):
                    p = z_test(xc, nc, xv, nv)
                    interval = diff_interval(xc, nc, xv, nv)
                    assert p is not None and interval is not None
                    total += 1
                    if (p < 0.05) == (interval[0] <= 0 <= interval[1]):
                        disagree += 1
                        assert 0.01 < p < 0.06, (xc, nc, xv, nv, p, interval)
    assert disagree / total < 0.01, (disagree, total)


@pytest.mark.parametrize("table", TABLES)
def test_z_test_and_wilson_as_statsmodels_compute_them(table: tuple[int, int, int, int]) -> None:
    xc, nc, xv, nv = table
    p = z_test(xc, nc, xv, nv)
    if 0 < xc + xv < nc + nv:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, expected = proportions_ztest([xv, xc], [nv, nc])
        assert p == pytest.approx(float(expected), rel=1e-9, abs=1e-12)
    else:
        assert p == 1.0  # no variation at all: nothing to test
    for x, n in ((xc, nc), (xv, nv)):
        low, high = proportion_confint(x, n, method="wilson")
        assert wilson(x, n) == pytest.approx((float(low), float(high)), abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(
    nc=st.integers(1, 5_000),
    nv=st.integers(1, 5_000),
    fc=st.floats(0, 1),
    fv=st.floats(0, 1),
    sketched=st.booleans(),
)
def test_interval_properties(nc: int, nv: int, fc: float, fv: float, sketched: bool) -> None:
    xc, xv = round(fc * nc), round(fv * nv)
    errors = (SKETCH_ERROR, SKETCH_ERROR) if sketched else (0.0, 0.0)
    interval = diff_interval(xc, nc, xv, nv, errors=errors)
    swapped = diff_interval(xv, nv, xc, nc, errors=errors)
    assert interval is not None and swapped is not None
    low, high = interval
    d = xv / nv - xc / nc
    assert -1.0 <= low <= d <= high <= 1.0 and high > low
    assert swapped == pytest.approx((-high, -low), abs=1e-12)  # symmetric under swapping
    if sketched:  # the sketch's error only ever widens it
        plain = diff_interval(xc, nc, xv, nv)
        assert plain is not None and low <= plain[0] + 1e-12 and high >= plain[1] - 1e-12
    rate = wilson(xc, nc, error=errors[0])
    assert rate is not None and rate[0] <= xc / nc <= rate[1]


def test_srm_matches_scipys_chi_squared_for_exact_counts() -> None:
    for exposed, weights in (
        ([1100, 900], [1, 1]),
        ([5050, 4950], [1, 1]),
        ([520, 300, 180], [5, 3, 2]),
        ([9000, 1040], [90, 10]),
    ):
        check = srm(exposed, weights)
        total = sum(exposed)
        expected = [total * w / sum(weights) for w in weights]
        chi, p = stats.chisquare(exposed, expected)
        assert check is not None and not check.widened
        assert check.chi_squared == pytest.approx(float(chi), rel=1e-12)
        assert check.p_value == pytest.approx(float(p), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("off", [0.01, -0.01, 0.015])
def test_a_one_percent_sketch_error_at_500k_users_is_not_a_mismatch(off: float) -> None:
    """Issue #20: ~500,000 users per variant, an estimate off by 1% (a sketch's error alone)
    gave SRM p = 1e-12; widened by the sketch's error it is not a mismatch, while the same
    counts said to be exact still are (and the widened readout says why)."""
    true = 500_000
    counts = [
        VariantCounts("control", round(true * (1 + off)), 50_000),
        VariantCounts("variant", true, 50_000),
    ]
    body = readout("home", "exp", WEIGHTS, counts)
    assert body.srm is not None and body.srm.widened and not body.srm.flagged, body.srm
    assert body.srm.p_value > 0.01
    assert body.exposure_counting == "sketch"
    assert all(v.exposure_counting == "sketch" for v in body.variants)
    assert any("HyperLogLog" in note and "widened" in note for note in body.notes)
    assert "sketch estimate's variance" in body.methods["srm"]
    assert "widened" in body.methods["difference_interval"]
    exact = [msgspec.structs.replace(c, exact=True) for c in counts]
    classic = readout("home", "exp", WEIGHTS, exact)
    assert classic.srm is not None and classic.srm.flagged and not classic.srm.widened
    assert classic.exposure_counting == "exact"
    assert classic.methods["srm"].startswith("Pearson") and "widened" not in str(classic.methods)
    assert all(v.exposure_error == 0 for v in classic.variants)


def test_a_real_mismatch_still_flags_when_widened() -> None:
    counts = [VariantCounts("control", 550_000, 1), VariantCounts("variant", 450_000, 1)]
    body = readout("home", "exp", WEIGHTS, counts)
    assert body.srm is not None and body.srm.flagged
    small = [VariantCounts("control", 1_100), VariantCounts("variant", 900)]  # chi2 ~20
    check = readout("home", "exp", WEIGHTS, small).srm
    assert check is not None and check.flagged and check.widened


def test_widened_srm_is_calibrated_under_sketch_noise() -> None:
    """Simulated: multinomial users over unequal shares, each count then off by a normal
    relative error of SKETCH_ERROR. The widened check's p-values are uniform (5% below 0.05),
    the classic check's are not (it flags most experiments)."""
    rng = np.random.default_rng(20)
    shares = [0.5, 0.3, 0.2]
    runs = 2_000
    widened = classic = 0
    for _ in range(runs):
        users = rng.multinomial(1_000_000, shares)
        estimates = np.rint(users * (1 + rng.normal(0, SKETCH_ERROR, 3))).astype(int).tolist()
        wide = srm(estimates, shares, [SKETCH_ERROR] * 3)
        plain = srm(estimates, shares)
        assert wide is not None and plain is not None
        widened += wide.p_value < 0.05
        classic += plain.p_value < 0.05
    rates = f"widened {widened / runs:.3f}, classic {classic / runs:.3f}"
    print(f"\nSRM p < 0.05 under sketch noise: {rates}")
    assert 0.03 <= widened / runs <= 0.07
    assert classic / runs > 0.5


def test_sketch_error_widens_every_number() -> None:
    plain = [
        VariantCounts("control", 400_000, 40_000, exact=True),
        VariantCounts("variant", 400_000, 41_000, exact=True),
    ]
    sketched = [msgspec.structs.replace(c, exact=False) for c in plain]
    a = readout("home", "exp", WEIGHTS, plain).variants[1]
    b = readout("home", "exp", WEIGHTS, sketched).variants[1]
    assert a.p_value is not None and b.p_value is not None and b.p_value > a.p_value
    assert a.difference_interval and b.difference_interval
    assert b.difference_interval[1] - b.difference_interval[0] > (
        a.difference_interval[1] - a.difference_interval[0]
    )
    assert (
        a.interval and b.interval and b.interval[1] - b.interval[0] > a.interval[1] - a.interval[0]
    )
    assert a.sequential_interval and b.sequential_interval
    assert b.sequential_interval[1] - b.sequential_interval[0] > (
        a.sequential_interval[1] - a.sequential_interval[0]
    )
    assert a.chance_to_beat_control and b.chance_to_beat_control
    assert 0.5 < b.chance_to_beat_control < a.chance_to_beat_control


@pytest.mark.parametrize(
    "counts",
    [
        # the issue's: exposures, no conversions anywhere (unequal: chance to beat read 54.4%)
        [VariantCounts("control", 120), VariantCounts("variant", 131)],
        [VariantCounts("control", 10, exact=True), VariantCounts("variant", 10, exact=True)],
        [VariantCounts("control", 0), VariantCounts("variant", 0)],
        [VariantCounts("control", 0), VariantCounts("variant", 40, 3)],  # no control exposures
        [VariantCounts("control", 5, 5), VariantCounts("variant", 7, 7)],  # all converted
    ],
)
def test_without_enough_data_the_readout_says_so_and_gives_no_numbers(
    counts: list[VariantCounts],
) -> None:
    body = _readout(*counts)
    assert body["enough_data"] is False
    assert isinstance(body["reason"], str) and body["reason"]
    assert body["minimum"] == {"exposed_users": 1, "conversions": 1}
    assert any("Not enough data" in note for note in body["notes"])  # type: ignore[attr-defined]
    for v in body["variants"]:  # type: ignore[attr-defined]
        assert v["enough_data"] is False and v["reason"]
        for field in (
            "difference",
            "difference_interval",
            "p_value",
            "chance_to_beat_control",
            "sequential_p_value",
            "sequential_interval",
        ):
            assert v[field] is None, (field, v)
    assert chance_to_beat(0, 120, 0, 131) == pytest.approx(0.5, abs=0.05)  # the raw 54.4%


def test_one_variant_without_data_beside_one_with() -> None:
    weights = [("control", 1), ("a", 1), ("b", 1)]
    counts = [
        VariantCounts("control", 300, 0),
        VariantCounts("a", 300, 0),
        VariantCounts("b", 300, 12),
    ]
    body = readout("home", "exp", weights, counts)
    assert body.enough_data is True and body.reason is None
    control, a, b = body.variants
    assert control.interval is not None and control.enough_data
    assert a.enough_data is False and a.difference is None and a.p_value is None
    assert b.enough_data is True and b.difference == pytest.approx(0.04)
    assert b.difference_interval is not None and b.sequential_p_value is not None


def test_the_readout_names_its_methods() -> None:
    body = readout(
        "home",
        "exp",
        WEIGHTS,
        [VariantCounts("control", 2_000, 200), VariantCounts("variant", 2_000, 260)],
    )
    assert body.decision == "sequential"
    assert "Newcombe" in body.methods["difference_interval"]
    assert "fixed-horizon" in body.methods["p_value"]
    assert "always valid" in body.methods["sequential_p_value"]
    assert body.sequential.method == "msprt" and body.sequential.tuned_users > 0
    variant = body.variants[1]
    assert variant.sequential_p_value is not None and variant.p_value is not None
    assert variant.sequential_p_value >= variant.p_value  # the price of looking any time
    assert variant.mixing_variance == pytest.approx(
        body.sequential.rho_squared * 2 * (461 / 4002) * (1 - 461 / 4002)
    )
    assert math.isfinite(variant.sequential_p_value)


def test_only_the_estimated_part_of_a_count_carries_the_sketch_error() -> None:
    """Exact first-exposure counts plus a sketch of users without markers: the error is the
    sketch's on its part only, so 500,000 exact users and 1,000 estimated ones read out almost
    as exact counts do (a 1% real mismatch still flags), and the whole count estimated does not."""

    def counts(estimated: int | None) -> list[VariantCounts]:
        return [
            VariantCounts("control", 505_000, 50_000, estimated=estimated),
            VariantCounts("variant", 500_000, 50_000, estimated=estimated),
        ]

    partly = readout("home", "exp", WEIGHTS, counts(1_000))
    wholly = readout("home", "exp", WEIGHTS, counts(None))
    assert partly.srm is not None and partly.srm.flagged and partly.srm.widened
    assert wholly.srm is not None and not wholly.srm.flagged
    error = partly.variants[0].exposure_error
    assert error == pytest.approx(SKETCH_ERROR * 1_000 / 505_000)
    assert partly.variants[0].exposure_counting == "sketch"
    assert wholly.variants[0].exposure_error == SKETCH_ERROR
    exact = readout(
        "home", "exp", WEIGHTS, [msgspec.structs.replace(c, exact=True) for c in counts(0)]
    )
    assert all(v.exposure_error == 0 for v in exact.variants)

"""The experiment readout: per-variant counts turned into rates, intervals, tests and an SRM check.

Pure functions over `VariantCounts`, what a store counted per variant (no I/O). Conversions are
users who converted (each exposed user counts once per experiment), so a rate is a proportion of
exposed users and the classic two-sample tests apply (95%, z = 1.959964):

- rate interval: Wilson score interval, sound for small counts and rates near 0 (Wilson 1927;
  Agresti & Coull, 1998);
- difference to control: Newcombe's hybrid score interval (Newcombe 1998, "Interval estimation
  for the difference between independent proportions", Statistics in Medicine 17, method 10)
  from the two Wilson intervals: positive width at 0/n vs 0/n, inside [-1, 1], and it leaves
  out 0 nearly exactly when the z-test's p < 0.05 (a Wald interval does neither);
- p_value: the pooled two-proportion z-test, two-sided, erfc(|z| / sqrt 2);
- both are fixed-horizon: valid at one look at a sample size set in advance. The always-valid
  numbers an operator who looks every day acts on are the mSPRT's `sequential_p_value` and
  `sequential_interval` (`engine.sequential`); `decision` names them;
- chance to beat control: P(p_v > p_c) under independent Beta(1 + conversions, 1 + non-
  conversions) posteriors (uniform priors), in closed form (Evan Miller's sum, "Formulas for
  Bayesian A/B testing"), with a normal approximation past `EXACT_LIMIT` conversions;
- sample-ratio mismatch: Pearson's chi-squared of exposed users against the expected shares,
  k - 1 degrees of freedom, flagged when p < 0.001 (the threshold GrowthBook uses).

Exposures a store estimated with a HyperLogLog sketch (`VariantCounts.exact` False) carry the
sketch's relative standard error e = 1.04/sqrt(m) (m = 16,384 registers in both stores: 0.81%;
Flajolet et al. 2007). Treating them as exact flags healthy experiments (at 500,000 users per
variant a 1% estimate error is SRM p = 1e-12), so every test adds it: a rate x/n' with n' off by
a relative e has variance p(1 - p)/n + e^2 p^2, so Wilson, Newcombe and the Beta posteriors use
the effective sample size n / (1 + e^2 n p / (1 - p)), the z-test's variance adds e^2 pi^2 per
variant, and the SRM statistic is the quadratic form of the deviations in their covariance with
the sketch's variance (e n_i)^2 added per cell (for equal shares: Pearson's statistic divided by
1 + e^2 n_i). Exact counts get the classic tests. The readout names the counting per variant.

Without data there are no numbers: a comparison needs `MIN_EXPOSED` exposed users in both
variants and, between them, at least one user who converted and one who did not; until then its
difference, intervals, p-values and chance to beat control are null and `enough_data` says why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal, NamedTuple

import msgspec

from uiserver.engine.sequential import ALPHA, RHO2, TUNED_USERS, msprt

Z95 = 1.959963984540054
SRM_THRESHOLD = 0.001
EXACT_LIMIT = 20_000  # conversions above which chance-to-beat uses the normal approximation
SKETCH_REGISTERS = 1 << 14  # HyperLogLog precision 14: the SQLite sketch and Redis' PFCOUNT
SKETCH_ERROR = 1.04 / math.sqrt(SKETCH_REGISTERS)  # 0.0081, relative standard error
MIN_EXPOSED = 1  # exposed users each variant of a comparison needs (and 1 conversion between)
MIN_CONVERSIONS = 1
NOTES = (
    "Users with personalization off are bucketed and counted as exposed (an experiment is not "
    "personalization), but their events are not stored: they add exposures and no conversions.",
    "conversions count each exposed user once, convert_events every convert event.",
)
DECISION_NOTE = (
    "Decide on sequential_p_value and sequential_interval (mSPRT, always valid: looking every "
    "day does not inflate false positives). p_value and difference_interval are fixed-horizon: "
    "valid only when read once, at a sample size set in advance."
)
METHODS = {
    "interval": "Wilson score interval, 95%",
    "difference_interval": "Newcombe hybrid score interval (1998, method 10), 95%, fixed-horizon",
    "p_value": "pooled two-proportion z-test, two-sided, fixed-horizon",
    "sequential_p_value": "mSPRT normal mixture (Johari et al. 2022), always valid",
    "sequential_interval": "mSPRT confidence sequence, 95%, always valid",
    "chance_to_beat_control": "Beta(1, 1) priors, P(variant rate > control rate)",
    "srm": "Pearson chi-squared against the expected shares, flagged at p < 0.001",
}
Counting = Literal["exact", "sketch"]


class VariantCounts(msgspec.Struct, frozen=True):
    """What the store counted for one variant: distinct exposed users (a sketch's estimate),
    users who converted (exact), convert events and their summed value, the days seen."""

    variant: str
    exposed: int = 0
    converters: int = 0
    converts: int = 0
    value: float = 0.0
    first_day: int | None = None
    last_day: int | None = None
    exact: bool = False  # `exposed` counted exactly (first-exposure markers), not a sketch estimate
    # Of `exposed`, how many a sketch estimated when not exact (exact counts plus a sketch of
    # users without markers); None: all of it. Its error is SKETCH_ERROR of this part only.
    estimated: int | None = None
    multi: int = 0  # exposed users of this variant also exposed to another variant
    switched: int = 0  # users who became exposed to a second variant by exposure to this one
    early: int = 0  # conversions ignored: dated before the user's first exposure


class VariantReadout(msgspec.Struct):
    name: str
    control: bool
    weight: int
    share: float  # expected share of users: the variant's share of the allocation (else weights)
    exposed_users: int
    conversions: int  # exposed users who converted at least once
    conversion_rate: float | None
    interval: tuple[float, float] | None  # 95% Wilson interval of the rate
    convert_events: int
    value: float  # summed `value` of the convert events
    value_per_user: float | None
    difference: float | None  # rate - control rate
    difference_interval: tuple[float, float] | None  # 95% Newcombe, fixed-horizon
    p_value: float | None  # two-proportion z-test against control, fixed-horizon
    chance_to_beat_control: float | None
    sequential_p_value: float | None = None  # mSPRT, always valid: the decision number
    sequential_interval: tuple[float, float] | None = None  # 95% confidence sequence
    mixing_variance: float | None = None  # the mSPRT's tau^2 (rate units squared)
    exposure_counting: Counting = "sketch"  # how exposed_users was counted
    exposure_error: float = SKETCH_ERROR  # its relative standard error (0 when exact)
    enough_data: bool = True  # False: no comparison (or no rate interval) yet, see `reason`
    reason: str | None = None  # why there are no numbers yet
    multiple_exposures: int = 0  # of exposed_users, how many were also exposed to another variant


class SrmCheck(msgspec.Struct):
    """The sample-ratio check. JSON has no infinity (msgspec writes a float infinity as null):
    when a variant expected to get no users (share 0) has exposures, the statistic is
    infinite and is sent as `chi_squared: null` with `chi_squared_infinite: true`,
    `p_value: 0` and `flagged: true`; otherwise `chi_squared` is a finite number."""

    chi_squared: float | None  # None only when `chi_squared_infinite`
    degrees_of_freedom: int
    p_value: float
    flagged: bool  # p < threshold: exposures do not match the weights; distrust the results
    threshold: float = SRM_THRESHOLD
    widened: bool = False  # the sketch's error is part of the statistic's variance
    chi_squared_infinite: bool = False  # exposures where none were expected


class DateRange(msgspec.Struct):
    from_: str = msgspec.field(name="from")  # ISO dates (UTC days with counts)
    to: str = ""


class Minimum(msgspec.Struct):
    """What a comparison needs before the readout gives numbers."""

    exposed_users: int = MIN_EXPOSED  # in each of the two variants
    conversions: int = MIN_CONVERSIONS  # between them (and one user who did not convert)


class SequentialMethod(msgspec.Struct):
    """The mSPRT's parameters (`engine.sequential`)."""

    method: str = "msprt"
    alpha: float = ALPHA
    tuned_users: int = TUNED_USERS  # users per variant where the sequence is narrowest
    rho_squared: float = RHO2  # tau^2 = rho^2 * 2 pi (1 - pi)


class CohortReadout(msgspec.Struct):
    """The readout restricted to one cohort (`engine.activity.COHORTS`): `dimension` is `mode`
    (`elderly`/`standard`) or `stage` (`new`/`returning`), users counted by their cohort when
    first exposed to the variant."""

    cohort: str
    dimension: str
    variants: list[VariantReadout]
    srm: SrmCheck | None
    exposed_users: int


class ExperimentReadout(msgspec.Struct):
    page: str
    experiment: str | None
    variants: list[VariantReadout]
    srm: SrmCheck | None
    date_range: DateRange | None
    exposed_users: int
    notes: list[str]
    enough_data: bool = False  # some variant can be compared with control
    reason: str | None = None  # why not
    minimum: Minimum = msgspec.field(default_factory=Minimum)
    decision: str = "sequential"  # act on sequential_p_value / sequential_interval
    methods: dict[str, str] = msgspec.field(default_factory=lambda: dict(METHODS))
    sequential: SequentialMethod = msgspec.field(default_factory=SequentialMethod)
    exposure_counting: Literal["exact", "sketch", "mixed"] | None = None
    archived: bool = False  # the page is archived: the readout of its last published version
    multiple_exposures: int = 0  # users exposed to more than one variant (each counted in each)
    ignored_conversions: dict[str, int] = {}  # reason -> conversions not counted
    attribution: str = ""  # the rule conversions are attributed by
    cohorts: list[CohortReadout] = []  # the same readout per cohort
    # The published split changed during the experiment: no SRM check (`srm` null, see notes).
    split_changed: bool = False
    # A past experiment of the page (`?experiment=`): another one, or none, runs there now.
    ended: bool = False


def _effective(x: float, n: float, error: float, p: float | None = None) -> tuple[float, float]:
    """(x', n'): counts whose binomial variance p(1 - p)/n' is p(1 - p)/n + (error p)^2, the
    variance of x/n when n is an estimate off by a relative `error`; unchanged when error is 0.
    `p` defaults to x/n, held below 1 by half a user (all converted still has an error)."""
    if error <= 0 or n <= 0:
        return x, n
    rate = x / n if p is None else p
    rate = min(rate, 1 - 0.5 / n)
    n_eff = n / (1 + error * error * n * rate / (1 - rate))
    return x / n * n_eff, n_eff


def wilson(x: float, n: float, z: float = Z95, *, error: float = 0.0) -> tuple[float, float] | None:
    """Wilson's score interval of x/n, within [0, 1]; None when n is 0. `error`: the relative
    standard error of n (a sketch's estimate), which widens it (`_effective`)."""
    if n <= 0:
        return None
    x, n = _effective(x, n, error)
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(0.0, p * (1 - p)) / n + z * z / (4 * n * n)) / denom
    # It always holds p; rounding at p = 0 or 1 must not leave it out.
    return max(0.0, min(centre - half, p)), min(1.0, max(centre + half, p))


def z_test(
    xc: float, nc: float, xv: float, nv: float, *, errors: tuple[float, float] = (0.0, 0.0)
) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test; None when undefined. `errors`:
    the relative standard errors of nc and nv, adding (e pi)^2 each to the variance."""
    if nc <= 0 or nv <= 0:
        return None
    pooled = (xc + xv) / (nc + nv)
    variance = pooled * (1 - pooled) * (1 / nc + 1 / nv) + pooled * pooled * (
        errors[0] ** 2 + errors[1] ** 2
    )
    if variance <= 0:
        return 1.0
    z = (xv / nv - xc / nc) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))


def diff_interval(
    xc: float, nc: float, xv: float, nv: float, *, errors: tuple[float, float] = (0.0, 0.0)
) -> tuple[float, float] | None:
    """Newcombe's hybrid score interval (1998, method 10) of p_v - p_c from the two Wilson
    intervals (widened by `errors` as `wilson`), within [-1, 1]; None without exposures.
    statsmodels' `confint_proportions_2indep(xv, nv, xc, nc, method="newcomb")`."""
    control = wilson(xc, nc, error=errors[0])
    variant = wilson(xv, nv, error=errors[1])
    if control is None or variant is None:
        return None
    pc, pv = xc / nc, xv / nv
    d = pv - pc
    low = d - math.hypot(pv - variant[0], control[1] - pc)
    high = d + math.hypot(variant[1] - pv, pc - control[0])
    return max(-1.0, low), min(1.0, high)


newcombe = diff_interval


def _lbeta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def chance_to_beat(
    xc: float, nc: float, xv: float, nv: float, *, errors: tuple[float, float] = (0.0, 0.0)
) -> float | None:
    """P(p_v > p_c) with Beta(1 + x, 1 + n - x) posteriors (effective counts, rounded, when
    `errors` says an n is an estimate)."""
    if nc <= 0 or nv <= 0:
        return None
    ec, fc = _effective(xc, nc, errors[0])
    ev, fv = _effective(xv, nv, errors[1])
    xc, nc, xv, nv = round(ec), max(1, round(fc)), round(ev), max(1, round(fv))
    a_c, b_c = 1 + xc, 1 + nc - xc
    a_v, b_v = 1 + xv, 1 + nv - xv
    if a_v > EXACT_LIMIT:
        mean = a_v / (a_v + b_v) - a_c / (a_c + b_c)
        var = a_v * b_v / ((a_v + b_v) ** 2 * (a_v + b_v + 1)) + a_c * b_c / (
            (a_c + b_c) ** 2 * (a_c + b_c + 1)
        )
        return 0.5 * math.erfc(-mean / math.sqrt(2 * var))
    base = _lbeta(a_c, b_c)
    total = 0.0
    for i in range(int(a_v)):
        total += math.exp(
            _lbeta(a_c + i, b_c + b_v) - math.log(b_v + i) - _lbeta(1 + i, b_v) - base
        )
    return min(1.0, max(0.0, total))


def _upper_gamma(s: float, x: float) -> float:
    """The regularized upper incomplete gamma Q(s, x) (series below s + 1, else a continued
    fraction; Numerical Recipes 6.2)."""
    if x <= 0:
        return 1.0
    log_prefix = s * math.log(x) - x - math.lgamma(s)
    if x < s + 1:
        term = total = 1.0 / s
        a = s
        for _ in range(500):
            a += 1
            term *= x / a
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefix))
    tiny = 1e-300
    b = x + 1 - s
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 500):
        an = -i * (i - s)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_prefix) * h)


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """x with matrix @ x = vector, by Gaussian elimination with partial pivoting (a small,
    symmetric positive definite covariance: one row per variant but the last)."""
    size = len(vector)
    rows = [[*row, value] for row, value in zip(matrix, vector, strict=True)]
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(col + 1, size):
            factor = rows[r][col] / rows[col][col]
            for c in range(col, size + 1):
                rows[r][c] -= factor * rows[col][c]
    out = [0.0] * size
    for r in range(size - 1, -1, -1):
        known = sum(rows[r][c] * out[c] for c in range(r + 1, size))
        out[r] = (rows[r][size] - known) / rows[r][r]
    return out


def _widened_chi(observed: list[float], shares: list[float], errors: list[float]) -> float:
    """The quadratic form D' S^-1 D of the deviations D_i = O_i - s_i N (all cells but the
    last: they sum to 0) in their covariance S = N (diag s - s s') (multinomial) + A E A'
    (A = I - s 1', E = diag((e_i N s_i)^2): each estimate's own error). With every e_i = 0 it
    is Pearson's statistic."""
    total = sum(observed)
    sketch = [(e * total * s) ** 2 for e, s in zip(errors, shares, strict=True)]
    spread = sum(sketch)
    size = len(shares) - 1
    cov = [
        [
            total * ((shares[i] if i == j else 0.0) - shares[i] * shares[j])
            + (sketch[i] if i == j else 0.0)
            - shares[j] * sketch[i]
            - shares[i] * sketch[j]
            + shares[i] * shares[j] * spread
            for j in range(size)
        ]
        for i in range(size)
    ]
    deviation = [observed[i] - shares[i] * total for i in range(size)]
    return sum(d * y for d, y in zip(deviation, _solve(cov, deviation), strict=True))


def srm(
    exposed: Sequence[int], weights: Sequence[float], errors: Sequence[float] | None = None
) -> SrmCheck | None:
    """Chi-squared of exposures against expected shares (or weights: only ratios matter); None
    with fewer than two weighted variants or no exposures. A variant of share 0 that has
    exposures is a mismatch: an infinite statistic (`SrmCheck.chi_squared_infinite`, p = 0).
    `errors`: each count's relative standard error (a
    sketch's estimate; 0 when exact): the statistic's covariance adds them (`_widened_chi`)."""
    total_weight = sum(weights)
    total = sum(exposed)
    if total <= 0 or total_weight <= 0 or sum(1 for w in weights if w > 0) < 2:
        return None
    errs = list(errors) if errors is not None else [0.0] * len(weights)
    cells: list[tuple[float, float, float]] = []
    for observed, weight, error in zip(exposed, weights, errs, strict=True):
        if weight <= 0:
            if observed > 0:
                return SrmCheck(None, len(weights) - 1, 0.0, True, chi_squared_infinite=True)
            continue
        cells.append((observed, weight / total_weight, error))
    df = len(cells) - 1
    if any(error > 0 for _, _, error in cells):
        obs, shares, cell_errors = (list(col) for col in zip(*cells, strict=True))
        chi = max(0.0, _widened_chi(obs, shares, cell_errors))
    else:
        chi = sum((o - total * s) ** 2 / (total * s) for o, s, _ in cells)
    p = _upper_gamma(df / 2, chi / 2)
    return SrmCheck(chi, df, p, p < SRM_THRESHOLD, widened=any(e > 0 for _, _, e in cells))


def _iso(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, tz=UTC).date().isoformat()


def _error(counts: VariantCounts, sketch_error: float) -> float:
    """The relative standard error of `counts.exposed`: 0 when exact, else the sketch's
    error scaled to the estimated part (all of it unless `estimated` says less)."""
    if counts.exact or counts.exposed <= 0:
        return 0.0 if counts.exact else sketch_error
    estimated = counts.exposed if counts.estimated is None else counts.estimated
    return sketch_error * min(max(estimated, 0), counts.exposed) / counts.exposed


class _Arm(NamedTuple):
    x: int  # converters
    n: int  # exposed users
    error: float  # relative standard error of n


def _missing(control: _Arm, arm: _Arm, name: str, control_name: str) -> str | None:
    """Why `arm` cannot be compared with control yet (None: it can)."""
    if control.n < MIN_EXPOSED:
        return f"control {control_name!r} has fewer than {MIN_EXPOSED} exposed user(s)"
    if arm.n < MIN_EXPOSED:
        return f"{name!r} has fewer than {MIN_EXPOSED} exposed user(s)"
    if control.x + arm.x < MIN_CONVERSIONS:
        return f"no conversions yet in {control_name!r} or {name!r}"
    if control.x + arm.x >= control.n + arm.n:
        return f"every exposed user of {control_name!r} and {name!r} converted: nothing to compare"
    return None


class _Comparison(NamedTuple):
    difference: float | None = None
    difference_interval: tuple[float, float] | None = None
    p_value: float | None = None
    chance_to_beat_control: float | None = None
    sequential_p_value: float | None = None
    sequential_interval: tuple[float, float] | None = None
    mixing_variance: float | None = None


def _comparison(control: _Arm, arm: _Arm) -> _Comparison:
    """The numbers comparing `arm` with control (`_missing` said there is data)."""
    args = (control.x, control.n, arm.x, arm.n)
    errors = (control.error, arm.error)
    sequential = msprt(*args, errors=errors)
    return _Comparison(
        difference=arm.x / arm.n - control.x / control.n,
        difference_interval=diff_interval(*args, errors=errors),
        p_value=z_test(*args, errors=errors),
        chance_to_beat_control=chance_to_beat(*args, errors=errors),
        sequential_p_value=sequential.p_value if sequential else None,
        sequential_interval=sequential.interval if sequential else None,
        mixing_variance=sequential.mixing_variance if sequential else None,
    )


class _Row(NamedTuple):
    name: str
    weight: int
    share: float
    counts: VariantCounts
    arm: _Arm


def _variant(row: _Row, control: _Row | None, any_data: bool) -> VariantReadout:
    """One variant's row; `control` None for the control itself. `any_data`: some variant has
    a conversion (and a user who did not convert): without, no interval either."""
    arm, name = row.arm, row.name
    if control is None:
        reason = None if arm.n >= MIN_EXPOSED else f"{name!r} has no exposed users yet"
    else:
        reason = _missing(control.arm, arm, name, control.name)
    if reason is None and not any_data:
        reason = "no conversions yet in any variant"
    compare = (
        _comparison(control.arm, arm) if control is not None and reason is None else _Comparison()
    )
    n, x, c = arm.n, arm.x, row.counts
    return VariantReadout(
        name=name,
        control=control is None,
        weight=row.weight,
        share=row.share,
        exposed_users=n,
        conversions=x,
        conversion_rate=x / n if n else None,
        interval=wilson(x, n, error=arm.error) if any_data else None,
        convert_events=c.converts,
        value=round(c.value, 2),
        value_per_user=round(c.value / n, 4) if n else None,
        difference=compare.difference,
        difference_interval=compare.difference_interval,
        p_value=compare.p_value,
        chance_to_beat_control=compare.chance_to_beat_control,
        sequential_p_value=compare.sequential_p_value,
        sequential_interval=compare.sequential_interval,
        mixing_variance=compare.mixing_variance,
        exposure_counting="exact" if c.exact else "sketch",
        exposure_error=arm.error,
        enough_data=reason is None,
        reason=reason,
    )


def _notes(rows: Sequence[_Row], enough: bool, reason: str | None) -> list[str]:
    sketched = [r.name for r in rows if not r.counts.exact]
    if sketched:
        counting = (
            f"exposed_users of {', '.join(sketched)} are, in whole or in part, HyperLogLog "
            f"estimates of distinct users (relative standard error {SKETCH_ERROR:.2%} of the "
            "estimated part): the SRM check, the intervals, the p-values and the chance to beat "
            "control are widened by that error."
        )
    else:
        counting = "exposed_users are exact counts of distinct exposed users."
    notes = [NOTES[0], f"{counting} {NOTES[1]}"]
    if not enough:
        notes.append(
            f"Not enough data yet ({reason}): a comparison needs {MIN_EXPOSED} exposed user(s) "
            f"in each variant and {MIN_CONVERSIONS} conversion between them; no difference, "
            "interval, p-value or chance to beat control until then."
        )
    notes.append(DECISION_NOTE)
    return notes


def readout(
    page: str,
    experiment: str | None,
    weights: Sequence[tuple[str, int]],
    counts: Sequence[VariantCounts],
    *,
    shares: Sequence[float] | None = None,
    archived: bool = False,
    sketch_error: float = SKETCH_ERROR,
) -> ExperimentReadout:
    """The readout of `experiment` on `page`: variants in template order, the first is control.
    `shares`: each variant's real share of users (its share of the bucket allocation), which
    the SRM check and `share` use; by default the weights' shares. `sketch_error`: the relative
    standard error of exposures a sketch estimated (`VariantCounts.exact` False). `archived`:
    the page is archived (the readout of its last published version). An empty readout (no
    variants) for a page without an experiment."""
    if experiment is None or not weights:
        return ExperimentReadout(
            page, None, [], None, None, 0, ["This page runs no experiment."], archived=archived
        )
    total_weight = sum(w for _, w in weights) or 1
    expected = list(shares) if shares is not None else [w / total_weight for _, w in weights]
    rows = [
        # An estimate may put converters above exposed users; a rate never exceeds 1.
        _Row(
            name,
            weight,
            expected[i],
            c,
            _Arm(min(c.converters, max(c.exposed, 0)), c.exposed, _error(c, sketch_error)),
        )
        for i, ((name, weight), c) in enumerate(zip(weights, counts, strict=True))
    ]
    converted = sum(r.arm.x for r in rows)
    any_data = 0 < converted < sum(r.arm.n for r in rows)
    variants = [_variant(row, rows[0] if i else None, any_data) for i, row in enumerate(rows)]
    compared = variants[1:]
    enough = any(v.enough_data for v in compared)
    reason = (
        None
        if enough
        else next((v.reason for v in compared if v.reason), "no variant to compare with control")
    )
    days = [d for c in counts for d in (c.first_day, c.last_day) if d is not None]
    dates = DateRange(_iso(min(days)), _iso(max(days))) if days else None
    counting = {r.counts.exact for r in rows}
    return ExperimentReadout(
        page=page,
        experiment=experiment,
        variants=variants,
        srm=srm([r.arm.n for r in rows], expected, [r.arm.error for r in rows]),
        date_range=dates,
        exposed_users=sum(r.arm.n for r in rows),
        notes=_notes(rows, enough, reason),
        enough_data=enough,
        reason=reason,
        exposure_counting="mixed"
        if len(counting) > 1
        else "exact"
        if True in counting
        else "sketch",
        archived=archived,
        methods=_methods(any(r.arm.error > 0 for r in rows)),
    )


def _methods(widened: bool) -> dict[str, str]:
    """`METHODS`, saying where a sketch's error widened the numbers."""
    if not widened:
        return dict(METHODS)
    return {
        name: f"{method}; widened by the exposure estimates' error"
        for name, method in METHODS.items()
    } | {
        "srm": "chi-squared quadratic form of exposures against the expected shares, each "
        "sketch estimate's variance added to the multinomial covariance, flagged at p < 0.001"
    }

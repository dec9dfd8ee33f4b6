"""The experiment readout: per-variant counts turned into rates, intervals, tests and an SRM check.

Pure functions over `VariantCounts`, what a store counted per variant (no I/O). Conversions are
users who converted (each exposed user counts once per experiment), so a rate is a proportion of
exposed users and the classic two-sample tests apply:

- rate interval: Wilson score interval, 95% (z = 1.959964), sound for small counts and rates
  near 0 (Agresti & Coull, 1998);
- difference to control: unpooled normal (Wald) 95% interval of p_v - p_c, and the pooled
  two-proportion z-test's two-sided p-value, erfc(|z| / sqrt 2);
- chance to beat control: P(p_v > p_c) under independent Beta(1 + conversions, 1 + non-
  conversions) posteriors (uniform priors), in closed form (Evan Miller's sum, "Formulas for
  Bayesian A/B testing"), with a normal approximation past `EXACT_LIMIT` conversions;
- sample-ratio mismatch: Pearson's chi-squared of exposed users against the variant weights,
  k - 1 degrees of freedom, flagged when p < 0.001 (the threshold GrowthBook uses).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec

Z95 = 1.959963984540054
SRM_THRESHOLD = 0.001
EXACT_LIMIT = 20_000  # conversions above which chance-to-beat uses the normal approximation
NOTES = (
    "Users with personalization off are bucketed and counted as exposed (an experiment is not "
    "personalization), but their events are not stored: they add exposures and no conversions.",
    "exposed_users is a HyperLogLog estimate of distinct users (standard error 0.81%); "
    "conversions count each exposed user once, convert_events every convert event.",
)


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
    difference_interval: tuple[float, float] | None  # 95%
    p_value: float | None  # two-proportion z-test against control
    chance_to_beat_control: float | None


class SrmCheck(msgspec.Struct):
    chi_squared: float
    degrees_of_freedom: int
    p_value: float
    flagged: bool  # p < threshold: exposures do not match the weights; distrust the results
    threshold: float = SRM_THRESHOLD


class DateRange(msgspec.Struct):
    from_: str = msgspec.field(name="from")  # ISO dates (UTC days with counts)
    to: str = ""


class ExperimentReadout(msgspec.Struct):
    page: str
    experiment: str | None
    variants: list[VariantReadout]
    srm: SrmCheck | None
    date_range: DateRange | None
    exposed_users: int
    notes: list[str]


def wilson(x: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    if n <= 0:
        return None
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def z_test(xc: int, nc: int, xv: int, nv: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test; None when undefined."""
    if nc <= 0 or nv <= 0:
        return None
    pooled = (xc + xv) / (nc + nv)
    se = math.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / nv))
    if se == 0:
        return 1.0
    z = (xv / nv - xc / nc) / se
    return math.erfc(abs(z) / math.sqrt(2))


def diff_interval(xc: int, nc: int, xv: int, nv: int) -> tuple[float, float] | None:
    if nc <= 0 or nv <= 0:
        return None
    pc, pv = xc / nc, xv / nv
    se = math.sqrt(pc * (1 - pc) / nc + pv * (1 - pv) / nv)
    return pv - pc - Z95 * se, pv - pc + Z95 * se


def _lbeta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def chance_to_beat(xc: int, nc: int, xv: int, nv: int) -> float | None:
    """P(p_v > p_c) with Beta(1 + x, 1 + n - x) posteriors."""
    if nc <= 0 or nv <= 0:
        return None
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
    for i in range(a_v):
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


def srm(exposed: Sequence[int], weights: Sequence[float]) -> SrmCheck | None:
    """Chi-squared of exposures against expected shares (or weights: only ratios matter); None
    with fewer than two weighted variants or no exposures. A variant of share 0 that has
    exposures is a mismatch (p = 0)."""
    total_weight = sum(weights)
    total = sum(exposed)
    if total <= 0 or total_weight <= 0 or sum(1 for w in weights if w > 0) < 2:
        return None
    chi = 0.0
    cells = 0
    for observed, weight in zip(exposed, weights, strict=True):
        if weight <= 0:
            if observed > 0:
                return SrmCheck(math.inf, len(weights) - 1, 0.0, True)
            continue
        expected = total * weight / total_weight
        chi += (observed - expected) ** 2 / expected
        cells += 1
    df = cells - 1
    p = _upper_gamma(df / 2, chi / 2)
    return SrmCheck(chi, df, p, p < SRM_THRESHOLD)


def _iso(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, tz=UTC).date().isoformat()


def readout(
    page: str,
    experiment: str | None,
    weights: Sequence[tuple[str, int]],
    counts: Sequence[VariantCounts],
    *,
    shares: Sequence[float] | None = None,
) -> ExperimentReadout:
    """The readout of `experiment` on `page`: variants in template order, the first is control.
    `shares`: each variant's real share of users (its share of the bucket allocation), which
    the SRM check and `share` use; by default the weights' shares. An empty readout (no
    variants) for a page without an experiment."""
    if experiment is None or not weights:
        return ExperimentReadout(page, None, [], None, None, 0, ["This page runs no experiment."])
    total_weight = sum(w for _, w in weights) or 1
    expected = list(shares) if shares is not None else [w / total_weight for _, w in weights]
    exposed = [c.exposed for c in counts]
    # An estimate may put converters above exposed users; a rate never exceeds 1.
    conversions = [min(c.converters, max(c.exposed, 0)) for c in counts]
    nc, xc = exposed[0], conversions[0]
    variants = []
    for i, ((name, weight), c) in enumerate(zip(weights, counts, strict=True)):
        n, x = exposed[i], conversions[i]
        control = i == 0
        variants.append(
            VariantReadout(
                name=name,
                control=control,
                weight=weight,
                share=expected[i],
                exposed_users=n,
                conversions=x,
                conversion_rate=x / n if n else None,
                interval=wilson(x, n),
                convert_events=c.converts,
                value=round(c.value, 2),
                value_per_user=round(c.value / n, 4) if n else None,
                difference=None if control or not n or not nc else x / n - xc / nc,
                difference_interval=None if control else diff_interval(xc, nc, x, n),
                p_value=None if control else z_test(xc, nc, x, n),
                chance_to_beat_control=None if control else chance_to_beat(xc, nc, x, n),
            )
        )
    days = [d for c in counts for d in (c.first_day, c.last_day) if d is not None]
    dates = DateRange(_iso(min(days)), _iso(max(days))) if days else None
    return ExperimentReadout(
        page=page,
        experiment=experiment,
        variants=variants,
        srm=srm(exposed, expected),
        date_range=dates,
        exposed_users=sum(exposed),
        notes=list(NOTES),
    )

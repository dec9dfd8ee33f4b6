"""Always-valid inference for a difference of two conversion rates: the normal-mixture sequential
probability ratio test (mSPRT) of Johari, Pekelis & Walsh ("Always valid inference: continuous
monitoring of A/B tests", Operations Research 70(3), 2022; arXiv 1512.04922), as Optimizely,
GrowthBook and LaunchDarkly offer it. Pure functions (no I/O).

An operator who looks at the readout every day and stops at the first p < 0.05 makes a false
discovery far more often than 5% with a fixed-horizon test; with the mSPRT the chance that the
p-value ever falls below alpha under no effect is at most alpha, however often it is looked at
(Ville's inequality for the mixture likelihood ratio, a martingale under the null).

With d the observed difference p_v - p_c and V its estimated variance, the mixture of the
likelihood ratio over a prior N(0, tau^2) on the true difference theta is (Johari et al. eq. 11)

    Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 d^2 / (2 V (V + tau^2)))

the always-valid p-value is min(1, 1 / Lambda), and the confidence sequence (every theta the test
at level alpha does not reject) is d +- sqrt(V (V + tau^2) / tau^2 * (ln((V + tau^2) / V) +
2 ln(1 / alpha))): the p-value is below alpha exactly when the sequence leaves out 0.

Mixing variance: tau^2 = rho^2 * 2 sigma^2, with sigma^2 = pi (1 - pi) the per-user variance under
the null (pi the pooled rate) and rho^2 = (2 ln(1/alpha) + ln(1 + 2 ln(1/alpha))) / TUNED_USERS
(Howard, Ramdas, McAuliffe & Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence
sequences", Annals of Statistics 49(2), 2021, eq. 3.11; GrowthBook's "tuning parameter"): the
confidence sequence is narrowest, relative to the fixed-horizon interval, at about TUNED_USERS
exposed users per variant: 1.55x as wide there, 1.72x at 1,000 users, 3.4x at 100, 1.70x at
100,000 and 1.87x at 1,000,000 (GrowthBook's default tuning is 5,000 too).
On the standardised scale the mixture is fixed in advance, so the guarantee does not depend on
the base rate.

V uses Agresti-Caffo rates (x + 1) / (n + 2) so a variant with no conversions yet has a positive
variance, plus each sketch-estimated variant's relative error squared times its rate squared (an
exposure count off by a relative e moves the rate by about e times itself). The normal
approximation makes the guarantee asymptotic: tests/unit/engine/test_sequential.py simulates
1,000 A/A experiments looked at 20 times each and counts how many ever flag.
"""

from __future__ import annotations

import math
from typing import NamedTuple

ALPHA = 0.05
TUNED_USERS = 5_000  # exposed users per variant where the sequence is narrowest (as GrowthBook)
_LOG_INV_ALPHA2 = 2 * math.log(1 / ALPHA)
RHO2 = (_LOG_INV_ALPHA2 + math.log(1 + _LOG_INV_ALPHA2)) / TUNED_USERS  # 1.59e-3


class Sequential(NamedTuple):
    """One mSPRT look: the always-valid p-value, the 95% confidence sequence of p_v - p_c
    (within [-1, 1]) and the mixing variance tau^2 used (rate units squared)."""

    p_value: float
    interval: tuple[float, float]
    mixing_variance: float


def mixing_variance(xc: float, nc: float, xv: float, nv: float) -> float:
    """tau^2 = RHO2 * 2 pi (1 - pi), pi the pooled Agresti-Caffo rate (so never 0)."""
    pooled = (xc + xv + 1) / (nc + nv + 2)
    return RHO2 * 2 * pooled * (1 - pooled)


def msprt(
    xc: float,
    nc: float,
    xv: float,
    nv: float,
    *,
    errors: tuple[float, float] = (0.0, 0.0),
    alpha: float = ALPHA,
) -> Sequential | None:
    """The mSPRT of variant (xv converted of nv exposed) against control (xc of nc); None when
    either has no exposures. `errors`: the relative standard errors of nc and nv (0 when counted
    exactly, a sketch's 1.04/sqrt(m) otherwise), which widen V."""
    if nc <= 0 or nv <= 0:
        return None
    pc, pv = xc / nc, xv / nv
    ac, av = (xc + 1) / (nc + 2), (xv + 1) / (nv + 2)
    variance = (
        ac * (1 - ac) / nc + av * (1 - av) / nv + (errors[0] * pc) ** 2 + (errors[1] * pv) ** 2
    )
    tau2 = mixing_variance(xc, nc, xv, nv)
    d = pv - pc
    log_lambda = 0.5 * math.log(variance / (variance + tau2)) + tau2 * d * d / (
        2 * variance * (variance + tau2)
    )
    p_value = math.exp(-log_lambda) if log_lambda > 0 else 1.0
    half = math.sqrt(
        variance
        * (variance + tau2)
        / tau2
        * (math.log((variance + tau2) / variance) + 2 * math.log(1 / alpha))
    )
    return Sequential(min(1.0, p_value), (max(-1.0, d - half), min(1.0, d + half)), tau2)

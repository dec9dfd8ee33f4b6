"""Every number in a readout and in the guardrails' verdicts is finite, or sent so a client
cannot misread it: JSON has no infinity or NaN, and msgspec writes either as null, which reads
as "not computed". The one infinite statistic, the sample-ratio chi-squared when a variant of
share 0 has exposures, is sent as `chi_squared: null` with `chi_squared_infinite: true`,
`p_value: 0`, `flagged: true` (it was a bare null, `chi_squared_infinite` absent)."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import msgspec

from uiserver.engine.guardrails import (
    Arms,
    Figures,
    Guardrail,
    RenderCounts,
    evaluate,
)
from uiserver.engine.readout import VariantCounts, readout, srm


def _non_finite(value: Any, path: str = "") -> list[str]:
    """Paths of the floats in `value` (msgspec builtins) that JSON cannot carry."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _non_finite(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _non_finite(v, f"{path}[{i}]")]
    return []


def test_a_variant_of_share_0_with_exposures_is_an_infinite_statistic_flagged() -> None:
    check = srm([500, 480, 7], [1, 1, 0])
    assert check is not None
    sent = json.loads(msgspec.json.encode(check))
    assert sent["chi_squared"] is None and sent["chi_squared_infinite"] is True
    assert sent["p_value"] == 0 and sent["flagged"] is True
    finite = json.loads(msgspec.json.encode(srm([500, 480], [1, 1])))
    assert isinstance(finite["chi_squared"], float) and finite["chi_squared_infinite"] is False


def test_readouts_at_the_edges_carry_only_finite_numbers() -> None:
    sizes = (0, 1, 2, 10**9)
    pairs = [(n, c) for n in sizes for c in sizes if c <= n]
    seen = 0
    for (ne, nc), (ve, vc), third, exact in itertools.product(
        pairs, pairs, (0, 1, 9), (True, False)
    ):
        weights = [("control", 1), ("variant", 1), ("off", third)]
        counts = [
            VariantCounts("control", ne, nc, nc, float(nc), exact=exact),
            VariantCounts("variant", ve, vc, vc, float(vc) * 1e6, exact=exact),
            VariantCounts("off", ve, 0, 0, 0.0, exact=exact),
        ]
        body = msgspec.to_builtins(readout("home", "exp", weights, counts))
        assert _non_finite(body) == [], (counts, weights)
        srm_sent = body["srm"]
        if srm_sent is not None:
            seen += srm_sent["chi_squared_infinite"]
            assert (srm_sent["chi_squared"] is None) == srm_sent["chi_squared_infinite"]
    assert seen  # the weight-0 cases were reached


def test_guardrail_figures_at_the_edges_carry_only_finite_numbers() -> None:
    guards = [
        Guardrail(metric, "hold") for metric in ("conversion", "render_errors", "srm", "no_traffic")
    ]
    sizes = (0, 1, 10**9)
    infinite = 0
    for percent, (a, b), (x, y), errors in itertools.product(
        (0, 1, 50, 100),
        itertools.product(sizes, sizes),
        itertools.product(sizes, sizes),
        ((0.0, 0.0), (0.0081, 0.0081)),
    ):
        arms = Arms((a, b), (min(x, a), min(y, b)), errors)
        render = RenderCounts((x, y), (a, b))
        verdicts = evaluate(guards, Figures(percent, arms, render=render), 3)
        for verdict in msgspec.to_builtins(verdicts):
            assert _non_finite(verdict) == [], (percent, arms, verdict)
            if verdict["metric"] == "srm" and "chi_squared" in verdict["figures"]:
                figures = verdict["figures"]
                infinite += figures["chi_squared_infinite"]
                assert (figures["chi_squared"] is None) == figures["chi_squared_infinite"]
    # A 0% or 100% step has one weighted arm: no SRM check, so never infinite here; the
    # figures' encoding is the readout's (`SrmCheck`) should that change.
    assert infinite == 0


def test_the_console_says_infinite_where_json_says_null() -> None:
    """The segments page's sample-ratio line (its own paragraph of `segments.html`) formats
    `chi_squared` with "%.2f": null would fail the page; it says infinite."""
    from uiserver.http.views import environment

    source = environment.loader.get_source(environment, "segments.html")[0]  # type: ignore[union-attr]
    line = source[source.index("{% if r.srm %}") : source.index("{% elif r.split_changed %}")]
    paragraph = environment.from_string(line + "{% endif %}")
    infinite = paragraph.render(r={"srm": srm([500, 480, 7], [1, 1, 0])})
    assert "chi-squared infinite" in infinite and "mismatch" in infinite
    finite = paragraph.render(r={"srm": srm([500, 480], [1, 1])})
    assert "chi-squared 0.41" in finite and "exposures follow the weights" in finite

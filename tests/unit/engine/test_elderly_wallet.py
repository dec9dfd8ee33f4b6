"""Reflow for the wallet strip (issue 24, 长辈版 2.0): one row of entries (balance, points,
coupons, gift cards: the catalogue's 4 columns, `column_prop: columns`) drops to at most
policy.elderly_max_columns in an elderly layout, so no entry's text is truncated at care-mode
sizes (WCAG 1.4.10). Before, the strip declared no columns and was served as 4 in a row."""

from __future__ import annotations

import msgspec

from tests.helpers.engine import compiled_page, policy
from uiserver.catalog import template_version
from uiserver.engine import PERSONAS, Reason, check_layout
from uiserver.engine.assess import measure
from uiserver.schema import Context, LayoutComponent


def _wallet(persona: str, context: Context, **props: object) -> LayoutComponent:
    engine, _, template = compiled_page("me")
    components = [
        msgspec.structs.replace(s, props={**s.props, **props}) if s.id == "wallet" else s
        for s in template.components
    ]
    changed = msgspec.structs.replace(template, components=components)
    compiled = engine.compile(changed, template_version(changed))
    layout = engine.layout(compiled, PERSONAS[persona], context)
    assert check_layout(layout, compiled, policy()) == []
    comps = {c.id: c for c in compiled.views[layout.variant, layout.mode].comps}
    reflow = next(i for i in measure(layout, comps, policy()) if i.id == "reflow")
    assert reflow.result != "fail", reflow
    return next(c for c in layout.components if c.id == "wallet")


def test_the_wallet_strip_declares_its_row_to_the_catalogue() -> None:
    engine, _, _ = compiled_page("me")
    wallet = engine.catalog.types["wallet_strip"]
    assert (wallet.grid, wallet.columns, wallet.column_prop) == (True, 4, "columns")


def test_an_elderly_wallet_strip_draws_at_most_the_policy_s_columns() -> None:
    most = policy().elderly_max_columns
    for context in (Context(), Context(device="tablet"), Context(font_px=30.0)):
        wallet = _wallet("elderly", context)
        assert wallet.props["columns"] == most == 3, (context, wallet.props)
        assert Reason.ELDERLY_REFLOW in wallet.reasons
    wallet = _wallet("elderly", Context(), columns=2)  # narrower already: kept
    assert wallet.props["columns"] == 2 and Reason.ELDERLY_REFLOW not in wallet.reasons


def test_a_standard_phone_layout_is_left_alone() -> None:
    wallet = _wallet("default", Context())
    assert "columns" not in wallet.props and Reason.ELDERLY_REFLOW not in wallet.reasons

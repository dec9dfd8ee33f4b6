"""Unit tests of the engine's stages on hand-made cases (the mini fixture page)."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest

from tests.helpers.engine import (
    compiled_page,
    mini_compiled,
    mini_engine,
    mini_template,
    policy,
    shipped_templates,
)
from uiserver.engine import (
    PERSONAS,
    CompileError,
    Engine,
    Plan,
    Reason,
    change_count,
    check_layout,
    encode_layout,
    lis_length,
    plan_fingerprint,
)
from uiserver.engine.cap import Proposal, budget, select
from uiserver.engine.contrast import contrast_ratio
from uiserver.engine.stability import beats, settle
from uiserver.engine.theme import BUILT_IN, PAIRS, floor, palette_problems, resolve_palette
from uiserver.engine.variant import choose_variant, initial
from uiserver.schema import Context, Layout, Palette, Profile, Settings, ThemeSpec

# --------------------------------------------------------------------------- change ratio


@pytest.mark.parametrize(
    ("base", "result", "placements", "expected"),
    [
        pytest.param("abcd", "abcd", {}, 0, id="identical"),
        pytest.param("abcd", "dabc", {}, 1, id="one-moved-to-front"),
        pytest.param("abcd", "bacd", {}, 1, id="adjacent-swap"),
        pytest.param("abcd", "dcba", {}, 3, id="reversed"),
        pytest.param("abcd", "abc", {}, 1, id="one-hidden"),
        pytest.param("abcd", "abcde", {}, 1, id="one-shown"),
        pytest.param("abcd", "abce", {}, 2, id="hidden-and-shown"),
        pytest.param("abcd", "abcd", {"d": "bottom_left"}, 1, id="placement-only"),
        pytest.param("abcd", "dabc", {"d": "bottom_left"}, 1, id="moved-and-replaced-once"),
        pytest.param("abcd", "dabc", {"a": "bottom_left"}, 2, id="moved-and-other-replaced"),
        pytest.param("", "", {}, 0, id="empty"),
    ],
)
def test_change_count(base: str, result: str, placements: dict[str, str], expected: int) -> None:
    base_placements = dict.fromkeys(base, "flow")
    result_placements = {**dict.fromkeys(result, "flow"), **placements}
    assert change_count(list(base), base_placements, list(result), result_placements) == expected


def test_lis_length() -> None:
    assert lis_length([]) == 0
    assert lis_length([3, 0, 1, 2]) == 3
    assert lis_length([4, 3, 2, 1]) == 1
    assert lis_length([0, 5, 1, 6, 2, 7]) == 4


def test_budget_is_floor_of_cap_times_n() -> None:
    assert budget(0.4, 40) == 16
    assert budget(0.4 * 0.5, 10) == 2
    assert budget(0.1 * 3, 10) == 3  # 0.30000000000000004 x 10 must not round down to 2
    assert budget(0.0, 40) == 0


def test_select_keeps_most_valuable_that_fit() -> None:
    def p(tier: int, value: float, cost: int, name: int) -> Proposal:
        return Proposal(tier, value, name, "moved", "affinity", (name,), cost)

    kept, dropped = select([p(0, 1.0, 1, 1), p(0, 9.0, 2, 2), p(3, 0.0, 1, 3), p(0, 5.0, 1, 4)], 3)
    assert [k.position for k in kept] == [3, 2]  # handedness tier first, then the best gain
    assert sorted(d.position for d in dropped) == [1, 4]


# --------------------------------------------------------------------------- hysteresis


def test_beats_uses_relative_margin_with_absolute_floor() -> None:
    assert not beats(1.2, 1.0, 0.25)
    assert beats(1.3, 1.0, 0.25)
    assert not beats(12.0, 10.0, 0.25)  # 20 % is inside the relative margin
    assert beats(12.6, 10.0, 0.25)
    assert not beats(0.2, 0.0, 0.25)  # tiny scores never reorder
    assert beats(0.3, 0.0, 0.25)


def test_settle_without_last_order_needs_the_margin() -> None:
    order, moved = settle([0, 1], [1.0, 1.2], None, 0.25)
    assert order == [0, 1] and not moved
    order, moved = settle([0, 1], [1.0, 1.3], None, 0.25)
    assert order == [1, 0] and moved[1][1] is True


def test_settle_keeps_last_served_order_of_near_equal_pair() -> None:
    # Served [1, 0] last time; now 0 is slightly ahead (inside the margin): no flip.
    order, moved = settle([0, 1], [1.2, 1.0], [1, 0], 0.25)
    assert order == [1, 0]
    assert moved == {1: (-0.19999999999999996, False)} or moved[1][1] is False
    # Crossing the margin the other way flips it.
    order, _ = settle([0, 1], [1.3, 1.0], [1, 0], 0.25)
    assert order == [0, 1]


def test_no_flip_flop_across_launches() -> None:
    """Affinities wobbling inside the margin never change what the user sees."""
    engine, compiled = mini_engine(), mini_compiled()
    served: list[str] | None = None
    orders = set()
    for launch in range(12):
        wobble = 0.1 if launch % 2 else -0.1
        profile = Profile(
            user_id="wobbly",
            affinities={"coupons": 5.0 + wobble, "fruit": 5.0 - wobble, "meat": 9.0},
            evidence=50,
            last_order={"mini": served} if served else {},
        )
        layout = engine.layout(compiled, profile, Context())
        served = [c.id for c in layout.components]
        orders.add(tuple(served))
    assert len(orders) == 1


def test_stability_does_not_override_a_clear_margin() -> None:
    engine, compiled = mini_engine(), mini_compiled()
    last = {"mini": ["header", "search", "coupons", "banner", "orders", "fruit_title"]}
    profile = Profile(
        user_id="x", affinities={"promotions": 20.0, "coupons": 1.0}, evidence=50, last_order=last
    )
    ids = [c.id for c in engine.layout(compiled, profile, Context()).components]
    assert ids.index("banner") < ids.index("coupons")


# --------------------------------------------------------------------------- evidence, cap


def _ids(layout: Layout) -> list[str]:
    return [c.id for c in layout.components]


def test_no_affinity_move_below_min_evidence() -> None:
    engine, compiled = mini_engine(), mini_compiled()
    need = policy().min_evidence
    base = _ids(engine.layout(compiled, Profile(user_id="u1"), Context()))
    strong = {"meat": 50.0}
    below = Profile(user_id="u1", affinities=strong, evidence=need - 1)
    at = Profile(user_id="u1", affinities=strong, evidence=need)
    assert _ids(engine.layout(compiled, below, Context())) == base
    moved = engine.layout(compiled, at, Context())
    assert _ids(moved) != base
    assert {"meat_title", "meat_grid"} <= {c.component for c in moved.personalization.changes}


def test_a_section_moves_with_its_title_and_stays_in_the_personalized_zone() -> None:
    engine, compiled = mini_engine(), mini_compiled()
    layout = engine.layout(
        compiled, Profile(user_id="u1", affinities={"meat": 50.0}, evidence=50), Context()
    )
    ids = _ids(layout)
    assert ids.index("meat_grid") == ids.index("meat_title") + 1
    assert ids[:2] == ["header", "search"]  # pinned stay; the section goes just below them
    assert ids[2] == "meat_title"
    assert ids[-1] == "tab_bar"
    reasons = {c.id: c.reasons for c in layout.components}
    assert Reason.AFFINITY in reasons["meat_title"]


def test_cap_drops_least_valuable_and_says_so() -> None:
    engine, compiled = mini_engine(), mini_compiled()
    # 13 base components; strength 0.5 -> cap 0.2 -> 2 changes: only the meat section (gain
    # 50) fits, the ad (gain 10, also below the fruit section in both variants) is dropped.
    profile = Profile(
        user_id="u1",
        settings=Settings(personalization=0.5),
        affinities={"meat": 50.0, "ads": 10.0},
        evidence=50,
    )
    layout = engine.layout(compiled, profile, Context())
    info = layout.personalization
    assert info.capped is True
    assert info.changed_ratio <= info.cap
    changed = {c.component for c in info.changes}
    assert changed == {"meat_title", "meat_grid"}
    ad = next(c for c in layout.components if c.id == "ad")
    assert Reason.CAP_DROPPED in ad.reasons


def test_strength_zero_is_the_base_exactly() -> None:
    engine, compiled = mini_engine(), mini_compiled()
    off = Settings(personalization=0.0, handedness="left")
    busy = Profile(
        user_id="u1",
        settings=off,
        affinities={"meat": 50.0},
        evidence=50,
        segments=frozenset({"churn_risk", "no_coupons"}),
    )
    blank = Profile(user_id="u1", settings=Settings(personalization=0.0))
    a = engine.layout(compiled, busy, Context())
    b = engine.layout(compiled, blank, Context())
    assert encode_layout(a) == encode_layout(b)
    assert a.personalization.strength == 0 and a.personalization.changed_ratio == 0
    assert a.personalization.changes == []


# --------------------------------------------------------------------------- handedness, segments


def _placements(layout: Layout) -> dict[str, str]:
    return {c.id: c.placement for c in layout.components}


@pytest.mark.parametrize(
    ("hand", "buy", "cart"),
    [
        pytest.param("left", "bottom_left", "bottom_right", id="left-mirrors-the-row"),
        pytest.param("right", "bottom_right", "bottom_left", id="right-already-there"),
        pytest.param("unknown", "bottom_right", "bottom_left", id="unknown-changes-nothing"),
    ],
)
def test_handedness_moves_main_action_to_thumb_side(hand: str, buy: str, cart: str) -> None:
    engine, compiled = mini_engine(), mini_compiled()
    profile = Profile(user_id="u1", settings=Settings(handedness=hand))  # type: ignore[arg-type]
    layout = engine.layout(compiled, profile, Context())
    placed = _placements(layout)
    assert (placed["buy"], placed["go_cart"]) == (buy, cart)
    if hand == "left":
        assert {c.reason for c in layout.personalization.changes} == {"handedness"}


def test_handedness_never_moves_a_pinned_action() -> None:
    template = mini_template()
    components = [
        msgspec.structs.replace(c, pinned=True) if c.id == "buy" else c for c in template.components
    ]
    compiled = mini_engine().compile(msgspec.structs.replace(template, components=components), "p")
    layout = mini_engine().layout(
        compiled, Profile(user_id="u1", settings=Settings(handedness="left")), Context()
    )
    assert _placements(layout)["buy"] == "bottom_right"


def test_segment_rules_show_and_hide_with_reason() -> None:
    engine, compiled = mini_engine(), mini_compiled()
    profile = Profile(user_id="u1", segments=frozenset({"churn_risk", "no_coupons"}))
    layout = engine.layout(compiled, profile, Context())
    ids = _ids(layout)
    assert "welcome" in ids and "coupons" not in ids
    changes = {(c.component, c.change, c.reason) for c in layout.personalization.changes}
    assert ("welcome", "shown", "segment:churn_risk") in changes
    assert ("coupons", "hidden", "segment:no_coupons") in changes
    welcome = next(c for c in layout.components if c.id == "welcome")
    assert "segment:churn_risk" in welcome.reasons


# --------------------------------------------------------------------------- explore, variants


def test_explore_share_and_determinism() -> None:
    engine, compiled = mini_engine(), mini_compiled()
    hits = 0
    runs = 2000
    for day in range(runs):
        profile = Profile(user_id="explorer", affinities={"meat": 9.0}, evidence=50)
        plan = engine.plan(compiled, profile, Context(), day=day)
        again = engine.plan(compiled, profile, Context(), day=day)
        assert plan == again
        if any(c.reason == Reason.EXPLORE for c in plan.changes):
            hits += 1
    share = policy().explore_share
    assert abs(hits / runs - share) < 0.02
    assert hits > 0


def test_anonymous_users_never_explore_and_get_the_base_variant() -> None:
    engine, compiled = mini_engine(), mini_compiled()
    for day in range(300):
        plan = engine.plan(compiled, Profile(), Context(), day=day)
        assert plan.variant is None
        assert plan.changes == ()


def test_variant_bucketing_is_sticky() -> None:
    allocation = initial("exp", (("a", 1), ("b", 3)))
    first = [choose_variant(f"user-{i}", allocation) for i in range(500)]
    again = [choose_variant(f"user-{i}", initial("exp", (("b", 3), ("a", 1)))) for i in range(500)]
    assert first == again
    assert choose_variant("", allocation) is None
    assert choose_variant("u", None) is None


def test_variant_order_and_props_apply() -> None:
    engine, compiled = mini_engine(), mini_compiled()
    user = next(
        f"u{i}"
        for i in range(100)
        if engine.plan(compiled, Profile(user_id=f"u{i}"), Context()).variant == "b"
    )
    layout = engine.layout(compiled, Profile(user_id=user), Context())
    assert _ids(layout)[:4] == ["header", "search", "coupons", "banner"]


# --------------------------------------------------------------------------- theme, context


def test_built_in_palettes_meet_enhanced_floors() -> None:
    for (_dark, _enhanced), palette in BUILT_IN.items():
        assert palette_problems(palette, policy(), enhanced=True) == []


@pytest.mark.parametrize("enhanced", [False, True], ids=["normal", "enhanced"])
def test_dark_palette_meets_floors(enhanced: bool) -> None:
    engine, compiled = mini_engine(), mini_compiled()
    settings = Settings(high_contrast=enhanced)
    layout = engine.layout(compiled, Profile(settings=settings), Context(dark=True))
    palette = layout.theme.palette
    assert layout.theme.dark is True
    assert contrast_ratio(palette.background, "#000000") < 2.0  # it is a dark background
    for fg, bg, kind in PAIRS:
        need = floor(policy(), kind, enhanced)
        assert contrast_ratio(getattr(palette, fg), getattr(palette, bg)) >= need


def test_failing_palette_is_repaired_with_a_reason() -> None:
    grey = Palette(text="#999999", background="#FFFFFF", primary="#0B57D0", on_primary="#FFFFFF")
    palette, reasons = resolve_palette(
        ThemeSpec(palette=grey), policy(), dark=False, enhanced=False
    )
    assert palette_problems(palette, policy(), enhanced=False) == []
    assert Reason.A11Y_CONTRAST_FIX in reasons
    assert palette.text != "#999999" and palette.background == "#FFFFFF"


def test_unrepairable_palette_falls_back_to_built_in() -> None:
    mid = Palette(text="#777777", background="#787878", primary="#777777", on_primary="#787878")
    palette, reasons = resolve_palette(ThemeSpec(palette=mid), policy(), dark=False, enhanced=True)
    assert palette_problems(palette, policy(), enhanced=True) == []
    assert Reason.A11Y_CONTRAST_FALLBACK in reasons or Reason.A11Y_CONTRAST_FIX in reasons


def test_low_power_lowers_image_quality_and_stops_motion() -> None:
    engine, compiled = mini_engine(), mini_compiled()
    layout = engine.layout(compiled, Profile(), Context(low_power=True))
    assert layout.theme.motion == "none"
    catalog = {c.id: c for c in compiled.template.components}
    images = [
        c for c in layout.components if c.type in {"banner_carousel", "product_grid", "ad_slot"}
    ]
    assert images and all(c.props.get("image_quality") == "low" for c in images)
    assert all(Reason.CONTEXT_LOW_POWER in c.reasons for c in images)
    banner = next(c for c in layout.components if c.id == "banner")
    assert banner.props["autoplay"] is False
    assert catalog["banner"].props == {}  # the template is not mutated


@pytest.mark.parametrize(("device", "columns"), [("tablet", 4), ("desktop", 6)])
def test_wide_devices_widen_grids_without_reordering(device: str, columns: int) -> None:
    engine, compiled = mini_engine(), mini_compiled()
    profile = Profile(user_id="u1", affinities={"meat": 50.0}, evidence=50)
    phone = engine.layout(compiled, profile, Context())
    wide = engine.layout(compiled, profile, Context(device=device))  # type: ignore[arg-type]
    assert _ids(phone) == _ids(wide)
    grids = [c for c in wide.components if c.type == "product_grid"]
    assert grids and all(c.props["columns"] == columns for c in grids)
    assert all("columns" not in c.props for c in phone.components if c.type == "product_grid")


def test_font_scale_and_client_font_scale_fonts_never_below_template() -> None:
    engine, compiled = mini_engine(), mini_compiled()
    base = {c.id: c.font_px for c in engine.layout(compiled, Profile(), Context()).components}
    small = engine.layout(
        compiled, Profile(settings=Settings(elderly_mode="off")), Context(font_px=12)
    )
    assert {c.id: c.font_px for c in small.components} == base
    big = engine.layout(compiled, Profile(settings=Settings(font_scale=2.0)), Context())
    for c in big.components:
        assert c.font_px >= 2 * base[c.id] - 0.05


def test_client_care_mode_font_makes_auto_elderly() -> None:
    engine, compiled = mini_engine(), mini_compiled()
    assert engine.plan(compiled, Profile(), Context(font_px=24)).mode == "elderly"
    off = Profile(settings=Settings(elderly_mode="off", age_band="60_plus"))
    assert engine.plan(compiled, off, Context(font_px=24)).mode == "standard"
    on = Profile(settings=Settings(elderly_mode="on"))
    assert engine.plan(compiled, on, Context()).mode == "elderly"


def test_elderly_mode_rules_on_the_mini_page() -> None:
    engine, compiled = mini_engine(), mini_compiled()
    layout = engine.layout(compiled, PERSONAS["elderly"], Context())
    ids = _ids(layout)
    assert "ad" not in ids and "banner" not in ids
    assert "voice_nav" in ids
    assert ids.index("orders") < ids.index("coupons")  # essential first
    voice = next(c for c in layout.components if c.id == "voice_nav")
    assert Reason.ELDERLY_VOICE_NAV in voice.reasons and voice.min_target_px >= 60
    assert max(c.font_px for c in layout.components) >= 30
    assert layout.theme.motion == "reduced" and layout.theme.high_contrast


def test_screen_reader_stops_carousels() -> None:
    engine, compiled = mini_engine(), mini_compiled()
    layout = engine.layout(compiled, PERSONAS["screen_reader"], Context())
    banner = next(c for c in layout.components if c.id == "banner")
    assert banner.props["autoplay"] is False
    assert layout.theme.motion == "reduced"


# --------------------------------------------------------------------------- final check


def test_check_layout_catches_broken_layouts() -> None:
    engine, compiled = mini_engine(), mini_compiled()
    layout = engine.layout(compiled, PERSONAS["elderly"], Context())
    assert check_layout(layout, compiled, policy()) == []

    def broken(mutate: Callable[[Layout], object]) -> list[str]:
        copy = msgspec.json.decode(encode_layout(layout), type=Layout)
        mutate(copy)
        return check_layout(copy, compiled, policy())

    assert broken(lambda lay: setattr(lay.components[2], "font_px", 12.0))
    assert broken(lambda lay: setattr(lay.components[2], "label", ""))
    assert broken(lambda lay: setattr(lay.components[2], "min_target_px", 20.0))
    assert broken(lambda lay: lay.components.reverse())  # pinned moved, cap exceeded
    assert broken(lambda lay: lay.components.pop(0))  # pinned hidden
    assert broken(lambda lay: setattr(lay.personalization, "changed_ratio", 0.5))


def test_check_layout_catches_low_contrast() -> None:
    engine, compiled = mini_engine(), mini_compiled()
    layout = engine.layout(compiled, Profile(), Context())
    bad = msgspec.structs.replace(
        layout,
        theme=msgspec.structs.replace(
            layout.theme, palette=msgspec.structs.replace(layout.theme.palette, text="#AAAAAA")
        ),
    )
    assert any("contrast" in p for p in check_layout(bad, compiled, policy()))


def test_render_falls_back_to_base_when_a_plan_breaks_the_cap() -> None:
    engine, compiled = mini_engine(), mini_compiled()
    plan = engine.plan(compiled, Profile(user_id="u1"), Context())
    reversed_order = (*plan.order[:2], *reversed(plan.order[2:-3]), *plan.order[-3:])
    bad = msgspec.structs.replace(plan, order=reversed_order)
    layout = engine.render(compiled, bad)
    assert Reason.FALLBACK_BASE in layout.reasons
    assert check_layout(layout, compiled, policy()) == []


def test_compile_rejects_unknown_component_type() -> None:
    template = mini_template()
    spec = msgspec.structs.replace(template.components[2], type="hologram")
    broken = msgspec.structs.replace(template, components=[*template.components[:2], spec])
    with pytest.raises(CompileError, match="hologram"):
        mini_engine().compile(broken, "x")


# --------------------------------------------------------------------------- plans and bytes


def test_plan_has_no_user_id_and_equal_plans_share_a_fingerprint() -> None:
    engine, compiled = mini_engine(), mini_compiled()
    a = engine.plan(compiled, Profile(user_id="secret-user-a", evidence=1), Context())
    b = engine.plan(compiled, Profile(user_id="secret-user-b", evidence=2), Context())
    assert b"secret-user" not in msgspec.msgpack.encode(a)
    if a == b:
        assert plan_fingerprint("v", a) == plan_fingerprint("v", b)
    assert plan_fingerprint("v", a) != plan_fingerprint("w", a)
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(a), type=Plan)
    assert encode_layout(engine.render(compiled, decoded)) == encode_layout(
        engine.render(compiled, a)
    )


def test_personas_cover_the_preview_names() -> None:
    assert set(PERSONAS) == {
        "default",
        "elderly",
        "low_vision",
        "screen_reader",
        "off",
        "churn_risk",
    }
    assert PERSONAS["low_vision"].settings.font_scale == 2.0
    assert PERSONAS["off"].settings.personalization == 0.0


def test_every_shipped_page_renders_for_every_persona() -> None:
    assert shipped_templates(), "the shipped layouts/ must exist"
    for page in shipped_templates():
        engine, compiled, _ = compiled_page(page)
        assert isinstance(engine, Engine)
        for profile in PERSONAS.values():
            layout = engine.layout(compiled, profile, Context())
            assert check_layout(layout, compiled, policy()) == []
            assert Reason.FALLBACK_BASE not in layout.reasons

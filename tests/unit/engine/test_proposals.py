"""Personalization proposals, called directly on compiled views: handedness mirrors action rows
to the thumb side, segment and scene rules show or hide modules, affinity moves stay inside
their region and need the hysteresis margin, and exploration is a deterministic draw per
(user, page, day) that happens on `policy.explore_share` of launches."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

import msgspec
import pytest

from tests.helpers.engine import all_pages, compiled_page, mini_engine, mini_template, policy
from uiserver.catalog import template_version
from uiserver.engine.explain import Reason
from uiserver.engine.proposals import (
    TIER_AFFINITY,
    TIER_EXPLORE,
    TIER_HANDEDNESS,
    TIER_SEGMENT,
    affinity_moves,
    arrange,
    explore,
    handedness,
    live_units,
    segments,
    unit_affinities,
    unit_ranks,
)
from uiserver.engine.variant_base import VariantBase
from uiserver.schema import ComponentSpec, Template
from uiserver.types import Mode

MARGIN = policy().hysteresis_margin


def view_of(template: Template, mode: Mode = "standard") -> VariantBase:
    compiled = mini_engine().compile(template, template_version(template))
    return compiled.views[None, mode]


def shipped_view(page: str, mode: Mode = "standard") -> VariantBase:
    _, compiled, _ = compiled_page(page)
    return compiled.views[None, mode]


def index(view: VariantBase) -> dict[str, int]:
    return {c.id: c.idx for c in view.comps}


def named(view: VariantBase, indices: Sequence[int]) -> list[str]:
    return [view.comps[i].id for i in indices]


def mini_with(**changes: Mapping[str, object]) -> Template:
    """The mini page with some components' fields changed (by id)."""
    template = mini_template()
    components = [
        msgspec.structs.replace(c, **changes[c.id]) if c.id in changes else c
        for c in template.components
    ]
    return msgspec.structs.replace(template, components=components)


def mini_plus(*extra: ComponentSpec) -> Template:
    """The mini page with components added after the meat section (same region)."""
    template = mini_template()
    at = [c.id for c in template.components].index("meat_grid") + 1
    components = [*template.components[:at], *extra, *template.components[at:]]
    return msgspec.structs.replace(template, components=components)


# ------------------------------------------------------------------ handedness


@pytest.mark.parametrize(
    ("template", "thumb", "mirrored"),
    [
        pytest.param(
            mini_template(),
            "left",
            {"buy": "bottom_left", "go_cart": "bottom_right"},
            id="left-thumb-mirrors-the-whole-row",
        ),
        pytest.param(mini_template(), "right", None, id="main-action-already-on-the-thumb-side"),
        pytest.param(
            mini_with(buy={"placement": "bottom_left"}, go_cart={"placement": "bottom_right"}),
            "left",
            None,
            id="the-main-action-decides-not-the-others",
        ),
        pytest.param(
            mini_with(go_cart={"placement": "bottom_center"}),
            "left",
            {"buy": "bottom_left"},
            id="a-centred-button-stays",
        ),
        pytest.param(
            mini_with(go_cart={"pinned": True}),
            "left",
            None,
            id="a-row-holding-a-pinned-button-stays",
        ),
    ],
)
def test_handedness_mirrors_action_rows_to_the_thumb_side(
    template: Template, thumb: str, mirrored: dict[str, str] | None
) -> None:
    view = view_of(template)
    proposals = handedness(view, thumb)
    if mirrored is None:
        assert proposals == []
        return
    (proposal,) = proposals
    at = index(view)
    assert dict((view.comps[i].id, p) for i, p in proposal.placements) == mirrored
    assert sorted(proposal.members) == sorted(at[cid] for cid in mirrored)
    assert proposal.position == min(proposal.members)
    assert (proposal.tier, proposal.kind, proposal.reason) == (
        TIER_HANDEDNESS,
        "placement",
        Reason.HANDEDNESS,
    )
    assert proposal.cost == len(mirrored)


@pytest.mark.parametrize(
    ("mode", "thumb", "mirrored"),
    [
        pytest.param(
            "standard",
            "left",
            [{"cart_shortcut": "floating_left"}, {"back_to_top": "bottom_left"}],
            id="standard-each-row-on-its-own",
        ),
        pytest.param(
            "elderly",
            "left",
            [{"back_to_top": "bottom_left"}],
            id="elderly-voice-nav-already-left-keeps-its-row",
        ),
        pytest.param(
            "elderly",
            "right",
            [{"voice_nav": "floating_right", "cart_shortcut": "floating_left"}],
            id="elderly-right-thumb-swaps-the-floating-row",
        ),
    ],
)
def test_handedness_on_the_shipped_home_page(
    mode: Mode, thumb: str, mirrored: list[dict[str, str]]
) -> None:
    view = shipped_view("home", mode)
    proposals = handedness(view, thumb)
    assert [{view.comps[i].id: p for i, p in x.placements} for x in proposals] == mirrored


# ------------------------------------------------------------------ segment and scene rules


@pytest.mark.parametrize(
    ("page", "tags", "expected"),
    [
        pytest.param("mini", set(), [], id="no-segments"),
        pytest.param("mini", {"vip"}, [], id="a-segment-no-rule-names"),
        pytest.param(
            "mini",
            {"churn_risk"},
            [("welcome", "shown", "segment:churn_risk")],
            id="show-for-a-segment",
        ),
        pytest.param(
            "mini",
            {"no_coupons", "churn_risk"},
            [
                ("welcome", "shown", "segment:churn_risk"),
                ("coupons", "hidden", "segment:no_coupons"),
            ],
            id="show-and-hide",
        ),
        pytest.param(
            "home",
            {"returning", "churn_risk"},
            [("welcome_back", "shown", "segment:churn_risk")],
            id="two-matches-one-proposal-named-by-the-first",
        ),
        pytest.param(
            "home",
            {"scene:snow"},
            [("rainy_day", "shown", "scene:snow")],
            id="a-scene-names-itself",
        ),
    ],
)
def test_segment_rules_show_and_hide_modules(
    page: str, tags: set[str], expected: list[tuple[str, str, str]]
) -> None:
    view = shipped_view(page) if page != "mini" else view_of(mini_template())
    proposals = segments(view, frozenset(tags))
    assert [(view.comps[p.members[0]].id, p.kind, p.reason) for p in proposals] == expected
    for p in proposals:
        assert (p.tier, p.cost, p.members, p.position) == (TIER_SEGMENT, 1, p.members, p.members[0])


def test_pinned_components_have_no_segment_rule() -> None:
    view = view_of(mini_with(header={"hide_for_segments": ["vip"]}))
    assert segments(view, frozenset({"vip"})) == []


# ------------------------------------------------------------------ affinity moves


MINI_KEYS = ("promotions", "mini/orders", "coupons", "fruit", "ads")  # the units before meat


def _meat_moves(affinities: dict[str, float]) -> bool:
    view = view_of(mini_template())
    affinity = unit_affinities(view, affinities)
    moves = affinity_moves(view, list(view.base_visible), affinity, None, MARGIN)
    meat = view.unit_of[index(view)["meat_title"]]
    return meat in {p.unit for p in moves}


@pytest.mark.parametrize(
    ("neighbour", "above"),
    [
        pytest.param(4.0, True, id="relative-margin-above"),
        pytest.param(4.0, False, id="relative-margin-below"),
        pytest.param(0.5, True, id="absolute-floor-above"),
        pytest.param(0.5, False, id="absolute-floor-below"),
        pytest.param(0.0, True, id="from-nothing-above"),
        pytest.param(0.0, False, id="from-nothing-below"),
    ],
)
def test_a_unit_passes_its_neighbour_only_past_the_hysteresis_margin(
    neighbour: float, above: bool
) -> None:
    """Every unit before the meat section scores `neighbour` (so none of them moves); meat
    must beat the one before it by the margin: relative to the neighbour's score, with an
    absolute floor of one."""
    threshold = neighbour + MARGIN * max(neighbour, 1.0)
    meat = threshold + (0.01 if above else -0.01)
    assert _meat_moves({**dict.fromkeys(MINI_KEYS, neighbour), "meat": meat}) is above


def test_an_affinity_move_is_one_proposal_for_the_whole_unit() -> None:
    view = view_of(mini_template())
    affinity = unit_affinities(view, {"meat": 9.0})
    (move,) = affinity_moves(view, list(view.base_visible), affinity, None, MARGIN)
    at = index(view)
    assert named(view, move.members) == ["meat_title", "meat_grid"]
    assert (move.tier, move.kind, move.reason, move.value) == (
        TIER_AFFINITY,
        "moved",
        Reason.AFFINITY,
        9.0,
    )
    assert move.cost == 2 and move.unit == view.unit_of[at["meat_title"]]
    order, _ = arrange(view, list(view.base_visible), affinity, None, MARGIN, None)
    assert named(view, order)[:4] == ["header", "search", "meat_title", "meat_grid"]


def test_a_unit_kept_ahead_by_the_last_order_is_a_stability_move() -> None:
    """Near-equal scores (inside the margin) keep the order the user last saw."""
    compiled = mini_engine().compile(mini_template(), template_version(mini_template()))
    view = compiled.views[None, "standard"]
    affinity = unit_affinities(view, {**dict.fromkeys(MINI_KEYS, 4.0), "meat": 4.5})
    last = ["header", "search", "meat_title", "meat_grid", "banner", "orders", "coupons"]
    last += ["fruit_title", "fruit_grid", "ad"]
    rank = unit_ranks(view, compiled.index, last)

    (move,) = affinity_moves(view, list(view.base_visible), affinity, rank, MARGIN)

    assert named(view, move.members) == ["meat_title", "meat_grid"]
    assert move.reason == Reason.STABILITY
    assert affinity_moves(view, list(view.base_visible), affinity, None, MARGIN) == []


def test_unit_ranks_are_first_positions_in_the_last_order() -> None:
    compiled = mini_engine().compile(mini_template(), template_version(mini_template()))
    view = compiled.views[None, "standard"]
    ranks = unit_ranks(view, compiled.index, ["header", "meat_grid", "gone", "meat_title", "ad"])
    at = index(view)
    assert ranks[view.unit_of[at["meat_title"]]] == 1  # its first member seen
    assert ranks[view.unit_of[at["ad"]]] == 4
    assert ranks[view.unit_of[at["banner"]]] is None


def _zones(view: VariantBase, order: Sequence[int]) -> list[object]:
    """The template's zones along `order`, runs collapsed; a fixed component (pinned, placed
    off the flow, or outside a movable zone) is a run of its own. Equal for two orders exactly
    when nothing crossed a zone edge or a fixed component."""
    runs: list[object] = []
    for i in order:
        c = view.comps[i]
        fixed = c.pinned or c.placement != "flow" or not c.movable
        label = ("fixed", i) if fixed else ("zone", c.zone)
        if not runs or runs[-1] != label:
            runs.append(label)
    return runs


@pytest.mark.parametrize("page", [pytest.param(p, id=p) for p in all_pages()])
@pytest.mark.parametrize("mode", ["standard", "elderly"])
def test_affinity_moves_stay_in_their_zone_and_never_move_pinned(page: str, mode: Mode) -> None:
    """For many random affinity profiles: pinned and fixed components keep their places,
    nothing crosses a zone edge or a fixed component, units stay together."""
    view = shipped_view(page, mode) if page != "mini" else view_of(mini_template(), mode)
    keys = sorted(set(view.unit_key))
    visible = list(view.base_visible)
    base = list(view.base_order)
    draw = random.Random(f"{page}-{mode}")
    for _ in range(100):
        affinities = {k: draw.choice([0.0, draw.uniform(0, 3), draw.uniform(0, 60)]) for k in keys}
        affinity = unit_affinities(view, affinities)
        order, _ = arrange(view, visible, affinity, None, MARGIN, None)
        assert sorted(order) == sorted(base)
        assert _zones(view, order) == _zones(view, base)
        for members in view.units:  # a unit's shown members together, in their order
            shown = [order.index(i) for i in members if visible[i]]
            assert shown == list(range(shown[0], shown[0] + len(shown))) if shown else True
        for p in affinity_moves(view, visible, affinity, None, MARGIN):
            assert not any(view.comps[i].pinned for i in p.members)
            assert all(
                view.comps[i].movable and view.comps[i].placement == "flow" for i in p.members
            )


def test_in_elderly_mode_adjacent_zones_still_keep_their_modules() -> None:
    """Elderly mode puts the feed's essential modules first, right before the top zone's
    notices: no fixed component between them, only the zone edge."""
    view = shipped_view("home", "elderly")
    affinity = unit_affinities(view, {"notices": 50.0})
    order, _ = arrange(view, list(view.base_visible), affinity, None, MARGIN, None)
    served = named(view, order)
    assert served.index("notice") == served.index("service") + 1  # still first of its zone
    assert affinity_moves(view, list(view.base_visible), affinity, None, MARGIN) == []


def test_home_sections_move_only_within_the_feed() -> None:
    view = shipped_view("home")
    affinity = unit_affinities(view, {"household": 50.0, "promotions": 50.0})
    order, _ = arrange(view, list(view.base_visible), affinity, None, MARGIN, None)
    served = named(view, order)
    assert served[:3] == ["header", "search", "banner"]  # top of the top zone, under search
    assert served[served.index("categories") + 1 : served.index("categories") + 3] == [
        "household_title",
        "household_grid",
    ]


# ------------------------------------------------------------------ exploration

USERS = [f"user-{i}" for i in range(2_000)]


def _explores(view: VariantBase, user: str, day: int, share: float, page: str = "mini") -> bool:
    return explore(view, user, page, day, share, list(view.base_visible), None) is not None


def test_exploration_is_deterministic_per_user_page_and_day() -> None:
    view = view_of(mini_template())
    visible = list(view.base_visible)
    share = 0.5
    for user in USERS[:200]:
        first = explore(view, user, "mini", 7, share, visible, None)
        assert explore(view, user, "mini", 7, share, visible, None) == first
    by_day = {day: {u for u in USERS if _explores(view, u, day, share)} for day in (7, 8)}
    assert by_day[7] != by_day[8]  # a new day draws again
    other_page = {u for u in USERS if _explores(view, u, 7, share, page="other")}
    assert other_page != by_day[7]


@pytest.mark.parametrize(
    "share",
    [
        pytest.param(policy().explore_share, id="policy-share"),
        pytest.param(0.25, id="quarter"),
    ],
)
def test_exploration_happens_on_about_the_explore_share_of_launches(share: float) -> None:
    view = view_of(mini_template())
    launches = [(user, day) for day in range(10) for user in USERS]
    hits = sum(_explores(view, user, 19_000 + day, share) for user, day in launches)
    n = len(launches)
    sigma = math.sqrt(share * (1 - share) / n)  # binomial standard deviation of the share
    assert abs(hits / n - share) < 4 * sigma


@pytest.mark.parametrize(
    ("user", "share"),
    [
        pytest.param("", 1.0, id="anonymous"),
        pytest.param("user-1", 0.0, id="share-zero"),
    ],
)
def test_no_exploration_for_anonymous_callers_or_a_zero_share(user: str, share: float) -> None:
    view = view_of(mini_template())
    assert not any(_explores(view, user, day, share) for day in range(200))


def test_exploration_surfaces_a_module_the_user_does_not_prefer() -> None:
    """Never the first unit of a region (nothing to surface), never a non-interactive one,
    never the user's favourite; a hidden optional module may be shown."""
    note = ComponentSpec(id="note", type="section_title", label="Note", category="notes")
    extra = ComponentSpec(
        id="extra", type="coupon_strip", label="Extra", category="extras", visible=False
    )
    view = view_of(mini_plus(note, extra))
    at = index(view)
    visible = list(view.base_visible)
    affinity = unit_affinities(view, {"meat": 9.0, "coupons": 2.0})
    firsts = {
        live_units(view, seg, visible)[0] for seg in view.segments if not isinstance(seg, int)
    }
    surfaced: set[str] = set()
    for user in USERS:
        p = explore(view, user, "mini", 1, 1.0, visible, affinity)
        assert p is not None and (p.tier, p.reason) == (TIER_EXPLORE, Reason.EXPLORE)
        if p.kind == "shown":
            assert p.members == (at["extra"],) and p.cost == 1
        else:
            assert p.kind == "moved" and p.unit not in firsts
            assert view.unit_interactive[p.unit]
            assert affinity[p.unit] < max(affinity)
        surfaced.update(named(view, p.members))
    assert "extra" in surfaced and "ad" in surfaced
    assert not surfaced & {"note", "meat_title", "meat_grid", "banner", "welcome"}

"""Invariants of every served layout, over random users, settings and launches (hypothesis).

Runs over every shipped page (layouts/ with components/) and the mini fixture page. The rules
are recomputed here from the template, the catalogue and DESIGN sections 4-5, not read back
from the engine: the change ratio with its own LCS, contrast with the WCAG formula.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.engine import all_pages, compiled_page, policy
from uiserver.catalog import Catalog
from uiserver.engine import (
    CompiledTemplate,
    Engine,
    Reason,
    check_layout,
    encode_layout,
    plan_fingerprint,
)
from uiserver.engine.affinity import HALF_LIFE_S
from uiserver.engine.allocation import allocate
from uiserver.engine.components import affinity_key
from uiserver.engine.contrast import contrast_ratio
from uiserver.engine.hashing import BUCKETS, bucket
from uiserver.engine.plan import RATIO_DIGITS, rule_tags
from uiserver.policy import Policy
from uiserver.schema import (
    Activity,
    ComponentSpec,
    ComponentType,
    Context,
    Layout,
    Profile,
    Settings,
)
from uiserver.types import NAVIGATION_ROLES

PAGES = all_pages()
EPS = 1e-9
SEGMENTS = ["churn_risk", "no_coupons", "vip", "new_user", "returning", "rfm_high", "scene:rain"]

# DESIGN section 4, written out again: (foreground, background, kind).
PAIRS = (
    ("text", "background", "text"),
    ("muted", "background", "text"),
    ("text", "surface", "text"),
    ("muted", "surface", "text"),
    ("on_primary", "primary", "text"),
    ("primary", "background", "ui"),
    ("primary", "surface", "ui"),
)

PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Page:
    name: str
    engine: Engine
    compiled: CompiledTemplate
    specs: dict[str, ComponentSpec]
    types: dict[str, ComponentType]
    keys: list[str]


def _page(name: str, engine_policy: Policy | None = None) -> Page:
    engine, compiled, template = compiled_page(name)
    if engine_policy is not None:
        engine = Engine(engine.catalog, engine_policy)
        compiled = engine.compile(template, compiled.version)
    catalog: Catalog = engine.catalog
    specs = {c.id: c for c in template.components}
    types = {c.id: catalog.types[c.type] for c in template.components}
    keys = sorted({affinity_key(template.page, c) for c in template.components})
    return Page(name, engine, compiled, specs, types, keys)


# A policy that explores on half of all launches and trusts any evidence: stresses the cap.
EXPLORER = msgspec.structs.replace(policy(), explore_share=0.5, min_evidence=0)


def _pages(name: str) -> list[Page]:
    return [_page(name), _page(name, EXPLORER)]


PAGE_OBJECTS = {name: _pages(name) for name in PAGES}

# --------------------------------------------------------------------------- strategies

settings_st = st.builds(
    Settings,
    elderly_mode=st.sampled_from(["auto", "on", "off"]),
    font_scale=st.one_of(st.just(1.0), st.floats(1.0, 2.0)),
    high_contrast=st.booleans(),
    reduce_motion=st.booleans(),
    screen_reader=st.booleans(),
    handedness=st.sampled_from(["left", "right", "unknown"]),
    personalization=st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0)),
    age_band=st.sampled_from(["under_18", "18_39", "40_59", "60_plus", "unknown"]),
)

context_st = st.builds(
    Context,
    device=st.sampled_from(["phone", "tablet", "desktop"]),
    width=st.one_of(st.none(), st.integers(0, 2000)),
    dark=st.booleans(),
    low_power=st.booleans(),
    font_px=st.one_of(st.none(), st.floats(8, 64)),
    locale=st.sampled_from(["zh-CN", "en-US"]),
    daypart=st.sampled_from([None, "morning", "noon", "afternoon", "evening", "night"]),
    weather=st.sampled_from([None, "clear", "rain", "snow", "hot", "cold"]),
)

# Activity counters around DAY0: computed segments (new_user, lapsing, churn_risk, returning,
# active, rfm tiers) join the imported ones in every plan.
DAY0 = 20_000
activity_st = st.one_of(
    st.none(),
    st.just(Activity()),
    st.builds(
        Activity,
        first=st.integers(DAY0 - 60, DAY0),
        last=st.integers(DAY0 - 30, DAY0),
        prev=st.one_of(st.none(), st.integers(DAY0 - 40, DAY0 - 1)),
        days=st.dictionaries(st.integers(DAY0 - 27, DAY0), st.integers(0, 5), max_size=10),
        lapses=st.dictionaries(st.integers(DAY0 - 27, DAY0), st.integers(2, 20), max_size=4),
        last_convert=st.one_of(st.none(), st.integers(DAY0 - 60, DAY0)),
        converts=st.integers(0, 12),
        value=st.floats(0.0, 2000.0),
    ),
)

user_id_st = st.one_of(st.just(""), st.text(alphabet="abcdef0123456789-", min_size=1, max_size=10))


@st.composite
def profile_st(draw: st.DrawFn, page: Page) -> Profile:
    ids = list(page.specs)
    last: dict[str, list[str]] = {}
    if draw(st.booleans()):
        last[page.name] = draw(st.permutations(ids))[: draw(st.integers(0, len(ids)))]
    return Profile(
        user_id=draw(user_id_st),
        settings=draw(settings_st),
        affinities=draw(
            st.dictionaries(
                st.sampled_from([*page.keys, "not_on_this_page"]),
                st.one_of(st.floats(0.0, 2.0), st.floats(0.0, 100.0)),
                max_size=10,
            )
        ),
        evidence=draw(st.integers(0, 40)),
        segments=draw(st.frozensets(st.sampled_from(SEGMENTS))),
        last_order=last,
        activity=draw(activity_st),
    )


@dataclass(frozen=True)
class Case:
    page: Page
    profile: Profile
    context: Context
    day: int


@st.composite
def case_st(draw: st.DrawFn, name: str) -> Case:
    page = draw(st.sampled_from(PAGE_OBJECTS[name]))
    day = draw(st.one_of(st.integers(0, 5000), st.integers(DAY0 - 2, DAY0 + 30)))
    return Case(page, draw(profile_st(page)), draw(context_st), day)


def _layout(case: Case, profile: Profile | None = None) -> Layout:
    p = case.page
    layout = p.engine.layout(p.compiled, profile or case.profile, case.context, day=case.day)
    # The pipeline itself must be right: render's safety net (fall back to the base when the
    # final check fails) must never have been needed, or it would hide a broken stage.
    assert Reason.FALLBACK_BASE not in layout.reasons
    return layout


def _base(case: Case) -> Layout:
    """The base layout: same user, context and settings, personalization off."""
    off = msgspec.structs.replace(case.profile.settings, personalization=0.0)
    return _layout(case, msgspec.structs.replace(case.profile, settings=off))


# --------------------------------------------------------------------------- recomputed rules


def lcs(a: list[str], b: list[str]) -> int:
    """Classic dynamic-programming LCS length (independent of the engine's LIS)."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def changed_elements(base: Layout, result: Layout) -> int:
    """DESIGN section 5, literally: moved + hidden + shown + re-placed not already moved."""
    b = [c.id for c in base.components]
    r = [c.id for c in result.components]
    common_set = set(b) & set(r)
    bc = [x for x in b if x in common_set]
    rc = [x for x in r if x in common_set]
    keep = lcs(bc, rc)
    moved = len(common_set) - keep
    hidden = len(b) - len(common_set)
    shown = len(r) - len(common_set)
    bp = {c.id: c.placement for c in base.components}
    replaced = [c.id for c in result.components if c.id in common_set and c.placement != bp[c.id]]
    for cid in replaced:
        # A re-placed element must be in every LCS (removing it shortens the LCS): then it is
        # unambiguously "not already counted as moved".
        without = [x for x in bc if x != cid], [x for x in rc if x != cid]
        assert lcs(*without) == keep - 1, f"{cid} both moved and re-placed"
    return moved + hidden + shown + len(replaced)


def _enhanced(layout: Layout) -> bool:
    return layout.theme.high_contrast or layout.mode == "elderly"


def _floor(kind: str, enhanced: bool, pol: Policy) -> float:
    if kind == "ui":
        return pol.ui_contrast
    return pol.enhanced_text_contrast if enhanced else pol.text_contrast


# --------------------------------------------------------------------------- properties


@pytest.mark.parametrize("name", PAGES)
@PROPERTY
@given(data=st.data())
def test_change_ratio_never_exceeds_cap(name: str, data: st.DataObject) -> None:
    case = data.draw(case_st(name))
    result, base = _layout(case), _base(case)
    info = result.personalization
    n = len(base.components)
    changed = changed_elements(base, result)
    strength = case.profile.settings.personalization
    # Ratios on the wire: rounded to RATIO_DIGITS decimals, the cap from the exact strength.
    assert info.strength == round(strength, RATIO_DIGITS)
    assert info.cap == round(case.page.engine.policy.max_change * strength, RATIO_DIGITS)
    assert changed <= case.page.engine.policy.max_change * strength * n + EPS
    assert info.changed_ratio == (round(changed / n, RATIO_DIGITS) if n else 0.0)
    assert info.changed_ratio <= info.cap
    for ratio in (info.strength, info.cap, info.changed_ratio):
        assert len(repr(ratio).partition(".")[2]) <= RATIO_DIGITS
    # A proposal the cap dropped says so on its component; then the layout must say it capped.
    dropped = [c.id for c in result.components if Reason.CAP_DROPPED in c.reasons]
    assert info.capped or not dropped, f"{dropped} carry {Reason.CAP_DROPPED} but not capped"
    if strength == 0.0:
        assert info.changes == [] and info.changed_ratio == 0.0
    if changed == 0:
        assert info.changes == []
    for change in info.changes:
        assert change.reason
    for c in result.components:
        assert all(isinstance(r, str) and r for r in c.reasons)


@pytest.mark.parametrize("name", PAGES)
@PROPERTY
@given(data=st.data())
def test_pinned_components_keep_their_place(name: str, data: st.DataObject) -> None:
    """Pinned: present, same placement, and the same index among the components common to the
    base and the result (nothing crosses a pinned component; shown or hidden modules may shift
    absolute indices)."""
    case = data.draw(case_st(name))
    result, base = _layout(case), _base(case)
    r = [c.id for c in result.components]
    b = [c.id for c in base.components]
    common = set(r) & set(b)
    rc = [x for x in r if x in common]
    bc = [x for x in b if x in common]
    rp = {c.id: c.placement for c in result.components}
    for c in base.components:
        if not c.pinned:
            continue
        assert c.id in r, f"pinned {c.id} hidden"
        assert rc.index(c.id) == bc.index(c.id), f"pinned {c.id} moved"
        assert rp[c.id] == c.placement
    for c in result.components:
        assert c.pinned == case.page.specs[c.id].pinned


@pytest.mark.parametrize("name", PAGES)
@PROPERTY
@given(data=st.data())
def test_strength_zero_is_the_base_exactly(name: str, data: st.DataObject) -> None:
    case = data.draw(case_st(name))
    off = msgspec.structs.replace(case.profile.settings, personalization=0.0)
    busy = msgspec.structs.replace(case.profile, settings=off)
    blank = Profile(
        user_id=case.profile.user_id, settings=msgspec.structs.replace(off, handedness="unknown")
    )
    a, b = _layout(case, busy), _layout(case, blank)
    assert encode_layout(a) == encode_layout(b)
    info = a.personalization
    assert (info.strength, info.changed_ratio, info.capped, info.changes) == (0.0, 0.0, False, [])
    if a.mode == "standard":
        # Independent of the engine: the variant's order, template visibility, template placements.
        template = case.page.compiled.template
        order = [c.id for c in template.components]
        variant = next((v for v in template.variants if v.name == a.variant), None)
        if variant is not None and variant.order:
            listed = [x for x in dict.fromkeys(variant.order) if x in case.page.specs]
            order = listed + [x for x in order if x not in listed]
        expected = [x for x in order if case.page.specs[x].visible]
        assert [c.id for c in a.components] == expected
        assert all(c.placement == case.page.specs[c.id].placement for c in a.components)


@pytest.mark.parametrize("name", PAGES)
@PROPERTY
@given(data=st.data())
def test_elderly_layouts_meet_every_elderly_number(name: str, data: st.DataObject) -> None:
    case = data.draw(case_st(name))
    on = msgspec.structs.replace(case.profile.settings, elderly_mode="on")
    layout = _layout(case, msgspec.structs.replace(case.profile, settings=on))
    pol = case.page.engine.policy
    assert layout.mode == "elderly"
    theme = layout.theme
    assert theme.font_px >= pol.elderly_font_px
    assert theme.line_height >= pol.elderly_line_height
    assert theme.motion in ("reduced", "none")
    assert theme.high_contrast is True
    if layout.components:
        assert max(c.font_px for c in layout.components) >= pol.elderly_max_font_px
    for c in layout.components:
        ctype, spec = case.page.types[c.id], case.page.specs[c.id]
        assert c.font_px >= pol.elderly_font_px, c.id
        assert not ctype.ad and not ctype.promo, f"{c.id}: ad/promo in elderly mode"
        if ctype.interactive or ctype.action:
            main = ctype.main if spec.main is None else spec.main
            need = pol.elderly_main_target_px if main else pol.elderly_target_px
            assert c.min_target_px >= need, c.id
        if ctype.animated:
            assert c.props.get("autoplay") is False, c.id
    voice = [s.id for s in case.page.specs.values() if s.type == "voice_nav_entry"]
    for cid in voice:
        assert cid in {c.id for c in layout.components}


@pytest.mark.parametrize("name", PAGES)
@PROPERTY
@given(data=st.data())
def test_every_palette_pair_meets_its_contrast_floor(name: str, data: st.DataObject) -> None:
    case = data.draw(case_st(name))
    layout = _layout(case)
    pol = case.page.engine.policy
    enhanced = _enhanced(layout)
    assert layout.theme.dark == case.context.dark
    if case.profile.settings.high_contrast:
        assert layout.theme.high_contrast
    palette = layout.theme.palette
    for fg, bg, kind in PAIRS:
        ratio = contrast_ratio(getattr(palette, fg), getattr(palette, bg))
        assert ratio >= _floor(kind, enhanced, pol), (fg, bg, ratio)


@pytest.mark.parametrize("name", PAGES)
@PROPERTY
@given(data=st.data())
def test_interactive_components_are_named_and_big_enough(name: str, data: st.DataObject) -> None:
    case = data.draw(case_st(name))
    layout = _layout(case)
    pol = case.page.engine.policy
    settings_ = case.profile.settings
    ids = [c.id for c in layout.components]
    assert len(ids) == len(set(ids))
    for c in layout.components:
        ctype, spec = case.page.types[c.id], case.page.specs[c.id]
        assert c.role == ctype.role and c.type == spec.type
        if spec.label:
            assert c.label == spec.label  # never renamed
        if ctype.interactive or ctype.image or ctype.action:
            assert c.label.strip() and c.role
        if ctype.interactive or ctype.action:
            assert c.min_target_px >= pol.min_target_px
        assert c.min_target_px >= pol.absolute_min_target_px
        assert c.font_px >= ctype.min_font_px
        if ctype.animated and (settings_.reduce_motion or settings_.screen_reader):
            assert c.props.get("autoplay") is False
        if ctype.image and case.context.low_power:
            assert c.props.get("image_quality") == "low"
    if settings_.reduce_motion or settings_.screen_reader:
        assert layout.theme.motion in ("reduced", "none")
    if case.context.low_power:
        assert layout.theme.motion == "none"


@pytest.mark.parametrize("name", PAGES)
@PROPERTY
@given(data=st.data())
def test_served_layouts_pass_the_final_check(name: str, data: st.DataObject) -> None:
    case = data.draw(case_st(name))
    layout = _layout(case)
    assert check_layout(layout, case.page.compiled, case.page.engine.policy) == []
    assert Reason.FALLBACK_BASE not in layout.reasons  # the pipeline itself never needed it


@pytest.mark.parametrize("name", PAGES)
@PROPERTY
@given(data=st.data(), other=user_id_st)
def test_same_inputs_same_bytes_and_equal_plans_same_bytes(
    name: str, data: st.DataObject, other: str
) -> None:
    case = data.draw(case_st(name))
    p = case.page
    copy = msgspec.msgpack.decode(msgspec.msgpack.encode(case.profile), type=Profile)
    plan = p.engine.plan(p.compiled, case.profile, case.context, day=case.day)
    again = p.engine.plan(p.compiled, copy, case.context, day=case.day)
    assert plan == again
    body = encode_layout(p.engine.render(p.compiled, plan))
    assert body == encode_layout(p.engine.render(p.compiled, again))
    assert body == encode_layout(_layout(case))
    # Another user with the same settings: equal plans must mean identical bodies.
    twin = msgspec.structs.replace(case.profile, user_id=other)
    twin_plan = p.engine.plan(p.compiled, twin, case.context, day=case.day)
    same = twin_plan == plan
    assert same == (plan_fingerprint("v", twin_plan) == plan_fingerprint("v", plan))
    if same:
        assert encode_layout(p.engine.render(p.compiled, twin_plan)) == body
    assert "user_id" not in type(plan).__struct_fields__


@pytest.mark.parametrize("name", PAGES)
def test_variant_bucketing_is_deterministic_and_proportional(name: str) -> None:
    page = PAGE_OBJECTS[name][0]
    template = page.compiled.template
    users = [f"user-{i}" for i in range(10_000)]
    counts = Counter(
        page.engine.plan(page.compiled, Profile(user_id=u), Context()).variant for u in users
    )
    again = Counter(
        page.engine.plan(page.compiled, Profile(user_id=u), Context()).variant for u in users
    )
    assert counts == again
    if not template.experiment or not template.variants:
        assert counts == {None: len(users)}
        return
    total = sum(v.weight for v in template.variants)
    for v in template.variants:
        expected = v.weight / total
        assert abs(counts[v.name] / len(users) - expected) < 0.02, (v.name, counts)


# --------------------------------------------------------------------------- segments, scenes


@pytest.mark.parametrize("name", PAGES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_scenes_change_only_pages_whose_rules_read_them(name: str, data: st.DataObject) -> None:
    """A page with no scene rule plans the same for every daypart and weather (so the scene
    never enters its cache key); every scene or segment change names its rule."""
    case = data.draw(case_st(name))
    p = case.page
    plan = p.engine.plan(p.compiled, case.profile, case.context, day=case.day)
    reads_scenes = any(
        spec.show_for_scenes or spec.hide_for_scenes for spec in p.compiled.template.components
    )
    if not reads_scenes:
        other = msgspec.structs.replace(case.context, daypart="afternoon", weather="rain")
        assert p.engine.plan(p.compiled, case.profile, other, day=case.day) == plan
    tags = rule_tags(case.profile, case.context, case.day, policy())
    for change in plan.changes:
        if change.reason.startswith("segment:"):
            assert change.reason.removeprefix("segment:") in tags
        if change.reason.startswith("scene:"):
            assert change.reason in tags
            assert change.reason.removeprefix("scene:") in (
                case.context.daypart,
                case.context.weather,
            )


# ---------------------------------------------------------- evidence, zones and the layout numbers


def _blocks(page: Page, base: Layout) -> dict[str, int]:
    """Each base component's block: a new block at every component personalization may not move
    (pinned, navigation, off the flow, outside a movable zone) and at every zone edge. Recomputed
    from the template, not read from the engine."""
    template = page.compiled.template
    movable_zones = {z.name for z in template.zones if z.movable}
    blocks: dict[str, int] = {}
    block, zone = 0, None
    for c in base.components:
        spec, ctype = page.specs[c.id], page.types[c.id]
        fixed = (
            spec.pinned
            or ctype.role in NAVIGATION_ROLES
            or spec.placement != "flow"
            or (bool(template.zones) and spec.zone not in movable_zones)
        )
        if fixed or spec.zone != zone:
            block += 1
        blocks[c.id] = block
        zone = None if fixed else spec.zone
        if fixed:
            block += 1
    return blocks


@pytest.mark.parametrize("name", PAGES)
@PROPERTY
@given(data=st.data())
def test_nothing_moves_across_a_zone_edge_or_a_fixed_component(
    name: str, data: st.DataObject
) -> None:
    """Affinity, stability and exploration reorder components only inside a movable zone: every
    component common to the base and the result stays in its block, in block order."""
    case = data.draw(case_st(name))
    result, base = _layout(case), _base(case)
    blocks = _blocks(case.page, base)
    seq = [blocks[c.id] for c in result.components if c.id in blocks]
    assert seq == sorted(seq), f"a component left its zone: {seq}"


@pytest.mark.parametrize("name", PAGES)
@PROPERTY
@given(data=st.data())
def test_decayed_away_evidence_moves_nothing(name: str, data: st.DataObject) -> None:
    """Evidence that decayed below the policy minimum gives no affinity or stability move, however
    many events it once was; the same evidence fresh is allowed to."""
    page = PAGE_OBJECTS[name][0]
    pol = page.engine.policy
    case = data.draw(case_st(name))
    day = max(case.day, 1)
    evidence = data.draw(st.floats(pol.min_evidence, 10_000.0))
    # Old enough that evidence x 2**-(age / half-life) + 0.5 < min_evidence.
    halvings = math.log2(evidence / (pol.min_evidence - 0.5)) + data.draw(st.floats(0.01, 50.0))
    updated = day * 86_400.0 - halvings * HALF_LIFE_S
    stale = msgspec.structs.replace(case.profile, evidence=evidence, evidence_updated=updated)
    layout = page.engine.layout(page.compiled, stale, case.context, day=day)
    movers = [c for c in layout.personalization.changes if c.change == "moved"]
    assert all(c.reason == Reason.EXPLORE for c in movers), movers
    fresh = msgspec.structs.replace(stale, evidence_updated=day * 86_400.0)
    unstamped = msgspec.structs.replace(stale, evidence_updated=None)
    assert encode_layout(page.engine.layout(page.compiled, fresh, case.context, day=day)) == (
        encode_layout(page.engine.layout(page.compiled, unstamped, case.context, day=day))
    )


@pytest.mark.parametrize("name", PAGES)
@PROPERTY
@given(user=user_id_st.filter(bool), data=st.data())
def test_weight_edits_only_move_users_into_grown_variants(
    name: str, user: str, data: st.DataObject
) -> None:
    """Republishing with the same shares written differently moves nobody; growing one variant
    moves a user only into it (each edit's allocation made from the live one, as a publish
    does; served through the engine's plan)."""
    page = PAGE_OBJECTS[name][0]
    template = page.compiled.template
    if not template.experiment or not template.variants:
        return
    scale = data.draw(st.integers(1, 9))
    k = data.draw(st.integers(0, len(template.variants) - 1))
    grow = data.draw(st.integers(1, 500))

    def served(weights: list[int]) -> str | None:
        variants = [
            msgspec.structs.replace(v, weight=w)
            for v, w in zip(template.variants, weights, strict=True)
        ]
        edited = msgspec.structs.replace(template, variants=variants)
        allocation = allocate(
            template.experiment or "",
            [(v.name, v.weight) for v in variants],
            page.compiled.allocation,
        )
        compiled = page.engine.compile(edited, "edit", allocation)
        return page.engine.plan(compiled, Profile(user_id=user), Context()).variant

    weights = [v.weight for v in template.variants]
    before = served(weights)
    assert served([w * scale for w in weights]) == before
    after = served([w + grow if i == k else w for i, w in enumerate(weights)])
    assert after in (before, template.variants[k].name)
    point = bucket(user, template.experiment)
    assert 0 <= point < BUCKETS
    assert page.compiled.allocation is not None
    assert page.compiled.allocation.variant(point) == before

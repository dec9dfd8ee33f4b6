"""Shared plans (issue 26): users whose plan inputs are equal (`shared_key`) get one plan.

The property: over random launches on the shipped `home` (an A/B experiment, segment and scene
rules, exploration), every launch whose key another launch had gets exactly the plan a fresh
`make_plan` computes for it; and the launches with no key are the ones whose affinities can
move modules. Domains are small on purpose, so keys repeat often.
"""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.engine import compiled_page, policy
from uiserver.engine import Plan
from uiserver.engine.plan import make_plan, shared_key
from uiserver.engine.stability import enough_evidence
from uiserver.schema import Activity, Context, Profile, Settings

ENGINE, HOME, _ = compiled_page("home")
# Exploration on half of the launches (the shipped 3% would rarely show in a few examples).
POLICY = msgspec.structs.replace(policy(), explore_share=0.5)
DAY = 20_400
KEYS = sorted({c.key for c in HOME.views[None, "standard"].comps if c.interactive})
IDS = list(HOME.ids)

# Few values each, so that launches share keys often (and a key missing an input shows).
user_settings = st.sampled_from(
    [
        Settings(),
        Settings(handedness="left", age_band="60_plus"),
        Settings(font_scale=1.5, high_contrast=True, elderly_mode="on"),
        Settings(personalization=0.0),
        Settings(personalization=0.5, handedness="right"),
    ]
)
contexts = st.sampled_from(
    [
        Context(),
        Context(device="tablet", dark=True),
        Context(daypart="morning"),
        Context(daypart="evening", weather="rain"),
    ]
)
activities = st.sampled_from(
    [None, Activity(first=DAY - 2, last=DAY - 1, days={DAY - 2: 1, DAY - 1: 1})]
)


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    affinities = draw(
        st.dictionaries(st.sampled_from(KEYS), st.sampled_from([0.5, 3.0, 9.0]), max_size=3)
    )
    last = draw(st.sampled_from([{}, {"home": IDS[::-1]}, {"home": IDS}]))
    return Profile(
        user_id=draw(st.sampled_from(["", *(f"u{i}" for i in range(12))])),
        settings=draw(user_settings),
        affinities=affinities,
        evidence=draw(st.sampled_from([0.0, 2.0, 40.0])),
        segments=draw(st.frozensets(st.sampled_from(["churn_risk", "vip", "new_user"]))),
        last_order=last,
        activity=draw(activities),
    )


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(profiles(), contexts, st.sampled_from([DAY, DAY + 1])), min_size=10, max_size=40
    )
)
def test_a_shared_plan_is_the_plan_computed_fresh(
    launches: list[tuple[Profile, Context, int]],
) -> None:
    shared: dict[object, Plan] = {}
    for profile, context, day in launches:
        fresh = make_plan(HOME, profile, context, day, POLICY)
        key = shared_key(HOME, profile, context, day, POLICY)
        if key is None:
            moving = profile.affinities or profile.last_order.get("home")
            folding = fresh.mode == "elderly" and (profile.affinities or profile.evidence)
            assert folding or (moving and enough_evidence(profile.evidence, POLICY.min_evidence))
            continue
        assert shared.setdefault(key, fresh) == fresh, (profile, context, day)


def test_users_with_the_same_inputs_share_one_key() -> None:
    """Two users in the same variant, neither exploring today: one key; a user whose settings
    differ: another."""
    by_variant: dict[object, list[str]] = {}
    for i in range(200):
        user = f"user-{i}"
        key = shared_key(HOME, Profile(user_id=user), Context(), DAY, POLICY)
        assert key is not None
        by_variant.setdefault(key, []).append(user)
    assert max(len(users) for users in by_variant.values()) > 50
    large = Profile(user_id="user-0", settings=Settings(font_scale=1.5))
    assert shared_key(HOME, large, Context(), DAY, POLICY) not in by_variant
    plan = ENGINE.plan(HOME, Profile(user_id="user-0"), Context(), day=DAY)
    assert msgspec.json.encode(plan)  # a Plan holds nothing about who asked

"""Custom personas for the designer preview: specs from a query string or a JSON object, their
refusals naming the field, synthetic events folded as stored events are, a forced variant, and
`preview_persona` mapping spec and engine errors to the admin errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.helpers.personas import unbuildable_personas
from tests.helpers.units import AUTHOR, FlakyStore, publishing, publishing_parts, template
from uiserver.admin.errors import Invalid, LayoutRuleFailed
from uiserver.admin.preview import (
    BASE_VARIANT,
    PersonaSpec,
    SpecError,
    SyntheticEvent,
    evidence_note,
    preview_persona,
    preview_spec,
    profile_of,
    spec_from_json,
    spec_from_query,
)
from uiserver.catalog import template_version
from uiserver.engine import encode_layout
from uiserver.engine.personas import PERSONAS
from uiserver.engine.variant import choose_variant, initial
from uiserver.publishing.publisher import Publisher
from uiserver.schema import ComponentSpec, Context, Event, Layout, Profile, Settings
from uiserver.users.events import EventIntake

HOME = template("home")
EXPERIMENT = "home_deals_position_v1"


@pytest.fixture
def publisher(tmp_path: Path) -> Publisher:
    """Previews touch no store: a publisher on one never opened."""
    return publishing_parts(FlakyStore(tmp_path / "never-opened.db")).publisher


def ids(layout: Layout) -> list[str]:
    return [c.id for c in layout.components]


# ------------------------------------------------------------------ specs


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("", PersonaSpec(), id="empty-is-the-default-persona"),
        pytest.param(b"persona=off", PersonaSpec(base="off"), id="bytes"),
        pytest.param(
            "persona=elderly&font_scale=1.5&handedness=left",
            PersonaSpec(base="elderly", settings={"font_scale": "1.5", "handedness": "left"}),
            id="settings-as-text",
        ),
        pytest.param(
            "events=coupons:click:12,fresh_produce:convert,,meat",
            PersonaSpec(
                events=[
                    SyntheticEvent("coupons", "click", 12),
                    SyntheticEvent("fresh_produce", "convert", 1),
                    SyntheticEvent("meat", "click", 1),
                ]
            ),
            id="events-with-defaults",
        ),
        pytest.param(
            "segments=churn_risk,%20vip,&variant=deals_first",
            PersonaSpec(segments=["churn_risk", "vip"], variant="deals_first"),
            id="segments-and-variant",
        ),
        pytest.param(
            "device=tablet&dark=1&locale=ar-SA&shoe=9",
            PersonaSpec(),
            id="other-parameters-are-the-context-parsers",
        ),
    ],
)
def test_spec_from_query(query: str | bytes, expected: PersonaSpec) -> None:
    assert spec_from_query(query) == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("events=coupons:click:%C2%B3", "events", id="superscript-count"),
        pytest.param("events=coupons:click:-1", "events", id="negative-count"),
        pytest.param("events=coupons:click:1001", "persona.events[0].count", id="count-too-big"),
        pytest.param("events=coupons:stare", "persona.events[0].kind", id="unknown-kind"),
        pytest.param(
            "segments=" + ",".join(f"s{i}" for i in range(33)),
            "persona.segments",
            id="too-many-segments",
        ),
    ],
)
def test_spec_from_query_refusals_name_the_field(query: str, field: str) -> None:
    with pytest.raises(SpecError) as refused:
        spec_from_query(query)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("document", "field"),
    [
        pytest.param([], "persona", id="not-an-object"),
        pytest.param({"nope": 1}, "persona.nope", id="unknown-field"),
        pytest.param({"base": 3}, "persona.base", id="base-not-text"),
        pytest.param({"settings": 5}, "persona.settings", id="settings-not-an-object"),
        pytest.param({"events": [{"target": ""}]}, "persona.events[0].target", id="empty-target"),
        pytest.param(
            {"events": [{"target": "coupons", "count": 0}]},
            "persona.events[0].count",
            id="count-zero",
        ),
        pytest.param(
            {"events": [{"target": "coupons", "extra": 1}]},
            "persona.events[0].extra",
            id="unknown-event-field",
        ),
        pytest.param({"segments": [""]}, "persona.segments[0]", id="empty-segment"),
        pytest.param({"variant": 4}, "persona.variant", id="variant-not-text"),
    ],
)
def test_spec_from_json_refusals_name_the_field(document: Any, field: str) -> None:
    with pytest.raises(SpecError) as refused:
        spec_from_json(document)
    assert refused.value.field == field
    assert refused.value.message


def test_a_spec_is_custom_when_it_changes_anything() -> None:
    assert not spec_from_query("persona=elderly").custom
    for query in ("font_scale=2", "events=coupons", "segments=vip", "variant=control"):
        assert spec_from_query(query).custom, query


# ------------------------------------------------------------------ profiles


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        pytest.param(PersonaSpec(base="nobody"), "persona", id="unknown-persona"),
        pytest.param(
            PersonaSpec(settings={"font_scale": 3}), "settings.font_scale", id="scale-too-big"
        ),
        pytest.param(
            spec_from_query("font_scale=big"), "settings.font_scale", id="scale-not-a-number"
        ),
        pytest.param(
            spec_from_query("handedness=both"), "settings.handedness", id="unknown-handedness"
        ),
        pytest.param(
            spec_from_query("events=coupons,nothing"), "events[1].target", id="unknown-target"
        ),
    ],
)
def test_profile_of_refusals_name_the_field(spec: PersonaSpec, field: str) -> None:
    with pytest.raises(SpecError) as refused:
        profile_of(spec, HOME)
    assert refused.value.field == field


def test_an_unknown_setting_is_named() -> None:
    with pytest.raises(SpecError) as refused:
        profile_of(spec_from_json({"settings": {"shoe": 1}}), HOME)
    assert refused.value.field == "settings.shoe"


def test_settings_apply_over_the_base_persona() -> None:
    profile = profile_of(spec_from_query("persona=elderly&font_scale=1.5&handedness=left"), HOME)
    assert profile.settings == Settings(
        age_band="60_plus", elderly_mode="auto", font_scale=1.5, handedness="left"
    )
    assert PERSONAS["elderly"].settings.font_scale == 1.0  # the persona itself is unchanged


def test_segments_add_to_the_base_personas() -> None:
    profile = profile_of(spec_from_query("persona=churn_risk&segments=vip"), HOME)
    assert profile.segments == frozenset({"churn_risk", "vip"})


@pytest.fixture
async def intake(tmp_path: Path) -> AsyncIterator[EventIntake]:
    async with publishing(tmp_path) as parts:
        await parts.publisher.publish("home", HOME, AUTHOR, "first")
        yield EventIntake(
            parts.store.users, parts.store.activity, parts.live, parts.store.telemetry
        )


async def _stored_profile(intake: EventIntake, events: list[Event]) -> Profile:
    outcome = await intake.record("stored-user", events)
    assert outcome.ignored == 0
    return await intake.users.get_profile("stored-user")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("query", "events"),
    [
        pytest.param(
            "events=coupons:click:12",
            [Event(page="home", component="coupons", kind="click")] * 12,
            id="clicks-on-a-component",
        ),
        pytest.param(
            "events=fresh_produce:convert:2,fresh_grid:view:30",
            [Event(page="home", component="fresh_grid", kind="convert")] * 2
            + [Event(page="home", component="fresh_grid", kind="view")] * 30,
            id="a-category-and-a-component-in-it",
        ),
    ],
)
async def test_synthetic_events_fold_as_stored_events_do(
    intake: EventIntake, query: str, events: list[Event]
) -> None:
    stored = await _stored_profile(intake, events)
    previewed = profile_of(spec_from_query(query), HOME)
    assert previewed.affinities == pytest.approx(stored.affinities)
    assert previewed.evidence == pytest.approx(stored.evidence)


@pytest.mark.anyio
async def test_synthetic_events_on_an_uncategorised_component_fold_as_stored_events_do(
    intake: EventIntake,
) -> None:
    stored = await _stored_profile(
        intake, [Event(page="home", component="back_to_top", kind="click")] * 9
    )
    previewed = profile_of(spec_from_query("events=back_to_top:click:9"), HOME)
    assert previewed.affinities == pytest.approx(stored.affinities)


def test_synthetic_events_reach_the_layout(publisher: Publisher) -> None:
    plain = preview_spec(publisher, HOME, spec_from_query(""))
    clicked = preview_spec(publisher, HOME, spec_from_query("events=seafood:click:40"))
    assert ids(clicked).index("seafood_title") < ids(plain).index("seafood_title")
    assert {c.component for c in clicked.personalization.changes} >= {
        "seafood_title",
        "seafood_grid",
    }


# ------------------------------------------------------------------ variants


def _bucketed(variant: str) -> str:
    allocation = initial(EXPERIMENT, tuple((v.name, v.weight) for v in HOME.variants))
    return next(
        u for u in (f"user-{i}" for i in range(1000)) if choose_variant(u, allocation) == variant
    )


@pytest.mark.parametrize("variant", [pytest.param("control"), pytest.param("deals_first")])
def test_a_forced_variant_previews_what_a_user_bucketed_into_it_gets(
    publisher: Publisher, variant: str
) -> None:
    forced = preview_spec(
        publisher, HOME, spec_from_query(f"variant={variant}"), personalization=0.0
    )
    compiled = publisher.engine.compile(HOME, template_version(HOME))
    user = Profile(user_id=_bucketed(variant), settings=Settings(personalization=0.0))
    bucketed = publisher.engine.layout(compiled, user, Context(), day=1)

    assert forced.variant == variant
    assert encode_layout(forced) == encode_layout(bucketed)


def test_the_base_variant_is_the_template_without_variants(publisher: Publisher) -> None:
    base = preview_spec(publisher, HOME, spec_from_query(f"variant={BASE_VARIANT}"))
    plain = preview_spec(publisher, HOME, spec_from_query(""))
    deals = preview_spec(publisher, HOME, spec_from_query("variant=deals_first"))
    assert base.variant is None and encode_layout(base) == encode_layout(plain)
    assert ids(deals).index("coupons") < ids(deals).index("banner")
    assert ids(base).index("banner") < ids(base).index("coupons")


def test_forcing_an_unknown_variant_leaves_the_compiled_base(publisher: Publisher) -> None:
    compiled = publisher.engine.compile(HOME, template_version(HOME))
    same = compiled.forced("no_such_variant")
    assert same.views == compiled.views
    deals = compiled.forced("deals_first")
    assert deals.views[None, "standard"] is compiled.views["deals_first", "standard"]


# ------------------------------------------------------------------ preview_persona


@pytest.mark.parametrize(
    ("query", "field"),
    [
        *unbuildable_personas(),
        pytest.param("events=nothing", "events[0].target", id="event-target-bare"),
    ],
)
def test_preview_persona_answers_invalid_naming_the_field(
    publisher: Publisher, query: str, field: str
) -> None:
    with pytest.raises(Invalid) as invalid:
        preview_persona(publisher, HOME, spec_from_query(query))
    assert (invalid.value.code, invalid.value.field) == ("invalid", field)


def test_preview_persona_answers_layout_rule_failed_when_the_engine_cannot_build(
    publisher: Publisher,
) -> None:
    odd = ComponentSpec(id="odd", type="no_such_type", label="Odd")
    broken = msgspec.structs.replace(HOME, components=[*HOME.components, odd])
    with pytest.raises(LayoutRuleFailed) as failed:
        preview_persona(publisher, broken, spec_from_query("persona=elderly"))
    assert (failed.value.code, failed.value.field) == ("layout_rule", "template")
    assert failed.value.message.startswith("elderly: ")


def test_preview_persona_previews_the_spec(publisher: Publisher) -> None:
    layout = preview_persona(
        publisher, HOME, spec_from_query("segments=churn_risk"), Context(dark=True), "v-draft"
    )
    assert layout.template_version == "v-draft"
    assert "welcome_back" in ids(layout)
    assert {(c.component, c.change, c.reason) for c in layout.personalization.changes} >= {
        ("welcome_back", "shown", "segment:churn_risk")
    }


def test_personalization_zero_previews_the_personas_base_layout(publisher: Publisher) -> None:
    spec = spec_from_query("persona=churn_risk")
    assert "welcome_back" in ids(preview_persona(publisher, HOME, spec))
    off = preview_persona(publisher, HOME, spec, personalization=0.0)
    assert "welcome_back" not in ids(off)
    assert off.personalization.strength == 0.0


def test_evidence_note_says_why_synthetic_events_moved_nothing(publisher: Publisher) -> None:
    """Two clicks are under min_evidence (8): the note names the gate and what would open it;
    forty move the seafood aisle, so nothing needs saying; no events, no note."""
    few = spec_from_query("events=seafood:click:2")
    note = evidence_note(few, HOME, preview_spec(publisher, HOME, few), 8, 0.25)
    assert "Nothing moved" in note and "min_evidence" in note and "2 synthetic events" in note
    assert "6 more clicks" in note
    many = spec_from_query("events=seafood:click:40")
    assert evidence_note(many, HOME, preview_spec(publisher, HOME, many), 8, 0.25) == ""
    none = spec_from_query("")
    assert evidence_note(none, HOME, preview_spec(publisher, HOME, none), 8, 0.25) == ""
    # Past the gate but nothing moved (a pinned target): the other reasons are named.
    pinned = spec_from_query("events=header:click:12")
    passed = evidence_note(pinned, HOME, preview_spec(publisher, HOME, pinned), 8, 0.25)
    assert "pass the evidence gate" in passed and "pinned" in passed

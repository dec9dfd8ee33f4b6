"""Capability values, the types hash, kill switch ranges, fallback chains and their lint."""

from __future__ import annotations

import msgspec
import pytest

from tests.helpers.engine import mini_catalog, mini_template
from uiserver.engine.capability import (
    Capability,
    CapabilityError,
    KillSwitch,
    drawable,
    fallback_for,
    parse_capability,
    parse_version,
    reach,
    substitute,
    types_hash,
)
from uiserver.lint.catalog import lint_fallbacks


def test_the_types_hash_is_fnv1a_of_the_sorted_distinct_names() -> None:
    assert types_hash([]) == "811c9dc5"  # FNV-1a 32-bit offset basis: nothing hashed
    assert types_hash(["b", "a", "a"]) == types_hash(["a", "b"])
    assert types_hash(["a"]) == "e40c292c"  # FNV-1a("a"), the published test vector
    assert types_hash(["a", "b"]) != types_hash(["ab"])


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        pytest.param("r=2.1.0;t=ab12cd34", Capability((2, 1, 0), "ab12cd34"), id="both"),
        pytest.param(" t=ab12cd34 ; r=0.0.1 ", Capability((0, 0, 1), "ab12cd34"), id="order"),
        pytest.param("r=10.0.9999;x=later", Capability((10, 0, 9999)), id="unknown-key"),
    ],
)
def test_capability_values(value: str, parsed: Capability) -> None:
    assert parse_capability(value) == parsed
    assert parse_capability(parsed.key) == parsed


@pytest.mark.parametrize(
    "value",
    [
        "",
        "r",
        "t=ab12cd34",
        "r=1.2",
        "r=1.2.3.4",
        "r=a.b.c",
        "r=1.2.3;t=AB12CD34",
        "r=1.2.3;t=ab12",
        "r=1.0.0;r=1.0.0",
        "r=10000.0.0",
        "r=1.2.٣",
        "r=01.0.0",  # leading zeros: refused everywhere else (SemVer 2.0.0 section 2)
        "r=1.00.0",
        "r=1.0.0;=",  # a part without a name
        "r=1.0.0;=x",
    ],
)
def test_bad_capability_values(value: str) -> None:
    with pytest.raises(CapabilityError):
        parse_capability(value)


def test_kill_switches_cover_their_range_inclusively() -> None:
    switch = KillSwitch("x", "2.0.0", "2.1.9")
    assert [switch.covers(parse_version(v)) for v in ("1.9.9", "2.0.0", "2.1.9", "2.2.0")] == [
        False,
        True,
        True,
        False,
    ]
    assert KillSwitch("x", "2.0.0").covers((99, 0, 0))


def test_drawable_is_since_registered_and_not_killed() -> None:
    types = dict(mini_catalog().types)
    first, second, *_ = sorted(types)
    types[first] = msgspec.structs.replace(types[first], since="3.0.0")
    assert first not in drawable(types, (2, 9, 9), None)
    assert first in drawable(types, (3, 0, 0), None)
    assert drawable(types, (3, 0, 0), frozenset({first})) == {first}
    assert second not in drawable(types, (3, 0, 0), None, [KillSwitch(second, "1.0.0")])


def test_fallback_chains_stop_at_a_loop_or_an_unknown_type() -> None:
    types = dict(mini_catalog().types)
    a, b, c, *_ = sorted(types)
    types[a] = msgspec.structs.replace(types[a], fallback=b)
    types[b] = msgspec.structs.replace(types[b], fallback=c)
    assert fallback_for(a, types, frozenset({c})) == c
    types[c] = msgspec.structs.replace(types[c], fallback=a)  # a -> b -> c -> a
    assert fallback_for(a, types, frozenset()) is None
    assert lint_fallbacks(types)[a][0].message.startswith("the fallback chain loops")
    types[c] = msgspec.structs.replace(types[c], fallback="nope", since="0.0.0")
    assert "not in the catalogue" in lint_fallbacks(types)[c][0].message
    types[b] = msgspec.structs.replace(types[b], fallback=b)
    assert "itself" in lint_fallbacks(types)[b][0].message
    types[a] = msgspec.structs.replace(types[a], fallback=c)
    types[c] = msgspec.structs.replace(types[c], fallback=None, since="5.0.0")
    assert "needs renderer 5.0.0" in lint_fallbacks(types)[a][0].message


def test_substitution_leaves_out_what_has_no_fallback_everywhere() -> None:
    template = mini_template()
    types = mini_catalog().types
    gone = template.components[0]
    can_draw = frozenset(types) - {gone.type}
    substituted, subs = substitute(template, types, can_draw)
    assert gone.id not in {c.id for c in substituted.components}
    assert [s.reason for s in subs if s.component == gone.id] == [f"omitted:{gone.id}"]
    for variant in substituted.variants:
        assert gone.id not in (variant.order or []) and gone.id not in variant.props
    assert substitute(template, types, frozenset(types)) == (template, ())


def test_reach_counts_the_launches_that_cannot_draw_each_type() -> None:
    types = dict(mini_catalog().types)
    first, second, *_ = sorted(types)
    types[first] = msgspec.structs.replace(types[first], since="2.0.0", fallback=second)
    launches = {"1.0.0": 30, "2.0.0": 60, "2.1.0": 10, "other": 999, "junk": 5}
    found = {r.type: r for r in reach(types, [first, second, "unknown"], launches)}
    assert set(found) == {first, second}
    assert (found[first].cannot, found[first].launches, found[first].share) == (30, 100, 0.3)
    assert found[first].fallback == second
    assert found[second].share == 0.0
    killed = reach(types, [second], launches, [KillSwitch(second, "2.1.0")])
    assert killed[0].cannot == 10
    assert reach(types, [second], {})[0].share == 0.0

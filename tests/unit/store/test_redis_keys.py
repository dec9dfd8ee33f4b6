"""Key names of the Redis store: unchanged on a single server (its data stays readable), and
in a cluster every transaction's keys in one hash slot (`redis.crc.key_slot`, the CRC16 the
cluster itself uses)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from redis.crc import key_slot

from uiserver.engine.hashing import ERASURE_BUCKETS
from uiserver.store.redis.keys import Keys


def slot(key: str) -> int:
    return key_slot(key.encode())


def test_single_server_names_are_the_ones_stored_before() -> None:
    keys = Keys("uiserver:")
    assert keys.user("alice") == "uiserver:user:alice"
    assert keys.of_user("alice") == [
        "uiserver:user:alice",
        "uiserver:aff:alice",
        "uiserver:seg:alice",
        "uiserver:order:alice",
        "uiserver:evid:alice",
    ]
    assert keys.epoch("alice").startswith("uiserver:erased:")
    assert keys.epoch("alice")[len("uiserver:erased:") :].isdigit()
    assert keys.exact("e1", "A") == "uiserver:expc:e1:A"
    assert keys.group("tpl", "live") == "uiserver:live"
    assert keys.channels(["tpl", "rev"]) == ["uiserver:invalidate"]
    assert keys.user_channel("alice") == keys.group_channel("tpl") == "uiserver:invalidate"
    assert keys.by_tag(["a", "b"]) == {"": ["a", "b"]}


@given(st.text(min_size=1, max_size=40))
def test_in_a_cluster_a_user_s_keys_and_epoch_and_channel_share_one_slot(user: str) -> None:
    keys = Keys("uiserver:", cluster=True)
    slots = {slot(k) for k in [*keys.of_user(user), keys.epoch(user), keys.user_channel(user)]}
    assert len(slots) == 1
    assert list(keys.by_tag([user])) == [keys.user_tag(user)]


def test_in_a_cluster_each_family_has_one_slot_and_users_spread() -> None:
    keys = Keys("uiserver:", cluster=True)
    templates = [keys.group("tpl", n) for n in ("live", "rollouts", "archived", "tpl:home")]
    assert len({slot(k) for k in [*templates, keys.group_channel("tpl")]}) == 1
    experiment = [keys.exact("e}1", "A"), keys.off("e}1", "B"), keys.days("e}1")]
    assert (
        len({slot(k) for k in [*experiment, keys.meta("e}1"), keys.exposures("e}1", "A", 3)]}) == 1
    )
    channels = keys.channels(["tpl", "rev"])
    assert len(channels) == ERASURE_BUCKETS + 2 and len(set(channels)) == len(channels)
    # 4,096 bucket tags over 16,384 slots: each third of the slots gets about a third of them
    thirds = [0, 0, 0]
    for channel in channels[:ERASURE_BUCKETS]:
        thirds[slot(channel) * 3 // 16384] += 1
    assert all(1200 < n < 1540 for n in thirds), thirds

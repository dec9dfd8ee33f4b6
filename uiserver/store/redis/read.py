"""Everything about a user in one command: the Lua script `RedisUsers.get_profile` runs.

A script runs atomically, so its five reads are one consistent snapshot, as MULTI/EXEC gave,
in one round trip and one reply (MULTI/EXEC took 7 commands and 7 replies). KEYS: the user's
keys in `USER_KEY_KINDS` order (user hash, affinity zset, segment set, order hash, then
kinds the profile does not read), and last the erasure epoch's key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

READ_USER = """
return {redis.call('HGETALL', KEYS[1]), redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES'),
        redis.call('SMEMBERS', KEYS[3]), redis.call('HGETALL', KEYS[4]),
        redis.call('GET', KEYS[#KEYS])}
"""


def _pairs(flat: Sequence[bytes]) -> dict[bytes, bytes]:
    """A flat reply of field, value, field, value... as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def read_user_reply(
    raw: Sequence[Any],
) -> tuple[dict[bytes, bytes], dict[str, float], list[bytes], dict[bytes, bytes], bytes | None]:
    """(user hash, affinity scores, segments, order hash, raw epoch) from the script's reply.
    Scores are Redis's exact decimal strings (what WITHSCORES sends anyway) made floats."""
    flat_scores = raw[1]
    scores = {
        member.decode(): float(score)
        for member, score in zip(flat_scores[::2], flat_scores[1::2], strict=True)
    }
    return _pairs(raw[0]), scores, list(raw[2]), _pairs(raw[3]), raw[4]

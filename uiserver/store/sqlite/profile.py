"""A user's profile from SQLite in one statement (`SQLiteUsers.get_profile`).

One statement is one implicit read transaction, so the four tables are read from one consistent
snapshot without BEGIN/COMMIT: a first launch's store read was seven statements (BEGIN, four
SELECTs and the erasure epoch's, COMMIT). REAL scores come back as stored (no JSON text in between).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from uiserver.engine.activity import NEVER_SEEN, decode_activity
from uiserver.engine.affinity import Affinity
from uiserver.engine.hashing import erasure_bucket
from uiserver.schema import Activity, Profile, Settings
from uiserver.store._common import build_profile, decode_order, decode_settings

# (part, a, b, c, d, e) rows: part 0 the users row (settings, evidence, affinity_ts, last_event,
# activity),
# 1 an affinity (key, score), 2 a segment, 3 a page's last order (page, components), 4 the
# erasure epoch of the user's bucket (`erasure.epoch`; no row: 0). Arguments:
# `profile_args`.
PROFILE_QUERY = (
    "SELECT 0, settings, evidence, affinity_ts, last_event, activity FROM users "
    "WHERE user_id = ?1 "
    "UNION ALL SELECT 1, key, score, NULL, NULL, NULL FROM affinities WHERE user_id = ?1 "
    "UNION ALL SELECT 2, segment, NULL, NULL, NULL, NULL FROM segments WHERE user_id = ?1 "
    "UNION ALL SELECT 3, page, components, NULL, NULL, NULL FROM last_orders "
    "WHERE user_id = ?1 "
    "UNION ALL SELECT 4, epoch, NULL, NULL, NULL, NULL FROM erasures WHERE bucket = ?2"
)


def profile_args(user_id: str) -> tuple[str, int]:
    """`PROFILE_QUERY`'s parameters for a user."""
    return user_id, erasure_bucket(user_id)


def profile_from_rows(user_id: str, rows: Iterable[tuple[Any, ...]]) -> Profile:
    """The Profile of `PROFILE_QUERY`'s rows (none: a user with nothing stored)."""
    settings: Settings | None = None
    stamps: tuple[int, float | None, float | None] = (0, None, None)
    scores: dict[str, float] = {}
    segments: list[str] = []
    orders: dict[str, list[str]] = {}
    epoch = 0
    # As `activity.read`: empty counters for a user never stored, None for a users row
    # written before counters existed.
    activity: Activity | None = NEVER_SEEN
    for part, a, b, c, d, e in rows:
        if part == 1:
            scores[a] = b
        elif part == 0:
            settings = decode_settings(a) if a is not None else None
            stamps = (b, c, d)
            activity = None if e is None else decode_activity(e)
        elif part == 2:
            segments.append(a)
        elif part == 3:
            orders[a] = decode_order(b)
        else:
            epoch = int(a)
    return build_profile(
        user_id, settings, Affinity(scores, *stamps), segments, orders, epoch, activity
    )

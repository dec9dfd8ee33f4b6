"""An events batch in two commands: a read script and a compare-and-set write script.

The WATCH/MULTI/EXEC version took 10-13 commands and six round trips a batch (WATCH, GET of the
epoch, HMGET, GET of the ids, ZRANGE, then MULTI, six writes, PUBLISH, EXEC). Here:

1. `SNAPSHOT` reads, atomically, what the fold needs: the erasure epoch, the user hash fields
   (settings, evidence, affinity_ts, last_event, activity), the seen event ids and the
   affinity scores, plus the SHA-1 of all of it (`redis.sha1hex`);
2. the fold runs here, in Python (`engine.affinity.fold`, `engine.activity.record_events`);
3. `APPLY` recomputes the same digest and writes only if nothing it read has changed since (a
   concurrent batch, settings write, launch counters, or an erase); otherwise it writes
   nothing and answers 0, and the batch is read and folded again (as a WatchError retried).

KEYS (both scripts): the user hash, the affinity zset, the erasure epoch key, the seen-ids key
(the keys the old transaction watched: one hash slot per user when the keys carry the user's
hash tag). Invalidations are published after APPLY succeeded, and only when the batch changes
what the user may be served (`engine.served_inputs`); a batch that counts experiment
conversions still takes the MULTI/EXEC path (its counts live in other keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.typing import EncodableT

from uiserver.engine.affinity import Affinity

FIELDS = ("settings", "evidence", "affinity_ts", "last_event", "activity")

# What both scripts read, in the same order, and its digest. A missing value is `false` in Lua;
# it is written as "\1" (no stored value is that one byte), so nil and "" differ.
_READ = """
local epoch = redis.call('GET', KEYS[3])
local fields = redis.call('HMGET', KEYS[1], 'settings', 'evidence', 'affinity_ts',
                          'last_event', 'activity')
local ids = redis.call('GET', KEYS[4])
local scores = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
local parts = {epoch or '\\1', ids or '\\1'}
for i = 1, #fields do parts[#parts + 1] = fields[i] or '\\1' end
for i = 1, #scores do parts[#parts + 1] = scores[i] end
local digest = redis.sha1hex(table.concat(parts, '\\0'))
"""

SNAPSHOT = (
    _READ
    + """
return {epoch, fields, ids, scores, digest}
"""
)

# ARGV: digest, number of scores, score/member pairs, number of hash fields, field/value pairs,
# `created` (set if absent), the new seen ids ("" to keep), their time to live (s).
APPLY = (
    _READ
    + """
if digest ~= ARGV[1] then return 0 end
local at = 2
local nscores = tonumber(ARGV[at]); at = at + 1
redis.call('DEL', KEYS[2])
if nscores > 0 then
  redis.call('ZADD', KEYS[2], unpack(ARGV, at, at + 2 * nscores - 1))
end
at = at + 2 * nscores
local nfields = tonumber(ARGV[at]); at = at + 1
redis.call('HSET', KEYS[1], unpack(ARGV, at, at + 2 * nfields - 1))
at = at + 2 * nfields
redis.call('HSETNX', KEYS[1], 'created', ARGV[at]); at = at + 1
if ARGV[at] ~= '' then redis.call('SET', KEYS[4], ARGV[at], 'EX', ARGV[at + 1]) end
return 1
"""
)


class Snapshot:
    """The SNAPSHOT reply: epoch, user hash fields (by FIELDS), seen ids, scores, digest."""

    __slots__ = ("digest", "epoch", "fields", "ids", "scores")

    def __init__(self, reply: Sequence[Any]) -> None:
        raw_epoch, fields, self.ids, flat, digest = reply
        self.epoch = 0 if raw_epoch is None else int(raw_epoch)
        self.fields: dict[str, bytes | None] = dict(zip(FIELDS, fields, strict=True))
        self.scores = {
            member.decode(): float(score)
            for member, score in zip(flat[::2], flat[1::2], strict=True)
        }
        self.digest: bytes = digest


def apply_args(
    snapshot: Snapshot,
    new: Affinity,
    fields: dict[str, EncodableT],
    now: float,
    ids: bytes | None,
    ttl: int,
) -> list[EncodableT]:
    """APPLY's ARGV for writing `new` scores, the hash `fields` and the seen `ids`."""
    args: list[EncodableT] = [snapshot.digest, len(new.scores)]
    for member, score in new.scores.items():
        args += [repr(score), member]
    args.append(len(fields))
    for name, value in fields.items():
        args += [name, value]
    args += [now, ids if ids is not None else b"", ttl]
    return args

"""Seen event ids, what both backends share: a resent events batch never counts twice.

A client makes an id when it tracks an event and keeps it across retries and restarts
(`schema.Event.id`). In the same transaction that folds a batch into affinities and counters,
the store looks the batch's ids up in the user's set of seen ids, folds only the events whose
id it has not seen (nor seen earlier in the batch), and adds their ids to the set: a batch whose
first POST landed but whose answer was lost is recognised when it comes again, and so is a
transaction Redis executed whose reply was lost (the retry reads the set the first one wrote).

The set is per-user data in the user's own rows/key (erased with the user), and bounded:
an id is remembered for WINDOW_S (7 days) after it was first stored, and a user keeps at most
MAX_IDS (1,000: twice the largest batch, `EventBatch`) ids, the oldest forgotten first. A resend
after the window may count again. The stores keep an 8-byte digest of each id
(`engine.hashing.event_digest`), never the id. Events without an id are always folded: they
cannot be told from a resend (no id is derived from their content, because two real clicks on
one component in the same second have the same content).
"""

from __future__ import annotations

import struct
from collections.abc import Container, Sequence

import msgspec

from uiserver.engine.hashing import event_digest
from uiserver.schema import Event

WINDOW_DAYS = 7
WINDOW_S = WINDOW_DAYS * 86_400  # how long an id is remembered after it was first stored
MAX_IDS = 1_000  # ids remembered per user (the largest batch is 500 events)


class Recorded(msgspec.Struct, frozen=True):
    """What `UserStore.record_batch` did: events folded (`stored`), events whose id was seen
    (`duplicates`), and conversions counted for experiments (`conversions`). Nothing stored and
    no duplicates from a non-empty batch: the stored settings turn personalization off."""

    stored: int = 0
    duplicates: int = 0
    conversions: int = 0


def fresh(events: Sequence[Event], seen: Container[bytes]) -> tuple[list[Event], list[bytes]]:
    """The events to fold (id never seen before, or no id) and the digests to remember; an id
    repeated inside the batch counts once (its first event)."""
    out: list[Event] = []
    new: dict[bytes, None] = {}
    for event in events:
        if event.id is None:
            out.append(event)
            continue
        digest = event_digest(event.id)
        if digest in seen or digest in new:
            continue
        new[digest] = None
        out.append(event)
    return out, list(new)


# The packed form of a user's set (SQLite `users.event_ids`, Redis `evid:{id}`): 12-byte records
# of the digest and the whole Unix second it was first stored, oldest first. 12 bytes an id, so
# the bound is 12 KB a user (a Redis sorted set took ~19 bytes an id up to 128, ~113 past it);
# a lookup is a `bytes.find` per id, so a batch costs no Python loop over the stored ids.
_RECORD = struct.Struct(">8sI")
_SIZE = _RECORD.size
_SECONDS = struct.Struct(">I")


class SeenIds:
    """A user's stored set as read, without its expired records: `digest in seen`, `len(seen)`,
    `seen.digests()`, and `seen.packed_with(new digests, now)` to store again.

    seen = SeenIds(raw, now)
    folded, new = fresh(events, seen)
    raw = seen.packed_with(new, now)
    """

    __slots__ = ("records",)

    def __init__(self, raw: bytes | None, now: float) -> None:
        raw = raw or b""
        usable = len(raw) - len(raw) % _SIZE  # a torn value is read up to its last record
        cutoff = int(now) - WINDOW_S
        start = 0  # records are appended in time order: the expired ones lead
        while start < usable and _SECONDS.unpack_from(raw, start + 8)[0] < cutoff:
            start += _SIZE
        self.records = raw[start:usable]

    def __contains__(self, digest: object) -> bool:
        if not isinstance(digest, bytes):
            return False
        at = self.records.find(digest)
        while at >= 0:
            if at % _SIZE == 0:
                return True
            at = self.records.find(digest, at + 1)
        return False

    def __len__(self) -> int:
        return len(self.records) // _SIZE

    def digests(self) -> list[bytes]:
        """The stored digests, oldest first."""
        return [d for d, _ in _RECORD.iter_unpack(self.records)]

    def packed_with(self, new: Sequence[bytes], now: float) -> bytes:
        """The set with `new` added at `now`, the newest MAX_IDS kept, packed to store."""
        added = b"".join(_RECORD.pack(d, int(now)) for d in new)
        return (self.records + added)[-MAX_IDS * _SIZE :]

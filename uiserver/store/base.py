"""The store Protocol every backend implements, and the records it speaks in.

The engine never sees a store; the HTTP layer maps store records into engine Structs. Every write
that changes what a layout depends on emits an Invalidation to the listeners of every process
sharing the store (SQLite: a change log read when `PRAGMA data_version` moves; Redis: pub/sub),
so that caches drop exactly the affected entries.

Erasure is final: no write that started before an erase may land after it, in this process or
on another replica. Every user write that is based on something read earlier (a profile read
for a launch, a request that began before its body arrived) carries the user's *erasure epoch*
as read then (`erasure_epoch`, `Profile.epoch`), and the store compares it with the current
epoch inside the write's own transaction (SQLite: the write transaction; Redis: WATCH/MULTI on
the epoch key). `erase_user` increments the epoch in its transaction, so a stale write raises
`ErasedMeanwhile` and stores nothing. Epochs are per bucket of users (`engine.hashing`),
so no trace of an erased user id is kept. `epoch=None` writes unconditionally (imports, tools).

What "everything about the user" is, by construction: SQLite erases every row of every table
that has a `user_id` column (a new per-user table needs nothing more); Redis erases every key
kind listed in `redis.keys.USER_KEY_KINDS` (`{prefix}{kind}:{user id}`; a new per-user key kind is
added there, and the test suite scans the whole keyspace for the id after an erase).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Protocol

import msgspec

from uiserver.engine.affinity import Affinity
from uiserver.engine.capability import KillSwitch
from uiserver.engine.readout import VariantCounts
from uiserver.engine.telemetry import ComponentCounts, CounterKey
from uiserver.schema import Activity, Event, Profile, Settings
from uiserver.store.event_ids import Recorded

# StoreUnavailable raised in this process by kind (`uiserver_store_errors_total{kind}`): a
# plain counter, read at scrape time. Kinds: `connection`, `timeout`, `refused` (a reachable
# Redis refusing service: OOM, READONLY, LOADING...), `conflict` (optimistic writes that kept
# losing), `locked` (SQLite busy past its timeout), `io` (any other SQLite failure).
STORE_ERROR_KINDS = ("connection", "timeout", "refused", "conflict", "locked", "io")
store_errors: dict[str, int] = dict.fromkeys(STORE_ERROR_KINDS, 0)


class StoreUnavailable(RuntimeError):
    """The backing service cannot be reached: reads may fall back, writes answer 503.
    `kind` (one of STORE_ERROR_KINDS) is counted for /metrics."""

    def __init__(self, message: str, kind: str = "connection") -> None:
        super().__init__(message)
        self.kind = kind if kind in store_errors else "io"
        store_errors[self.kind] += 1


class ErasedMeanwhile(RuntimeError):
    """The user was erased after this write started (its epoch is stale): nothing was written."""


class NeverPublished(LookupError):
    """The page has no history at all (archive of a page never published): nothing changed.
    A LookupError, not a KeyError: callers catch it by name, never a stray KeyError."""

    def __init__(self, page: str) -> None:
        super().__init__(f"page {page!r} was never published")
        self.page = page


class TemplateRecord(msgspec.Struct, frozen=True):
    """One immutable published version of a page template."""

    page: str
    version: str
    document: bytes  # the template as canonical JSON
    author: str
    message: str
    created: float  # Unix seconds
    seq: int  # publication order within the page, 1-based
    source: str = ""  # "files": published from a template file (layouts/ or `publish FILE`)
    # The experiment's bucket allocation this entry serves (`engine.allocation`, encoded; b"":
    # no experiment, or stored before bucketing scheme 3: `store.allocations` reads it as the
    # initial one). Made by the publish from the entry it follows, in the same transaction.
    allocation: bytes = b""


class Rollout(msgspec.Struct, frozen=True):
    """A staged rollout: `version` (the newest history entry) is live for `percent`% of users,
    sticky by a hash of (page, user); everyone else, anonymous callers included until 100%,
    gets `previous`."""

    page: str
    version: str
    previous: str
    percent: int  # 1..100
    author: str
    started: float  # Unix seconds
    updated: float


class Archived(msgspec.Struct, frozen=True):
    """A page taken down: clients get 404, its history stays; a publish restores it."""

    page: str
    author: str
    created: float


class PageState(msgspec.Struct, frozen=True):
    """One page as stored: its newest history entry, whether it is archived, and its rollout
    (with the record of the version the others keep)."""

    head: TemplateRecord
    archived: Archived | None = None
    rollout: Rollout | None = None
    previous: TemplateRecord | None = None


RunningRollout = Literal["refuse", "abort", "promote"]
SegmentInvalidation = Literal["users", "none", "all"]


class PublishOptions(msgspec.Struct, frozen=True):
    """Preconditions and staging of one publish (or rollback), checked atomically in the store.

    `base`: the versions the caller edited (If-Match); the newest entry must be one of them,
    else StaleBase. None: no check (`If-Match: *`, or no precondition given).
    `rollout`: percent 1..99 stages the new version for that share of users; None or 100 makes
    it live for everyone. `running`: what to do with a rollout already running: `refuse`
    (RolloutRunning), `abort` it first, or `promote` it first.
    """

    base: tuple[str, ...] | None = None
    rollout: int | None = None
    running: RunningRollout = "refuse"
    source: str = ""


class TemplateConflict(Exception):
    """A template write refused because of the page's state; nothing changed (409)."""

    code = "conflict"
    field: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StaleBase(TemplateConflict):
    """The caller's base version is not the newest entry any more."""

    code = "stale_base"
    field = "base_version"

    def __init__(self, page: str, base: tuple[str, ...], live: TemplateRecord | None) -> None:
        now = live.version if live is not None else "none"
        super().__init__(
            f"page {page!r} changed since version {', '.join(base)}: the live version is {now}"
        )
        self.base = base
        self.live = live


class RolloutRunning(TemplateConflict):
    """A publish while a rollout runs, without saying what to do with it."""

    code = "rollout_running"
    field = "rollout_conflict"

    def __init__(self, rollout: Rollout) -> None:
        super().__init__(
            f"version {rollout.version} of {rollout.page!r} is rolling out to "
            f"{rollout.percent}% of users; promote or abort it first, or publish with "
            '"rollout_conflict": "promote" or "abort"'
        )
        self.rollout = rollout


class NoRollout(TemplateConflict):
    """Rollout, promote or abort on a page with no rollout running, or a staged publish with
    no version for the others to keep."""

    code = "no_rollout"
    field = "rollout"


class DraftRecord(msgspec.Struct, frozen=True):
    """A designer's unpublished edit of a page: the editor's text as typed (maybe invalid)."""

    author: str  # the designer's user id
    page: str
    text: str
    base_version: str  # the live version the draft started from
    updated: float  # Unix seconds


class Invalidation(msgspec.Struct, frozen=True, array_like=True):
    """What changed: `template` (key = page), `user` (key = user id), `revocation` (key = the
    `Revocation` as JSON, so every process applies it without a store read) or `all`."""

    kind: Literal["template", "user", "revocation", "all"]
    key: str = ""


Listener = Callable[[Invalidation], None]


class InvalidationSource(Protocol):
    """How a store tells this process what changed.

    Contract for every write below that changes a layout input (settings, events, segments,
    erasure, publish): after it commits, the store calls this process's listeners once per
    Invalidation, synchronously, before the write returns; other processes sharing the store
    receive the same Invalidations (at most once; a resubscription delivers `all`). Callers
    never invalidate their own caches by hand.
    """

    def add_listener(self, listener: Listener) -> None:
        """Call `listener` for every invalidation, from this process or another one."""

    def poll(self) -> None:
        """Cheap, synchronous: deliver invalidations other processes wrote (hot path)."""

    @property
    def subscribed(self) -> bool:
        """True while other processes' invalidations reach this one (readiness)."""

    @property
    def invalidation_counts(self) -> Mapping[tuple[str, str], int]:
        """(direction, kind) -> invalidations so far: `sent` by this process's writes,
        `received` from other processes (`uiserver_invalidations_total`)."""


class UserExport(msgspec.Struct, frozen=True):
    """Everything stored about a user (`GET /v1/me/data`), the same shape from both backends.

    `settings` is null when none were stored (defaults apply); affinity scores are as of
    `affinities_updated` (Unix seconds); activity days are UTC day numbers; `last_order`:
    page -> the component ids last served; `computed_segments`: the segments the activity
    counters give today (filled by `users.data`, which knows the policy and the day);
    `event_ids`: how many event ids are remembered (as hashes, for 7 days: `store.event_ids`).
    """

    user_id: str
    settings: Settings | None
    affinities: dict[str, float]
    affinities_updated: float | None
    evidence: float
    last_event: float | None
    segments: list[str]
    activity: Activity | None
    last_order: dict[str, list[str]]
    created: float | None
    updated: float | None
    computed_segments: list[str] = msgspec.field(default_factory=list)
    # How many event ids the store remembers for the user (8-byte hashes, `store.event_ids`).
    event_ids: int = 0


class UserStore(Protocol):
    """Everything stored about users: settings, affinities, segments, last orders."""

    async def get_profile(self, user_id: str) -> Profile:
        """The engine's view of the user (with its erasure `epoch`); defaults for a user never
        seen."""

    async def erasure_epoch(self, user_id: str) -> int:
        """The user's erasure epoch now: a write that starts now carries it."""

    async def get_settings(self, user_id: str) -> Settings:
        """Exactly what was stored, or defaults for a new user."""

    async def put_settings(
        self, user_id: str, settings: Settings, epoch: int | None = None
    ) -> None:
        """Replace the user's settings. Invalidates the user. Raises ErasedMeanwhile."""

    async def update_settings(
        self, user_id: str, update: Callable[[Settings], Settings], epoch: int | None = None
    ) -> Settings:
        """Read, `update` and write the settings in one transaction (a merge patch); returns
        what was stored. Invalidates the user. Raises ErasedMeanwhile."""

    async def record_events(
        self, user_id: str, events: Sequence[Event], now: float, epoch: int | None = None
    ) -> int:
        """`record_batch` without conversions: how many events were stored."""

    async def record_batch(
        self,
        user_id: str,
        events: Sequence[Event],
        now: float,
        epoch: int | None = None,
        conversions: Attribution | None = None,
        served: ServedCheck | None = None,
    ) -> Recorded:
        """Fold a batch into affinities (with decay) and activity counters, in one transaction
        with the user's seen event ids (`store.event_ids`): an event whose id was stored before
        (or earlier in the batch) is a duplicate and changes nothing; the others' ids are
        remembered. `conversions(fresh events)` gives the experiment conversions of the events
        folded, counted in the same transaction (as `ActivityStore.record_conversions`), so a
        resent batch or transaction counts nothing twice. Nothing is stored when the stored
        settings turn personalization off. Invalidates the user when it stored any and
        `served((affinity, activity) before, (affinity, activity) after)` says the user may be
        served differently (always, when `served` is None). Raises ErasedMeanwhile."""

    async def set_last_order(
        self, user_id: str, page: str, order: Sequence[str], epoch: int | None = None
    ) -> None:
        """Remember the order last served (stability across launches). No invalidation: it is a
        consequence of the cached layout, not an input that changes it. Raises
        ErasedMeanwhile."""

    async def put_segments(
        self,
        assignments: Sequence[tuple[str, Sequence[str]]],
        invalidation: SegmentInvalidation = "users",
    ) -> int:
        """Replace the segments of each user named, in one transaction; returns how many users
        were written. `invalidation`: "users" invalidates each user (past
        BULK_INVALIDATION_USERS: one `all`); "none" nothing (a batch of a larger import);
        "all" one `all`, even for no assignments (the end of a batched import)."""

    async def export_user(self, user_id: str) -> UserExport:
        """Everything stored about the user, as a JSON-able document."""

    async def erase_user(self, user_id: str) -> None:
        """Delete everything about the user and move their erasure epoch on, in one
        transaction; nothing naming the user stays on disk (SQLite) or in the dataset (Redis;
        see docs/DEPLOY.md for AOF/RDB files). Invalidates the user."""


class Exposure(msgspec.Struct, frozen=True, array_like=True):
    """A user served a variant on a day; `mark`: remember it in the user's counters (users whose
    events are stored), so it is counted exactly once and their conversions count for that
    variant. `at`: when it was served (Unix seconds; 0: the start of `day`), `cohort`: the
    user's cohort then (`engine.activity.COHORTS`)."""

    experiment: str
    variant: str
    day: int
    user_id: str
    mark: bool
    epoch: int = 0  # the user's erasure epoch when served: a stale one writes no marker
    at: float = 0.0
    cohort: str = ""
    new_user_days: int = 7  # the policy's, for a cohort whose stage the store decides

    def served_at(self) -> float:
        return self.at if self.at > 0 else self.day * 86_400.0


class Conversion(msgspec.Struct, frozen=True, array_like=True):
    """A convert event on a page running `experiment`, at `ts` (the event's time, Unix seconds),
    worth `value`; the store attributes it by the user's exposure markers
    (`engine.activity.attribute`)."""

    experiment: str
    ts: float
    value: float = 0.0
    # Its identity: the event's id, else one made when it arrived (`users.events`); the same
    # key applied twice within `engine.activity.HOLD_S` counts once.
    key: str = ""


# The experiment conversions of the events a batch folds (`users.events`).
Attribution = Callable[[Sequence[Event]], Sequence[Conversion]]
# Whether a batch changes what the user may be served: (affinity, activity) before and after
# (`engine.served_inputs.changes_served`, bound to the time and policy by `users.events`).
ServedCheck = Callable[[tuple[Affinity, Activity | None], tuple[Affinity, Activity | None]], bool]


class ActivityStore(Protocol):
    """Per-user activity counters (in the user's own row/hash: erased with the user) and the
    experiment counts (no user id: exact integers per (experiment, variant, day, cohort),
    HyperLogLog sketches)."""

    async def record_activity(
        self, launches: Mapping[str, tuple[int, int, int]], exposures: Sequence[Exposure]
    ) -> None:
        """Fold launches (user -> (day, count, erasure epoch when served)) into counters, add
        exposures to the variant's day sketch, and for marking ones write the marker and count
        the user's first exposure to the variant exactly (in the same transaction, so a resent
        transaction counts nothing twice), settling conversions held for it. A user erased
        since (stale epoch) gets no counters and no marker. Invalidates each user whose
        counters changed (one message per user, never `all`)."""

    async def record_conversions(self, user_id: str, conversions: Sequence[Conversion]) -> int:
        """Attribute conversions by the user's markers (`engine.activity.attribute`): counted
        for each variant exposed before them, ignored when dated before the first exposure,
        held when no marker is written yet; returns how many counted now."""

    async def experiment_counts(
        self, experiment: str, variants: Sequence[str], cohort: str | None = None
    ) -> list[VariantCounts]:
        """The counts of each variant over every day recorded, in the order given; `cohort`
        (a cell of `engine.activity.COHORTS` or one dimension's value: `elderly`, `standard`,
        `new`, `returning`) counts only users first exposed to the variant in it (exact
        counts only; users with personalization off are in no cohort). Read off the event
        loop where the backend blocks."""

    async def experiment_version(self, experiment: str) -> int:
        """A number that changes whenever the experiment's counts change (on every replica):
        a readout cached under it is current while it is unchanged."""


class TelemetryStore(Protocol):
    """What renderers measured, as counters (`engine.telemetry`): impressions, clicks and
    render errors per (page, template version, component, mode). No user id anywhere: erasure
    has nothing to delete here. Bounded by what was published (the caller checks each key
    against the live pages, `users.events`)."""

    async def add_counts(self, counts: Mapping[CounterKey, int]) -> None:
        """Add each count to its counter, in one transaction. Counters only grow."""

    async def component_counts(
        self, page: str, version: str | None = None
    ) -> list[ComponentCounts]:
        """The page's counters (only `version`'s when given): one row per (version, component,
        mode) with its impressions, clicks and render errors, sorted by (version, component,
        mode); [] when nothing was counted. Render errors per version (a rollout guardrail's
        arms): `engine.telemetry.render_errors(rows)`."""


class RegistryFull(RuntimeError):
    """`CapabilityStore.register_types` past `MAX_TYPE_LISTS` lists: nothing stored."""


MAX_TYPE_LISTS = 10_000  # type lists remembered (each at most the catalogue's size)
MAX_RENDERERS_A_DAY = 256  # renderer versions counted a day; later ones count as `other`


class CapabilityStore(Protocol):
    """What clients can draw (`engine.capability`): type lists clients registered by hash,
    operators' kill switches, and launches per renderer version a day. No user id anywhere."""

    async def register_types(self, digest: str, types: frozenset[str]) -> None:
        """Remember the drawable types (catalogue types only) of a client's list by its hash;
        idempotent. RegistryFull past MAX_TYPE_LISTS."""

    async def registered_types(self, digest: str) -> frozenset[str] | None:
        """The types registered under the hash, or None."""

    async def kill_switches(self) -> list[KillSwitch]:
        """Every kill switch, by type."""

    async def put_kill_switch(self, switch: KillSwitch) -> None:
        """Create or replace the type's switch (one per type). Invalidates `all`: every
        replica reloads the switches and no cached body keeps the type."""

    async def delete_kill_switch(self, type_name: str) -> bool:
        """Lift the type's switch; whether there was one. Invalidates `all` when it was."""

    async def note_renderers(self, day: int, launches: Mapping[str, int]) -> None:
        """Add launches per renderer version (`MAJOR.MINOR.PATCH`) on `day` (UTC day number);
        past MAX_RENDERERS_A_DAY versions in a day, the rest add to `other`."""

    async def renderers(self, since_day: int) -> dict[str, int]:
        """Launches per renderer version from `since_day` on."""


class TemplateStore(Protocol):
    """Append-only template history per page; the newest entry is live."""

    async def publish(
        self,
        page: str,
        version: str,
        document: bytes,
        author: str,
        message: str,
        now: float,
        options: PublishOptions | None = None,
    ) -> PageState:
        """Append a new version and make it live (or stage it, `options.rollout`), atomically
        with the checks of `options`; the page as this write left it (`head`: the version
        published). Republishing the live version (no rollout running, not archived) is a no-op
        returning it; a known version with other content raises ValueError; StaleBase (checked
        first, even when the content is the live version), RolloutRunning, NoRollout change
        nothing. Publishing an archived page restores it. Invalidates the page when it wrote.

        Every write method here answers from the state its own transaction produced, never
        from a read after it: another replica may change the page between the commit and the
        answer."""

    async def live(self) -> dict[str, TemplateRecord]:
        """The newest entry of every page that is not archived."""

    async def live_template(self, page: str) -> TemplateRecord | None:
        """The newest entry of the page, or None (never published, or archived)."""

    async def states(self, page: str | None = None) -> dict[str, PageState]:
        """Every page with a history (archived ones too), or only `page`: one snapshot."""

    async def set_rollout(self, page: str, percent: int, author: str, now: float) -> PageState:
        """Widen or narrow the running rollout (percent 1..100); the page after it. NoRollout
        when none runs, NeverPublished when the page has no history. Invalidates the page."""

    async def end_rollout(
        self,
        page: str,
        outcome: Literal["promote", "abort"],
        author: str,
        now: float,
        message: str = "",
    ) -> PageState:
        """End the running rollout: `promote` keeps the new version for everyone, `abort`
        republishes the previous one (a new history entry, with `message` if given). The page
        after it (`head`: the live record); NoRollout when none runs, NeverPublished when the
        page has no history. Invalidates the page."""

    async def archive(self, page: str, author: str, now: float) -> PageState:
        """Archive the page (ends a running rollout); idempotent. The page after it
        (`archived` set: this write's marker, or the earlier one). NeverPublished when the
        page has no history. Invalidates the page."""

    async def get_version(self, page: str, version: str) -> TemplateRecord | None:
        """The newest history entry of that version (a rollback repeats a version), or None."""

    async def history(self, page: str) -> list[TemplateRecord]:
        """Every version of the page, newest first."""


class AuditHook(Protocol):
    """The audit entry of one template write, for a store that writes it in the write's own
    transaction (`AtomicAuditTemplates.audited`): `entry` is called inside that transaction with the
    page before and after the write (None: nothing to record; it may raise, which undoes the
    write), and `stored` after the commit with the entry as appended (its `id` set)."""

    def entry(self, before: PageState | None, after: PageState) -> AuditEntry | None: ...

    def stored(self, entry: AuditEntry) -> None: ...


class AtomicAuditTemplates(Protocol):
    """A `TemplateStore` that can append an act's audit entry in the act's own transaction
    (SQLite; Redis cannot: `audit.acts` appends right after the write)."""

    def audited(self, hook: AuditHook) -> TemplateStore:
        """This store with each write appending `hook`'s entry in the write's transaction
        (both commit or neither does)."""
        ...


class ScheduleRow(msgspec.Struct, frozen=True):
    """A rollout schedule as stored: `document` is the schedule itself (encoded by
    `publishing.rollouts`; the store never reads it), `rev` its revision (every update is a
    compare-and-set on it), `active` whether it still claims its page (one active schedule per
    page: a second is a conflict)."""

    page: str
    id: str
    rev: int
    active: bool
    created: float  # Unix seconds
    document: bytes


class ScheduleStore(Protocol):
    """Rollout schedules (`publishing.rollouts`), shared by every replica. Exactly one replica
    acts on each step because every change is a compare-and-set on the stored revision, in one
    transaction (SQLite) or one script (Redis). At most `SCHEDULES_KEPT` schedules are kept per
    page (the oldest inactive ones are forgotten)."""

    async def create_schedule(self, row: ScheduleRow) -> ScheduleRow | None:
        """Store `row` (rev 1, active) as the page's active schedule; None when stored, else
        the page's active schedule that refused it (nothing stored)."""

    async def update_schedule(self, row: ScheduleRow, expect_rev: int) -> bool:
        """Replace the schedule `row.id` of `row.page` when its stored revision is
        `expect_rev`; False (nothing stored) when another write came first or it is unknown.
        An inactive row frees its page."""

    async def schedules(self, page: str | None = None) -> list[ScheduleRow]:
        """The page's schedules, newest first; without a page, every active schedule."""


SCHEDULES_KEPT = 20


class DraftStore(Protocol):
    """Designers' drafts, one per (designer, page); kept apart from users' data."""

    async def put_draft(self, draft: DraftRecord) -> None:
        """Create or replace the draft of (draft.author, draft.page)."""

    async def get_draft(self, author: str, page: str) -> DraftRecord | None: ...

    async def delete_draft(self, author: str, page: str) -> bool:
        """Discard the draft; whether there was one."""

    async def drafts(self, author: str) -> list[DraftRecord]:
        """Every draft of the designer, by page."""


class Revocation(msgspec.Struct, frozen=True):
    """A revocation of tokens. `kind` `subject`: every token of the subject `value` (its `sub`)
    issued before `not_before` (its `iat`; a token without `iat` cannot show it was issued
    after, so it is refused while the revocation lasts). `kind` `jti`: the one token whose `jti`
    is `value`. `expires`: when no token it refuses can be valid any more (Unix seconds), so the
    record can be forgotten."""

    kind: Literal["subject", "jti"]
    value: str
    not_before: float  # Unix seconds: when the revocation was made
    expires: float
    author: str = ""


class RevocationStore(Protocol):
    """Revocations, shared by every process on the store: each write invalidates with the
    revocation itself (`Invalidation("revocation", key)`), so other processes apply it from the
    message."""

    async def revoke(self, revocation: Revocation) -> Revocation:
        """Store it (a subject's newer not-before replaces an older one; never moves back) and
        forget expired ones; returns what is stored now for that subject or jti."""

    async def revocations(self, now: float) -> list[Revocation]:
        """Every revocation that has not expired at `now`."""


class SessionRecord(msgspec.Struct, frozen=True):
    """A designer console session, as stored. `id_hash` is the SHA-256 (hex) of the cookie's
    random value: the value itself is never stored, so a copy of the store opens no session.
    A sign-in starts a `family`; rotation issues a new id in the same family (the old one stays
    usable `grace` seconds after `replaced`, for requests already in flight), and logout ends
    the whole family. The token it was opened with is not stored, only its `iat` and `jti`
    (revocations of the token end the session too)."""

    id_hash: str
    family: str
    subject: str
    role: str
    csrf: str  # the seed of the forms' synchronizer token; kept across rotation
    token_iat: float | None
    token_jti: str
    created: float  # sign-in, Unix seconds
    issued: float  # when this id was issued
    last_seen: float
    expires: float  # the absolute end
    replaced: float = 0.0  # when a newer id of the family replaced this one (0: current)


class SessionStore(Protocol):
    """Console sessions, shared by every process on the store (no invalidation: every console
    request reads its session from the store, so a logout on one replica ends it everywhere)."""

    async def create_session(self, record: SessionRecord, now: float) -> None:
        """Store a new session (and forget expired ones)."""

    async def get_session(self, id_hash: str) -> SessionRecord | None: ...

    async def touch_session(self, id_hash: str, last_seen: float) -> None:
        """Record activity (the idle timeout counts from `last_seen`)."""

    async def rotate_session(self, old: SessionRecord, new: SessionRecord, now: float) -> bool:
        """Mark `old` replaced at `now` and store `new` in its family, atomically; False (and
        nothing stored) when `old` was replaced or ended meanwhile."""

    async def end_family(self, family: str) -> int:
        """End every session of the family (logout); how many there were."""


class AuditEntry(msgspec.Struct, frozen=True):
    """One administrative act as the audit log keeps it (`uiserver.audit`).

    `id`: monotonic per store (1, 2, ...; 0 before it is appended). `time`: Unix seconds.
    `actor`: the operator's token subject (designer or admin), or a fixed name for acts no
    operator made (`layouts/`, `scheduler`, `user` for an end user's own erasure: never an
    end user's id).
    `act`: what was done (`template.publish`...). `page`: the page it changed, "" for none.
    `before`, `after`, `details`: small JSON objects (versions, percents, counts, a diff
    summary), never an end user's id."""

    id: int
    time: float
    actor: str
    act: str
    page: str = ""
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class AuditQuery(msgspec.Struct, frozen=True):
    """Which entries to read, newest first: ids below `before` (0: from the newest), at most
    `limit`, each filter that is set matching exactly (`since` <= time < `until`, seconds)."""

    limit: int = 50
    before: int = 0
    page: str | None = None
    act: str | None = None
    actor: str | None = None
    since: float | None = None
    until: float | None = None

    def matches(self, entry: AuditEntry) -> bool:
        return (
            (self.page is None or entry.page == self.page)
            and (self.act is None or entry.act == self.act)
            and (self.actor is None or entry.actor == self.actor)
            and (self.since is None or entry.time >= self.since)
            and (self.until is None or entry.time < self.until)
        )


class AuditPage(msgspec.Struct, frozen=True):
    """A page of entries, newest first; `next`: the `before` of the following page (None: no
    older entry is left to look at). Fewer than `limit` entries with a `next` happen when a
    backend stopped scanning (Redis: `AUDIT_SCAN` entries a request)."""

    entries: list[AuditEntry]
    next: int | None


class AuditStore(Protocol):
    """The audit log: append-only, ids monotonic per store, pruned by age. No user id is
    ever in it, so erasure never looks at it."""

    async def append(self, entry: AuditEntry) -> AuditEntry:
        """Store the entry under the next id (its `id` is ignored); the entry as stored."""

    async def entries(self, query: AuditQuery) -> AuditPage:
        """Entries matching the query, newest first."""

    async def after(self, after_id: int, limit: int) -> list[AuditEntry]:
        """Up to `limit` entries with ids above `after_id`, oldest first (webhook delivery)."""

    async def last_id(self) -> int:
        """The id of the newest entry ever appended (0: none)."""

    async def prune(self, older_than: float) -> int:
        """Delete the entries dated before `older_than` (Unix seconds); how many."""


class Webhook(msgspec.Struct, frozen=True):
    """An operator's webhook and its delivery state (`uiserver.audit.webhooks`).

    `format`: `json` (signed, `uiserver.audit.formats`), `wecom`, `feishu`, `dingtalk` (chat
    robots). `secret`: the HMAC key (json, feishu and dingtalk signing). `acts`, `pages`:
    only these (empty: all). `cursor`: the id of the last audit entry dealt with (delivered
    or not matching); `attempts`, `next_at`, `last_error`: the entry after it failing;
    `owner`, `lease_until`: the replica delivering it until then (Unix seconds)."""

    id: str
    url: str
    format: str
    secret: str
    created: float
    author: str
    acts: tuple[str, ...] = ()
    pages: tuple[str, ...] = ()
    cursor: int = 0
    attempts: int = 0
    next_at: float = 0.0
    last_error: str = ""
    delivered: int = 0  # entries delivered since it was made
    owner: str = ""
    lease_until: float = 0.0


class Progress(msgspec.Struct, frozen=True):
    """A hook's delivery progress, recorded by `WebhookStore.progress`: its `cursor` (the last
    audit entry id handled; never moved back), entries `delivered` more, and the failure state
    of the next one (`attempts` failed so far, retried at `next_at`, Unix seconds; why:
    `last_error`, kept to 500 characters)."""

    cursor: int
    delivered: int
    attempts: int = 0
    next_at: float = 0.0
    last_error: str = ""


class WebhookStore(Protocol):
    """Registered webhooks with their cursor into the audit log (the outbox: what is after
    the cursor is still to deliver, so nothing is lost across restarts) and a lease per hook
    (one replica delivers it at a time)."""

    async def add_hook(self, hook: Webhook) -> None:
        """Store a new hook (its id is new)."""

    async def hooks(self) -> list[Webhook]:
        """Every hook, by creation time."""

    async def delete_hook(self, hook_id: str) -> bool:
        """Forget the hook; whether there was one."""

    async def lease(self, hook_id: str, owner: str, now: float, ttl: float) -> Webhook | None:
        """Take or renew the hook's lease for `owner` until `now + ttl` when it is free,
        expired or already `owner`'s; the hook as leased, or None (another replica holds it,
        or the hook is gone)."""

    async def progress(self, hook_id: str, owner: str, step: Progress) -> bool:
        """Record delivery progress (`Progress`) while `owner` holds the lease. False (nothing
        written) when the lease was lost or the hook is gone."""


class Store(InvalidationSource, Protocol):
    """A backend: lifecycle and invalidation, and one object per role. Each backend builds its
    roles the same way (`store/sqlite/`, `store/redis/`: one module per role), and the
    composition root hands each part of the server only the role it needs. Every async method
    raises StoreUnavailable when the backing service cannot be reached."""

    @property
    def users(self) -> UserStore: ...

    @property
    def activity(self) -> ActivityStore: ...

    @property
    def templates(self) -> TemplateStore: ...

    @property
    def telemetry(self) -> TelemetryStore: ...

    @property
    def capabilities(self) -> CapabilityStore: ...

    @property
    def drafts(self) -> DraftStore: ...

    @property
    def sessions(self) -> SessionStore: ...

    @property
    def revocations(self) -> RevocationStore: ...

    @property
    def audit(self) -> AuditStore: ...

    @property
    def webhooks(self) -> WebhookStore: ...

    @property
    def schedules(self) -> ScheduleStore: ...

    async def open(self) -> None:
        """Connect / create tables; idempotent."""

    async def close(self) -> None: ...

    async def ping(self) -> bool:
        """True when the store answers (readiness)."""

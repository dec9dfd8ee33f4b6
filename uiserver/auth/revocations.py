"""Revoked tokens, as this process knows them: checked on every use of a token, in memory.

The store holds the revocations (`store.base.RevocationStore`); every process keeps all of them
that have not expired in two dicts (subject -> not-before, jti -> expiry), so the check a
request pays is two dict lookups and no store round trip. They stay current through the store's
invalidations: a revocation's own message (`Invalidation("revocation", <record as JSON>)`,
SQLite's change log read by `poll()`, Redis pub/sub) is applied as it arrives, and `all` (a
resubscription after messages may have been lost, a pruned change log) reloads the whole set
in the background. `refuses` calls the store's `poll()` first (rate-limited, ~3.5 us on SQLite,
nothing on Redis), so a revocation written by another process is seen by the next request.

How long a revocation is kept: no token it refuses can still be valid after
`not_before + longest lifetime + leeway` (a token issued before `not_before` expires by then),
so the record is forgotten at that time (`expiry`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import msgspec

from uiserver.auth.tokens import JTI_MAX, Identity, Lifetimes
from uiserver.datastructures import Generation
from uiserver.store.base import Invalidation, Revocation, StoreUnavailable
from uiserver.tasks import check_cancelled, stop
from uiserver.users.ids import user_id_problem

log = logging.getLogger("uiserver.auth")
_decode = msgspec.json.Decoder(Revocation).decode
RETRY_S = 1.0  # a failed reload is tried again after this long


def expiry(not_before: float, lifetimes: Lifetimes, leeway: float) -> float:
    """When a revocation made at `not_before` can be forgotten (Unix seconds)."""
    return not_before + lifetimes.longest + leeway


class Revocations:
    """This process's view of the revocations.

    revocations = Revocations(store.poll, lambda: store.revocations.revocations(time.time()))
    await revocations.reload()
    store.add_listener(revocations.heard)      # via Service.invalidate
    revocations.refuses(identity)              # on every use of a token
    """

    def __init__(
        self,
        poll: Callable[[], None] = lambda: None,
        load: Callable[[], Awaitable[list[Revocation]]] | None = None,
        generation: Generation | None = None,
    ) -> None:
        self._poll = poll
        self._load = load
        # Bumped whenever what is held changes (`apply`, `reload`, `forget`): the RSGI edge's
        # table of warm answers skips `refuses` and trusts an entry only while it is unchanged.
        self.generation = generation or Generation()
        self._subjects: dict[str, tuple[float, float]] = {}  # subject -> (not-before, expiry)
        self._jtis: dict[str, float] = {}  # jti -> expiry
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._subjects) + len(self._jtis)

    def refuses(self, who: Identity) -> bool:
        """Whether a revocation covers the token `who` came from: its subject's not-before is
        after its `iat` (or it has no `iat`), or its `jti` is revoked."""
        self._poll()
        if not (self._subjects or self._jtis):
            return False
        subject = self._subjects.get(who.user_id)
        if subject is not None and (who.iat is None or who.iat < subject[0]):
            return subject[1] >= time.time()  # an expired one refuses nothing any more
        until = self._jtis.get(who.jti) if who.jti else None
        return until is not None and until >= time.time()

    def not_before(self, subject: str) -> float | None:
        """The subject's not-before, or None."""
        known = self._subjects.get(subject)
        return None if known is None else known[0]

    def apply(self, revocation: Revocation) -> None:
        """Add one revocation (a later not-before, a later expiry wins)."""
        if revocation.kind == "subject":
            nb, until = self._subjects.get(revocation.value, (float("-inf"), 0.0))
            self._subjects[revocation.value] = (
                max(nb, revocation.not_before),
                max(until, revocation.expires),
            )
        else:
            self._jtis[revocation.value] = max(
                self._jtis.get(revocation.value, 0.0), revocation.expires
            )
        self.generation.bump()

    def snapshot(self) -> list[Revocation]:
        """What this process holds, as records."""
        held = [Revocation("subject", s, nb, until) for s, (nb, until) in self._subjects.items()]
        return held + [Revocation("jti", j, 0.0, until) for j, until in self._jtis.items()]

    async def reload(self) -> None:
        """Read every revocation from the store. Raises StoreUnavailable."""
        if self._load is None:
            return
        loaded = await self._load()
        # Messages heard while the read was in flight may be newer than what it read: keep
        # them (a revocation never moves back); expired ones go below.
        held = self.snapshot()
        self._subjects, self._jtis = {}, {}
        for revocation in (*loaded, *held):
            self.apply(revocation)
        self.forget(time.time())

    def forget(self, now: float) -> None:
        """Drop revocations past their expiry: no token they refuse can be valid any more."""
        self._subjects = {s: v for s, v in self._subjects.items() if v[1] >= now}
        self._jtis = {jti: until for jti, until in self._jtis.items() if until >= now}
        self.generation.bump()

    def heard(self, message: Invalidation) -> None:
        """The store listener: apply a revocation, or reload everything after `all`."""
        if message.kind == "revocation":
            try:
                self.apply(_decode(message.key))
            except msgspec.DecodeError:
                log.warning("undecodable revocation message: reloading every revocation")
                self._schedule_reload()
        elif message.kind == "all":
            self._schedule_reload()

    def _schedule_reload(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a command, a test): the next start reloads
            return
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._reload_until_done())

    async def _reload_until_done(self) -> None:
        while True:
            check_cancelled()  # a cancel a store call swallowed (`uiserver.tasks`)
            try:
                await self.reload()
                return
            except StoreUnavailable as exc:
                log.warning("reloading revocations failed (%s); retrying", exc)
                await asyncio.sleep(RETRY_S)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            await stop(task)  # cancelled again if a cancel is lost (uiserver.tasks)


class RevocationRefused(ValueError):
    """A revocation request that names nothing revocable; `field` says which input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def revocation(
    *,
    subject: str | None,
    jti: str | None,
    author: str,
    lifetimes: Lifetimes,
    leeway: float,
    now: float,
) -> Revocation:
    """The record of a revocation of every token of `subject` issued before `now`, or of the
    one token whose id is `jti` (exactly one of them). RevocationRefused for anything else."""
    if (subject is None) == (jti is None):
        raise RevocationRefused(
            "subject", "name exactly one of 'subject' (a user or designer id) or 'jti'"
        )
    if subject is not None:
        problem = user_id_problem(subject)
        if problem is not None:
            raise RevocationRefused("subject", problem)
        return Revocation("subject", subject, now, expiry(now, lifetimes, leeway), author)
    assert jti is not None
    if not jti or len(jti) > JTI_MAX or not jti.isprintable():
        raise RevocationRefused("jti", f"'jti' must be 1 to {JTI_MAX} printable characters")
    return Revocation("jti", jti, now, expiry(now, lifetimes, leeway), author)

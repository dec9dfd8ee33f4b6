"""Designer console sessions of their own: signing in with a token opens a server-side session,
and the browser holds only a random session id.

Why not the token in the cookie (as before): a copied cookie was the bearer token itself, so
logout could not end it, and the cookie lived as long as the token. Now (OWASP Session
Management Cheat Sheet; bounds from NIST SP 800-63B 4.2.3, AAL2: 30 minutes idle, 12 hours):

- the id is 32 random bytes (`secrets.token_urlsafe`); the store keeps its SHA-256 only, and
  neither the id nor the token it was opened with;
- a sign-in always issues a new id (a cookie set before sign-in is never adopted: session
  fixation), and so does a sign-in with another token (a change of role);
- the id is replaced every `rotate` seconds; the replaced id keeps working `GRACE_S` seconds for
  requests already in flight, then is refused;
- a session ends after `idle` seconds without a request (activity is written at most every
  `TOUCH_S` seconds, so the idle bound is exact to that), `absolute` seconds after sign-in, at
  the token's own `exp` (whichever is first), when the token's subject or `jti` is revoked, and
  at logout, which deletes every id of the sign-in from the store: a copied cookie stops working
  on every replica at once (each console request reads its session from the store).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from uiserver.auth.revocations import Revocations
from uiserver.auth.tokens import Identity
from uiserver.store.base import SessionRecord, SessionStore

GRACE_S = 30.0  # a replaced id still works this long (requests in flight, other tabs)
TOUCH_S = 60.0  # at most one activity write a minute per session (a quarter of a shorter idle)


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """Seconds: `idle` without a request, `absolute` after sign-in, `rotate` between ids."""

    idle: float = 1_800.0
    absolute: float = 12 * 3_600.0
    rotate: float = 900.0


class SessionEnded(Exception):
    """The cookie names no session that may be used (unknown, expired, idle, revoked, ended)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Resumed:
    """A session in use: its record, its identity, and the new cookie value when it rotated."""

    record: SessionRecord
    who: Identity
    new_id: str | None = None


def id_hash(session_id: str) -> str:
    """What the store keeps of a session id: its SHA-256, hex."""
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


def identity_of(record: SessionRecord) -> Identity:
    """The caller a session stands for (exp: the session's end)."""
    return Identity(record.subject, record.role, record.expires, record.token_iat, record.token_jti)


class ConsoleSessions:
    """Start, resume and end console sessions.

    sessions = ConsoleSessions(store.sessions, revocations, SessionPolicy())
    session_id, record = await sessions.start(who)        # set session_id as the cookie
    resumed = await sessions.resume(cookie_value)         # SessionEnded when it may not be used
    await sessions.end(resumed.record)                    # logout: every id of the sign-in
    """

    def __init__(
        self,
        store: SessionStore,
        revocations: Revocations,
        policy: SessionPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._revocations = revocations
        self.policy = policy or SessionPolicy()
        self._clock = clock

    async def start(self, who: Identity) -> tuple[str, SessionRecord]:
        """A new session for a verified designer or admin: (the cookie's value, the record).
        Raises StoreUnavailable."""
        now = self._clock()
        session_id = secrets.token_urlsafe(32)
        record = SessionRecord(
            id_hash=id_hash(session_id),
            family=secrets.token_hex(16),
            subject=who.user_id,
            role=who.role,
            csrf=secrets.token_hex(32),
            token_iat=who.iat,
            token_jti=who.jti,
            created=now,
            issued=now,
            last_seen=now,
            expires=min(now + self.policy.absolute, who.exp),
        )
        await self._store.create_session(record, now)
        return session_id, record

    async def resume(self, session_id: str, *, rotate: bool = True) -> Resumed:
        """The session a cookie value names, rotated when due (and `rotate`: a caller that
        cannot set a cookie on its answer passes False); SessionEnded when it may not be used
        (and then it is ended in the store). Raises StoreUnavailable."""
        if not session_id or len(session_id) > 256:
            raise SessionEnded("sign in again")
        record = await self._store.get_session(id_hash(session_id))
        if record is None:
            raise SessionEnded("your session has ended (signed out, expired or unknown)")
        now = self._clock()
        problem = self._problem(record, now)
        if problem is not None:
            await self._store.end_family(record.family)
            raise SessionEnded(problem)
        if record.replaced:
            return Resumed(record, identity_of(record))  # within its grace: no rotation
        if rotate and now - record.issued >= self.policy.rotate:
            new_id = secrets.token_urlsafe(32)
            new = msgspec.structs.replace(
                record, id_hash=id_hash(new_id), issued=now, last_seen=now, replaced=0.0
            )
            if await self._store.rotate_session(record, new, now):
                return Resumed(new, identity_of(new), new_id)
        elif now - record.last_seen >= min(TOUCH_S, self.policy.idle / 4):
            await self._store.touch_session(record.id_hash, now)
        return Resumed(record, identity_of(record))

    def _problem(self, record: SessionRecord, now: float) -> str | None:
        """Why the session may not be used now, or None."""
        if now >= record.expires:
            return "your session has expired; sign in again"
        if now - record.last_seen > self.policy.idle:
            return "your session ended after a time without activity; sign in again"
        if record.replaced and now - record.replaced > GRACE_S:
            return "this session id was replaced by a newer one; sign in again"
        if self._revocations.refuses(identity_of(record)):
            return "the token this session was opened with has been revoked; sign in again"
        return None

    async def end(self, record: SessionRecord) -> None:
        """Logout: every id of the sign-in, on every replica. Raises StoreUnavailable."""
        await self._store.end_family(record.family)

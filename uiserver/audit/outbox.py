"""Webhook delivery from the audit log: the log is the outbox.

Each hook keeps a cursor (the id of the last entry it dealt with) in the store; what lies after
it is still to deliver, so a restart, a crash or another replica taking over loses nothing.
One replica delivers a hook at a time: it holds the hook's lease (`LEASE_S`, renewed before
each entry; the store checks it in the write that moves the cursor). Entries go out one at a
time in id order, so a page's acts arrive in the order they happened; the cursor moves only
after the receiver answered 2xx (a robot: 2xx with error code 0), so delivery is at least
once (a receiver deduplicates on `X-Uiserver-Delivery`). A failure stops the hook where it
is and retries that entry after `backoff(attempts)`: 1, 2, 4, ... seconds, at most
`MAX_BACKOFF_S`, kept in the store (a restart keeps the schedule), for as long as the entry
is kept (the audit log's retention). Other hooks are not held up by a failing one.

Outgoing HTTP: httpx, `timeout` seconds per attempt (connect, read, write, pool), no
redirects followed, at most `ANSWER_MAX` bytes of an answer read, the address checked before
every attempt (`webhooks.check_address`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import ssl
import time
from collections.abc import Callable

import httpx
import msgspec

from uiserver.audit import formats
from uiserver.audit.webhooks import WebhookRefused, check_address, matches
from uiserver.store.base import (
    AuditEntry,
    AuditStore,
    Progress,
    StoreUnavailable,
    Webhook,
    WebhookStore,
)
from uiserver.tasks import check_cancelled

log = logging.getLogger("uiserver")

# A hook's lease (seconds): longer than one attempt (`timeout`) with room to spare; how long
# a crashed replica's hooks wait before another takes them over (a stopped one hands them on).
LEASE_S = 30.0
POLL_S = 1.0  # how often a process looks for entries other processes appended
BATCH = 50  # entries read per hook per round
MAX_BACKOFF_S = 600.0
ANSWER_MAX = 64 * 1024


def backoff(attempts: int) -> float:
    """Seconds before attempt `attempts + 1` of an entry: 1, 2, 4, ... up to MAX_BACKOFF_S."""
    return float(min(MAX_BACKOFF_S, 2.0 ** max(0, attempts - 1)))


class Outbox:
    """Delivers every hook's pending entries; `run()` until cancelled, `wake()` on a new
    entry. `clock` (Unix seconds) is injectable in tests."""

    def __init__(
        self,
        hooks: WebhookStore,
        audit: AuditStore,
        *,
        allow_private: bool = False,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        poll: float = POLL_S,
    ) -> None:
        self.hooks = hooks
        self.audit = audit
        self.allow_private = allow_private
        self.timeout = timeout
        self.clock = clock
        self.poll = poll
        self.owner = f"outbox-{secrets.token_hex(6)}"  # this process, for leases
        self.sent = 0  # attempts that were delivered
        self.failed = 0  # attempts that failed
        self._woken: asyncio.Event | None = None  # made by `run`, on its loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._held: set[str] = set()  # hooks this process leased

    def wake(self, entry: AuditEntry | None = None) -> None:
        """A new entry: deliver now rather than at the next poll (from any thread or loop)."""
        woken, loop = self._woken, self._loop
        if woken is None or loop is None or loop.is_closed():
            return
        try:
            same = asyncio.get_running_loop() is loop
        except RuntimeError:
            same = False
        if same:
            woken.set()
        else:
            loop.call_soon_threadsafe(woken.set)

    async def run(self) -> None:
        """Deliver, then wait for a wake-up or `poll` seconds; until cancelled, when it
        gives up its leases (a server stopped gracefully hands its hooks over at once). A
        cancel a store call swallowed ends it at the next turn (`uiserver.tasks`)."""
        timeout = httpx.Timeout(self.timeout)
        woken = self._woken = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        try:
            async with httpx.AsyncClient(
                timeout=timeout, follow_redirects=False, verify=_tls()
            ) as client:
                while True:
                    check_cancelled()
                    woken.clear()
                    try:
                        await self.deliver(client)
                    except StoreUnavailable as exc:
                        log.warning("webhook delivery paused: the store is unavailable (%s)", exc)
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancel
                    # that comes with a wake-up (its future done, its task not yet resumed),
                    # and the shutdown that awaits this task then waits for ever.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.poll):
                            await woken.wait()
        finally:
            await self.release()

    async def release(self) -> None:
        """Give up the leases this process holds (a lease of 0 s: expired at once)."""
        for hook_id in sorted(self._held):
            with contextlib.suppress(StoreUnavailable):
                await self.hooks.lease(hook_id, self.owner, self.clock(), 0.0)
        self._held.clear()

    async def deliver(self, client: httpx.AsyncClient) -> int:
        """One round over every hook whose retry time has come; entries delivered."""
        done = 0
        for hook in await self.hooks.hooks():
            if hook.next_at <= self.clock():
                done += await self._drain(client, hook.id)
        return done

    async def _drain(self, client: httpx.AsyncClient, hook_id: str) -> int:
        """Deliver the hook's pending entries in order while this process holds its lease;
        stop at the first failure (its retry is scheduled)."""
        hook = await self.hooks.lease(hook_id, self.owner, self.clock(), LEASE_S)
        if hook is None or hook.next_at > self.clock():
            return 0
        self._held.add(hook.id)
        done = 0
        for entry in await self.audit.after(hook.cursor, BATCH):
            if not matches(hook, entry.act, entry.page):
                await self.hooks.progress(hook.id, self.owner, Progress(entry.id, 0))
                continue
            renewed = await self.hooks.lease(hook.id, self.owner, self.clock(), LEASE_S)
            if renewed is None:  # another replica took it over
                return done
            error = await self._send(client, hook, entry)
            if error is not None:
                attempts = hook.attempts + 1
                self.failed += 1
                log.warning(
                    "webhook %s: entry %d not delivered (attempt %d): %s",
                    hook.id,
                    entry.id,
                    attempts,
                    error,
                )
                retry = self.clock() + backoff(attempts)
                failure = Progress(hook.cursor, 0, attempts, retry, error)
                await self.hooks.progress(hook.id, self.owner, failure)
                return done
            self.sent += 1
            done += 1
            if not await self.hooks.progress(hook.id, self.owner, Progress(entry.id, 1)):
                return done
            hook = msgspec.structs.replace(hook, cursor=entry.id, attempts=0)
        return done

    async def _send(
        self, client: httpx.AsyncClient, hook: Webhook, entry: AuditEntry
    ) -> str | None:
        """Deliver one entry once; None when delivered, else why not."""
        try:
            await check_address(hook.url, self.allow_private)
        except WebhookRefused as exc:
            return exc.message
        request = formats.request_for(hook, entry, self.clock())
        try:
            async with client.stream(
                "POST", request.url, content=request.body, headers=request.headers
            ) as answer:
                body = b""
                async for chunk in answer.aiter_bytes():
                    body += chunk
                    if len(body) >= ANSWER_MAX:
                        break
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # InvalidURL is no HTTPError: a stored URL httpx cannot read (one registered
            # before `check_url` read URLs as httpx does) is this hook's failure, retried
            # with backoff; it never ends the delivery loop of every hook.
            return f"{type(exc).__name__}: {exc}"[:300]
        if not 200 <= answer.status_code < 300:
            return f"HTTP {answer.status_code}"
        return formats.robot_error(hook, body[:ANSWER_MAX])


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default verifying TLS context (the CA bundle, SSL_* settings), made once per
    process: building one reads the bundle, and every server start runs an outbox."""
    return httpx.create_ssl_context()

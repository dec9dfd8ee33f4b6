"""The webhook writes both backends make inside their transaction: take a lease, record
progress (pure functions of the hook as read; None: write nothing)."""

from __future__ import annotations

import msgspec

from uiserver.store.base import Progress, Webhook


def leased(hook: Webhook, owner: str, now: float, ttl: float) -> Webhook | None:
    """The hook leased to `owner` until `now + ttl`, or None when another owner's lease has
    not expired yet."""
    if hook.owner not in ("", owner) and hook.lease_until > now:
        return None
    return msgspec.structs.replace(hook, owner=owner, lease_until=now + ttl)


def progressed(hook: Webhook, owner: str, step: Progress) -> Webhook | None:
    """The hook with `step` recorded, or None when `owner` lost the lease. The cursor never
    moves back (another owner may have delivered further meanwhile)."""
    if hook.owner != owner:
        return None
    return msgspec.structs.replace(
        hook,
        cursor=max(hook.cursor, step.cursor),
        delivered=hook.delivered + step.delivered,
        attempts=step.attempts,
        next_at=step.next_at,
        last_error=step.last_error[:500],
    )

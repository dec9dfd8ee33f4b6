"""The webhook writes both backends make inside their transaction: take a lease, record
progress (pure functions of the hook as read; None: write nothing)."""

from __future__ import annotations

import msgspec

from uiserver.store.base import Webhook


def leased(hook: Webhook, owner: str, now: float, ttl: float) -> Webhook | None:
    """The hook leased to `owner` until `now + ttl`, or None when another owner's lease has
    not expired yet."""
    if hook.owner not in ("", owner) and hook.lease_until > now:
        return None
    return msgspec.structs.replace(hook, owner=owner, lease_until=now + ttl)


def progressed(
    hook: Webhook,
    owner: str,
    cursor: int,
    delivered: int,
    attempts: int,
    next_at: float,
    last_error: str,
) -> Webhook | None:
    """The hook with its progress recorded, or None when `owner` lost the lease. The cursor
    never moves back (another owner may have delivered further meanwhile)."""
    if hook.owner != owner:
        return None
    return msgspec.structs.replace(
        hook,
        cursor=max(hook.cursor, cursor),
        delivered=hook.delivered + delivered,
        attempts=attempts,
        next_at=next_at,
        last_error=last_error[:500],
    )

"""The store Protocol every backend implements, and the records it speaks in.

The engine never sees a store; the HTTP layer maps store records into engine Structs. Every write
that changes what a layout depends on emits an Invalidation to the listeners of every process
sharing the store (SQLite: a change log read when `PRAGMA data_version` moves; Redis: pub/sub),
so that caches drop exactly the affected entries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol

import msgspec

from uiserver.schema import Event, Profile, Settings


class StoreUnavailable(RuntimeError):
    """The backing service cannot be reached: reads may fall back, writes answer 503."""


class TemplateRecord(msgspec.Struct, frozen=True):
    """One immutable published version of a page template."""

    page: str
    version: str
    document: bytes  # the template as canonical JSON
    author: str
    message: str
    created: float  # Unix seconds
    seq: int  # publication order within the page, 1-based


class Invalidation(msgspec.Struct, frozen=True, array_like=True):
    """What changed: `template` (key = page), `user` (key = user id) or `all`."""

    kind: Literal["template", "user", "all"]
    key: str = ""


Listener = Callable[[Invalidation], None]


class Store(Protocol):
    """Profiles, settings, affinities, segments and template versions."""

    async def open(self) -> None:
        """Connect / create tables; idempotent."""

    async def close(self) -> None: ...

    async def ping(self) -> bool:
        """True when the store answers (readiness)."""

    def add_listener(self, listener: Listener) -> None:
        """Call `listener` for every invalidation, from this process or another one."""

    def poll(self) -> None:
        """Cheap, synchronous: deliver invalidations other processes wrote (hot path)."""

    # ---- users
    async def get_profile(self, user_id: str) -> Profile:
        """The engine's view of the user; defaults for a user never seen."""

    async def get_settings(self, user_id: str) -> Settings:
        """Exactly what was stored, or defaults for a new user."""

    async def put_settings(self, user_id: str, settings: Settings) -> None: ...

    async def record_events(self, user_id: str, events: Sequence[Event], now: float) -> int:
        """Fold events into affinities (with decay); returns how many were stored."""

    async def set_last_order(self, user_id: str, page: str, order: Sequence[str]) -> None:
        """Remember the order last served (stability across launches)."""

    async def put_segments(self, assignments: Sequence[tuple[str, Sequence[str]]]) -> int:
        """Replace the segments of each user named; returns how many users were written."""

    async def export_user(self, user_id: str) -> dict[str, Any]:
        """Everything stored about the user, as a JSON-able document."""

    async def erase_user(self, user_id: str) -> None:
        """Delete every row about the user."""

    # ---- templates
    async def publish(
        self, page: str, version: str, document: bytes, author: str, message: str, now: float
    ) -> TemplateRecord:
        """Append a new version and make it live, atomically."""

    async def live(self) -> dict[str, TemplateRecord]:
        """The live version of every page."""

    async def live_template(self, page: str) -> TemplateRecord | None: ...

    async def get_version(self, page: str, version: str) -> TemplateRecord | None: ...

    async def history(self, page: str) -> list[TemplateRecord]:
        """Every version of the page, newest first."""

"""Persistence behind one Protocol: SQLite (default, embedded) and Redis (scale-out)."""

from uiserver.store.base import (
    Invalidation,
    Store,
    StoreUnavailable,
    TemplateRecord,
)

__all__ = ["Invalidation", "Store", "StoreUnavailable", "TemplateRecord"]

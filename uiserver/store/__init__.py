"""Persistence behind one Protocol: SQLite (default, embedded) and Redis (scale-out).

`Store` = lifecycle + `InvalidationSource` + `UserStore` + `TemplateStore` (see `base`).
Backends: `sqlite` (+ `sqlite_changes`, `sqlite_templates`), `redis` (+ `redis_pubsub`,
`redis_templates`, `redis_errors`); `open_store` in `factory` picks one from a URL.
"""

from uiserver.store.base import (
    ErasedMeanwhile,
    Invalidation,
    InvalidationSource,
    Store,
    StoreUnavailable,
    TemplateRecord,
    TemplateStore,
    UserStore,
)

__all__ = [
    "ErasedMeanwhile",
    "Invalidation",
    "InvalidationSource",
    "Store",
    "StoreUnavailable",
    "TemplateRecord",
    "TemplateStore",
    "UserStore",
]

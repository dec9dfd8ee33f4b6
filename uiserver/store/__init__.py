"""Persistence behind role Protocols: SQLite (default, embedded) and Redis (scale-out).

`Store` = lifecycle + `InvalidationSource` + one object per role: `users` (`UserStore`),
`activity` (`ActivityStore`), `templates` (`TemplateStore`), `drafts` (`DraftStore`); see
`base`. The backends `sqlite/` and `redis/` are built alike, one module per role over what
the roles share (`sqlite.database`, `redis.connection`); `open_store` in `factory` picks one
from a URL.
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

"""The store tests' fixtures: `store`/`make_store` on each backend (SQLite, a real Redis)."""

from tests.helpers.stores import backend, make_store, store

__all__ = ["backend", "make_store", "store"]

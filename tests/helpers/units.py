"""Real parts for the unit tests of serving, publishing and admin.

The shipped catalogue, pages and policy; a real SQLite store in a temporary directory that a
test can take down (`FlakyStore`); the parts wired as `uiserver.service` wires them; a fake
monotonic clock for the store breaker; and `eventually`, which polls a condition with a
deadline instead of sleeping a fixed time.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec

from tests.helpers.engine import COMPONENTS, LAYOUTS, policy, shipped_catalog, shipped_templates
from uiserver.catalog import Catalog
from uiserver.config import Config
from uiserver.engine import Engine
from uiserver.policy import Policy
from uiserver.publishing.publisher import Publisher
from uiserver.schema import Profile, Template
from uiserver.service import Service
from uiserver.serving.breaker import StoreBreaker
from uiserver.serving.pages import LivePages
from uiserver.store.base import Exposure, PageState, StoreUnavailable
from uiserver.store.sqlite.activity import SQLiteActivity
from uiserver.store.sqlite.database import Database
from uiserver.store.sqlite.store import SQLiteStore
from uiserver.store.sqlite.templates import SQLiteTemplates
from uiserver.store.sqlite.users import SQLiteUsers

AUTHOR = "dora"  # a designer publishing from the console or the API


def catalog() -> Catalog:
    """The shipped component catalogue (components/)."""
    found = shipped_catalog()
    assert found is not None, "components/ is missing"
    return found


def template(page: str, **changes: object) -> Template:
    """A shipped page (layouts/), with top-level fields replaced (a new version when changed)."""
    return msgspec.structs.replace(shipped_templates()[page], **changes)


def shipped_pages() -> dict[str, Template]:
    return dict(shipped_templates())


class Gate:
    """Whether the store is down, and how often each call was made (down or not)."""

    def __init__(self) -> None:
        self.down = False
        self.calls: Counter[str] = Counter()

    def ask(self, what: str) -> None:
        self.calls[what] += 1
        if self.down:
            raise StoreUnavailable(f"{what}: the store is down (test)")


class FlakyUsers(SQLiteUsers):
    def __init__(self, db: Database, gate: Gate) -> None:
        super().__init__(db)
        self.gate = gate

    async def get_profile(self, user_id: str) -> Profile:
        self.gate.ask("get_profile")
        return await super().get_profile(user_id)

    async def set_last_order(
        self, user_id: str, page: str, order: Sequence[str], epoch: int | None = None
    ) -> None:
        self.gate.ask("set_last_order")
        await super().set_last_order(user_id, page, order, epoch)


class FlakyTemplates(SQLiteTemplates):
    def __init__(self, db: Database, gate: Gate) -> None:
        super().__init__(db)
        self.gate = gate

    async def states(self, page: str | None = None) -> dict[str, PageState]:
        self.gate.ask("states")
        return await super().states(page)


class FlakyActivity(SQLiteActivity):
    def __init__(self, db: Database, gate: Gate) -> None:
        super().__init__(db)
        self.gate = gate

    async def record_activity(
        self, launches: Mapping[str, tuple[int, int, int]], exposures: Sequence[Exposure]
    ) -> None:
        self.gate.ask("record_activity")
        await super().record_activity(launches, exposures)


class FlakyStore(SQLiteStore):
    """A real SQLite store that can be taken down.

    While `down`, the calls serving and the recorder make (profiles, template states, launch
    counters, served orders) raise StoreUnavailable, as a dead Redis does, and store nothing.
    `calls` counts every call of those methods (down or not), so a test can tell whether the
    store was asked at all.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gate = Gate()
        self.users: FlakyUsers = FlakyUsers(self.db, self.gate)
        self.templates: FlakyTemplates = FlakyTemplates(self.db, self.gate)
        self.activity: FlakyActivity = FlakyActivity(self.db, self.gate)

    @property
    def down(self) -> bool:
        return self.gate.down

    @down.setter
    def down(self, value: bool) -> None:
        self.gate.down = value

    @property
    def calls(self) -> Counter[str]:
        return self.gate.calls


@dataclass(slots=True)
class Publishing:
    """The parts publishing needs, wired as `Service` wires them, without the invalidation
    listener: the live pages learn of a change only from `Publisher` or `mark_dirty`."""

    store: FlakyStore
    engine: Engine
    breaker: StoreBreaker
    live: LivePages
    publisher: Publisher


def publishing_parts(store: FlakyStore, rules: Policy | None = None) -> Publishing:
    rules = rules or policy()
    engine = Engine(catalog(), rules)
    breaker = StoreBreaker()
    live = LivePages(store.templates, store, engine, breaker)
    return Publishing(
        store, engine, breaker, live, Publisher(store.templates, catalog(), rules, engine, live)
    )


@asynccontextmanager
async def publishing(directory: Path, rules: Policy | None = None) -> AsyncIterator[Publishing]:
    """Publishing parts on an open, empty store in `directory`; the store is closed on exit."""
    store = FlakyStore(directory / "uiserver.db")
    await store.open()
    try:
        yield publishing_parts(store, rules)
    finally:
        await store.close()


@asynccontextmanager
async def service(
    directory: Path, pages: Mapping[str, Template] | None = None, *, flush_s: float = 60.0
) -> AsyncIterator[Service]:
    """A started `Service` on a FlakyStore in `directory`, with the shipped pages published
    from the files (or `pages`). The activity recorder's interval defaults to a minute, so no
    background write (and its user invalidation) lands in the middle of a test."""
    config = Config(
        data_dir=directory,
        layouts_dir=LAYOUTS,
        components_dir=COMPONENTS,
        activity_flush_s=flush_s,
        poll_interval=0.0,
    )
    store = FlakyStore(directory / "uiserver.db")
    running = Service(config, store, catalog(), policy())
    await running.start(shipped_pages() if pages is None else pages)
    try:
        yield running
    finally:
        store.down = False
        await running.close()


class FakeClock:
    """A monotonic clock the test moves by hand (`monkeypatch.setattr(module, "time", clock)`
    for a module that calls `time.monotonic()`)."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool],
    what: str,
    timeout: float = 5.0,
) -> None:
    """Poll `check` (sync or async) until it is true; AssertionError naming `what` past the
    deadline. For what happens in the background: never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        done = await result if isinstance(result, Awaitable) else result
        if done:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.005)


__all__ = [
    "AUTHOR",
    "FakeClock",
    "FlakyStore",
    "Gate",
    "Publishing",
    "catalog",
    "eventually",
    "publishing",
    "publishing_parts",
    "service",
    "shipped_pages",
    "template",
]

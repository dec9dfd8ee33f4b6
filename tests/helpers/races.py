"""Races between replicas, made deterministic: another replica's write lands between a template
write of the app under test and its answer.

`competing_write(app, url, directory, act)` hooks the app's template store so that, right after
its next committed write (before the admin route builds its answer), `act` runs on a second
store opened on the same data (the SQLite file in `directory`, or the Redis at `url`): another
replica acting at the worst moment. The second store is opened inside the app's event loop
(a Redis client belongs to the loop that made it) and closed afterwards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from uiserver.store.base import TemplateStore
from uiserver.store.factory import open_store

Act = Callable[[TemplateStore], Awaitable[object]]


class CompetingWrite:
    """Runs `act` once, on another replica's store, after the app's next template write."""

    def __init__(self, url: str, directory: Path, act: Act) -> None:
        self.url = url
        self.directory = directory
        self.act = act
        self.fired = 0

    async def run(self) -> None:
        other = open_store(self.url, self.directory)
        await other.open()
        try:
            await self.act(other.templates)
        finally:
            await other.close()
        self.fired += 1


def competing_write(
    monkeypatch: pytest.MonkeyPatch, app: Any, url: str, directory: Path, act: Act
) -> CompetingWrite:
    """Hook `app` (a `create_app` result: `app.service`) as the module docstring says."""
    templates = app.service.publisher.templates
    templates = getattr(templates, "inner", templates)  # under the audit log's wrapper
    race = CompetingWrite(url, directory, act)

    def hook(store: Any) -> Any:
        original = store._write

        async def hooked(*args: Any, **kwargs: Any) -> Any:
            result = await original(*args, **kwargs)
            if race.fired == 0:
                await race.run()
            return result

        monkeypatch.setattr(store, "_write", hooked)
        return store

    hook(templates)
    if hasattr(templates, "audited"):  # SQLite: the audit log writes through a bound copy
        audited = templates.audited
        monkeypatch.setattr(templates, "audited", lambda entry: hook(audited(entry)))
    return race


__all__ = ["Act", "CompetingWrite", "competing_write"]

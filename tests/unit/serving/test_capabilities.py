"""The server's capability registry without HTTP: bounded renderer counts written behind (lost
with a warning when the store fails, written on close), parsed values memoized, substituted
compilations bounded per live version."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.helpers.engine import mini_catalog
from uiserver.engine.capability import CapabilityError, KillSwitch
from uiserver.serving import capabilities as module
from uiserver.serving.capabilities import Capabilities
from uiserver.store.base import StoreUnavailable

pytestmark = pytest.mark.anyio


class FakeStore:
    """A CapabilityStore double that records what is written and can fail."""

    def __init__(self) -> None:
        self.noted: list[dict[str, int]] = []
        self.fail = False

    async def note_renderers(self, day: int, launches: dict[str, int]) -> None:
        if self.fail:
            raise StoreUnavailable("down")
        self.noted.append(dict(launches))

    async def kill_switches(self) -> list[KillSwitch]:
        return []

    async def registered_types(self, digest: str) -> frozenset[str] | None:
        return None


async def test_renderer_counts_are_bounded_and_written_behind(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(module, "MAX_PENDING", 2)
    store = FakeStore()
    caps = Capabilities(mini_catalog().types, store, flush_s=0.0)  # type: ignore[arg-type]
    for raw in ("r=1.0.0", "r=1.0.0", "r=2.0.0", "r=3.0.0", "r=4.0.0"):
        await caps.resolve(raw)
    await asyncio.sleep(0.01)  # the write-behind task ran
    assert store.noted == [{"1.0.0": 2, "2.0.0": 1, "other": 2}]
    store.fail = True
    caps.note(caps.parse("r=1.0.0"))
    with caplog.at_level(logging.WARNING, logger="uiserver"):
        await caps.close()  # cancels the pending task, writes now: the store fails
    assert "renderer counts not written" in caplog.text
    await caps.flush()  # nothing pending: nothing written


async def test_a_bad_value_is_refused_every_time() -> None:
    caps = Capabilities(mini_catalog().types, FakeStore())  # type: ignore[arg-type]
    for _ in range(2):
        with pytest.raises(CapabilityError):
            caps.parse("r=1")
    with pytest.raises(CapabilityError):
        caps.parse("r=1;" + "x" * 100)  # long values are not memoized, still refused

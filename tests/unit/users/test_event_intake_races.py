"""Events posted to a replica whose cached profile is behind another replica's write (its poll
has not run yet): the store's own check decides, and the outcome says why nothing was kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.units import service
from uiserver.schema import Event, Settings
from uiserver.store.sqlite.store import SQLiteStore

pytestmark = pytest.mark.anyio

CLICKS = [Event(page="home", component="coupons", kind="click")] * 3


async def test_events_posted_after_another_replica_erased_the_user_are_not_kept(
    tmp_path: Path,
) -> None:
    async with service(tmp_path) as running:
        epoch = await running.events.epoch("ann")  # cached on this replica: 0
        other = SQLiteStore(tmp_path / "uiserver.db")  # another replica, same file
        await other.open()
        await other.users.erase_user("ann")
        await other.close()
        outcome = await running.events.record("ann", CLICKS, epoch)
        assert (outcome.stored, outcome.ignored, outcome.reasons) == (0, 3, {"erased": 3})
        assert running.events.counts[("ignored", "erased")] == 3  # /metrics' events_total
        assert (await running.store.users.get_profile("ann")).evidence == 0


async def test_events_posted_after_another_replica_turned_personalization_off_are_not_kept(
    tmp_path: Path,
) -> None:
    async with service(tmp_path) as running:
        epoch = await running.events.epoch("bo")  # settings cached: personalization on
        other = SQLiteStore(tmp_path / "uiserver.db")
        await other.open()
        await other.users.put_settings("bo", Settings(personalization=0))
        await other.close()
        outcome = await running.events.record("bo", CLICKS, epoch)
        assert outcome.stored == 0
        assert outcome.reasons == {"personalization_off": 3}
        profile = await running.store.users.get_profile("bo")
        assert profile.evidence == 0 and profile.affinities == {}

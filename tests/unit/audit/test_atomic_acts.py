"""On SQLite a template write and its audit entry are one transaction (`audit.acts`,
`store.sqlite.templates`): an act whose audit append fails leaves nothing, and an act that
commits has its entry. Before, the entry was appended after the act committed: the failed
append was logged and counted while the act stood without an entry (as a process death
between the two would leave it)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from uiserver.audit.acts import AuditedTemplates
from uiserver.audit.log import AuditLog
from uiserver.store.base import AuditQuery, StoreUnavailable
from uiserver.store.factory import SQLITE_FILE, open_store

DOC = b'{"page": "home", "components": []}'
NEW = b'{"page": "home", "components": [{"id": "a", "type": "banner"}]}'


def test_an_act_whose_audit_append_fails_leaves_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = open_store("", tmp_path)
        await store.open()
        audit = AuditLog(store.audit)
        heard: list[str] = []
        audit.listeners.append(lambda entry: heard.append(entry.act))
        templates = AuditedTemplates(store.templates, audit)
        try:
            await templates.publish("home", "v1", DOC, "dora", "first", 1.0)
            await templates.publish("home", "v2", NEW, "dora", "second", 2.0)
            page = await audit.entries(AuditQuery())
            assert [e.act for e in page.entries] == ["template.publish"] * 2
            assert page.entries[0].details["diff"]["added"] == 1  # the summary, as before
            assert heard == ["template.publish"] * 2
            with sqlite3.connect(tmp_path / SQLITE_FILE) as other:  # the audit table breaks
                other.execute("DROP TABLE audit")
            for act in (
                templates.publish("home", "v3", DOC, "dora", "third", 3.0),
                templates.archive("home", "dora", 3.0),
            ):
                with pytest.raises(StoreUnavailable):
                    await act
            state = (await store.templates.states("home"))["home"]
            assert state.head.version == "v2" and state.archived is None
            assert [r.version for r in await store.templates.history("home")] == ["v2", "v1"]
            assert audit.lost == 0 and heard == ["template.publish"] * 2
        finally:
            await store.close()

    asyncio.run(scenario())


def test_a_rollback_in_the_transaction_is_named_from_the_state_it_read(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = open_store("", tmp_path)
        await store.open()
        audit = AuditLog(store.audit)
        templates = AuditedTemplates(store.templates, audit)
        try:
            await templates.publish("home", "v1", DOC, "dora", "first", 1.0)
            await templates.publish("home", "v2", NEW, "dora", "second", 2.0)
            await templates.publish("home", "v1", DOC, "dora", "back", 3.0)
            await templates.publish("home", "v1", DOC, "dora", "again", 4.0)  # no change
            entries = (await audit.entries(AuditQuery())).entries
            acts = [e.act for e in entries]
            assert acts == ["template.rollback", "template.publish", "template.publish"]
            assert entries[0].before is not None and entries[0].before["version"] == "v2"
            assert entries[0].details["diff"]["removed"] == 1
        finally:
            await store.close()

    asyncio.run(scenario())

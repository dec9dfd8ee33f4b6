"""`Publisher`: lint before anything is stored, rollback, staged rollouts, archiving, the files
of `layouts/` against console publishes, history and previews, on a real SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import msgspec
import pytest

from tests.helpers.engine import policy
from tests.helpers.units import (
    AUTHOR,
    FlakyStore,
    FlakyTemplates,
    Publishing,
    publishing,
    publishing_parts,
    template,
)
from uiserver.catalog import template_to_json, template_version
from uiserver.engine import CompileError
from uiserver.publishing.filesync import FILE_AUTHOR, FILE_SOURCE, FileConflict
from uiserver.publishing.publisher import Publisher, PublishRefused, UnknownVersion
from uiserver.schema import ComponentSpec, Context, Profile, Settings, Template
from uiserver.serving.pages import UnknownPage
from uiserver.store.base import NeverPublished, NoRollout, PublishOptions, TemplateRecord

pytestmark = pytest.mark.anyio

V1 = template("home")
V2 = template("home", title="Home, second edition")
V3 = template("home", title="Home, third edition")
V3 = template("home", title="Home, third edition")


def small_font(page: Template, font_px: float = 10.0) -> Template:
    """`page` with a base font below the policy floor (lint refuses it)."""
    return msgspec.structs.replace(page, theme=msgspec.structs.replace(page.theme, font_px=font_px))


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[Publishing]:
    async with publishing(tmp_path) as made:
        yield made


# ------------------------------------------------------------------ lint-gated publish


async def test_publish_stores_a_version_and_makes_it_live(parts: Publishing) -> None:
    record = (await parts.publisher.publish("home", V1, AUTHOR, "first")).head
    assert (record.page, record.version, record.author, record.message, record.seq) == (
        "home",
        template_version(V1),
        AUTHOR,
        "first",
        1,
    )
    assert parts.live.page("home").record == record  # no invalidation needed: reloaded here


@pytest.mark.parametrize(
    ("draft", "field"),
    [
        pytest.param(small_font(V2), "theme.font_px", id="font-below-the-floor"),
        pytest.param(template("cart", title="Cart"), "page", id="template-of-another-page"),
        pytest.param(msgspec.structs.replace(V2, title="  "), "title", id="empty-title"),
    ],
)
async def test_a_refused_publish_stores_nothing_and_the_live_version_keeps_serving(
    parts: Publishing, draft: Template, field: str
) -> None:
    await parts.publisher.publish("home", V1, AUTHOR, "first")
    serving = parts.live.page("home")

    with pytest.raises(PublishRefused) as refused:
        await parts.publisher.publish("home", draft, AUTHOR, "broken")

    assert field in [p.field for p in refused.value.problems]
    assert [r.version for r in await parts.publisher.history("home")] == [template_version(V1)]
    assert await parts.publisher.version("home", template_version(draft)) is None
    assert parts.live.page("home") is serving


async def test_a_refused_first_publish_leaves_the_page_unknown(parts: Publishing) -> None:
    with pytest.raises(PublishRefused):
        await parts.publisher.publish("home", small_font(V1), AUTHOR, "broken")
    assert await parts.publisher.state("home") is None
    with pytest.raises(UnknownPage):
        parts.live.page("home")


async def test_republishing_the_live_version_adds_no_history(parts: Publishing) -> None:
    first = await parts.publisher.publish("home", V1, AUTHOR, "first")
    again = await parts.publisher.publish("home", V1, "someone", "again")
    assert again == first
    assert len(await parts.publisher.history("home")) == 1


# ------------------------------------------------------------------ rollback


async def test_rollback_publishes_the_old_version_anew(parts: Publishing) -> None:
    await parts.publisher.publish("home", V1, AUTHOR, "first")
    await parts.publisher.publish("home", V2, AUTHOR, "second")
    v1 = template_version(V1)

    record = (await parts.publisher.rollback("home", v1, "rex")).head

    assert (record.version, record.seq, record.author, record.message) == (
        v1,
        3,
        "rex",
        f"rollback to {v1}",
    )
    assert parts.live.page("home").record == record
    assert parts.live.page("home").template == V1


async def test_rollback_to_an_unknown_version_raises_and_changes_nothing(
    parts: Publishing,
) -> None:
    await parts.publisher.publish("home", V1, AUTHOR, "first")
    with pytest.raises(UnknownVersion) as unknown:
        await parts.publisher.rollback("home", "0123456789abcdef", AUTHOR)
    assert (unknown.value.page, unknown.value.version) == ("home", "0123456789abcdef")
    assert len(await parts.publisher.history("home")) == 1
    with pytest.raises(UnknownVersion):  # a version of another page is no version of this one
        await parts.publisher.rollback("cart", template_version(V1), AUTHOR)


async def test_rollback_lints_again_under_todays_policy(parts: Publishing) -> None:
    """A version that passed when published but not under a tightened policy stays history."""
    old = small_font(V1, 14.0)
    await parts.publisher.publish("home", old, AUTHOR, "14 px was fine then")
    await parts.publisher.publish("home", V2, AUTHOR, "second")
    stricter = msgspec.structs.replace(policy(), min_font_px=15.0)
    today = publishing_parts(parts.store, stricter)
    await today.live.reload()
    serving = today.live.page("home")

    with pytest.raises(PublishRefused) as refused:
        await today.publisher.rollback("home", template_version(old), AUTHOR)

    assert [p.field for p in refused.value.problems] == ["theme.font_px"]
    assert len(await today.publisher.history("home")) == 2
    assert today.live.page("home") is serving


# ------------------------------------------------------------------ staged rollouts


async def _staged(parts: Publishing, percent: int = 10) -> None:
    await parts.publisher.publish("home", V1, AUTHOR, "first")
    await parts.publisher.publish("home", V2, AUTHOR, "staged", PublishOptions(rollout=percent))


async def test_a_staged_publish_serves_both_versions(parts: Publishing) -> None:
    await _staged(parts, 10)
    live = parts.live.page("home")
    assert live.record.version == template_version(V2)
    assert live.rollout is not None and live.rollout.percent == 10
    assert live.previous is not None and live.previous.record.version == template_version(V1)


async def test_set_rollout_widens_the_share_seen_by_the_live_pages(parts: Publishing) -> None:
    await _staged(parts, 10)
    rollout = (await parts.publisher.set_rollout("home", 60, "rex")).rollout
    assert rollout is not None
    assert (rollout.percent, rollout.version) == (60, template_version(V2))
    live = parts.live.page("home")
    assert live.rollout is not None and live.rollout.percent == 60


@pytest.mark.parametrize(
    ("outcome", "serving", "entries"),
    [
        pytest.param("promote", V2, 2, id="promote-keeps-the-new-version"),
        pytest.param("abort", V1, 3, id="abort-republishes-the-previous-version"),
    ],
)
async def test_ending_a_rollout_serves_one_version_to_everyone(
    parts: Publishing, outcome: str, serving: Template, entries: int
) -> None:
    await _staged(parts, 10)
    ended = await parts.publisher.end_rollout("home", outcome, "rex")  # type: ignore[arg-type]
    record = ended.head
    assert ended.rollout is None and ended.previous is None
    live = parts.live.page("home")
    assert record.version == live.record.version == template_version(serving)
    assert live.rollout is None and live.previous is None
    assert len(await parts.publisher.history("home")) == entries


@pytest.mark.parametrize(
    "act",
    [
        pytest.param(lambda p: p.set_rollout("home", 50, AUTHOR), id="set"),
        pytest.param(lambda p: p.end_rollout("home", "promote", AUTHOR), id="promote"),
        pytest.param(lambda p: p.end_rollout("home", "abort", AUTHOR), id="abort"),
    ],
)
async def test_rollout_changes_without_a_running_rollout_raise_no_rollout(
    parts: Publishing, act: Callable[[Publisher], Awaitable[object]]
) -> None:
    await parts.publisher.publish("home", V1, AUTHOR, "first")
    with pytest.raises(NoRollout):
        await act(parts.publisher)
    assert parts.live.page("home").record.version == template_version(V1)


# ------------------------------------------------------------------ archive


async def test_archiving_a_page_never_published_raises_never_published(
    parts: Publishing,
) -> None:
    with pytest.raises(NeverPublished) as never:
        await parts.publisher.archive("home", AUTHOR)
    assert never.value.page == "home"
    assert await parts.publisher.state("home") is None


async def test_an_archived_page_is_gone_from_serving_and_a_publish_restores_it(
    parts: Publishing,
) -> None:
    await parts.publisher.publish("home", V1, AUTHOR, "first")

    archived = (await parts.publisher.archive("home", "rex")).archived

    assert archived is not None and (archived.page, archived.author) == ("home", "rex")
    with pytest.raises(UnknownPage):
        parts.live.page("home")
    state = await parts.publisher.state("home")
    assert state is not None and state.archived == archived
    assert len(await parts.publisher.history("home")) == 1  # history is kept

    await parts.publisher.publish("home", V2, AUTHOR, "back")
    assert parts.live.page("home").record.version == template_version(V2)
    assert "home" not in parts.live.archived


# ------------------------------------------------------------------ files against the console


async def _console_publish(publisher: Publisher) -> None:
    await publisher.publish("home", V2, AUTHOR, "from the console")


async def _console_staged(publisher: Publisher) -> None:
    await publisher.publish("home", V2, AUTHOR, "staged", PublishOptions(rollout=20))


async def _archive(publisher: Publisher) -> None:
    await publisher.archive("home", AUTHOR)


async def _nothing(publisher: Publisher) -> None:
    return None


Meanwhile = Callable[[Publisher], Awaitable[None]]


@pytest.mark.parametrize(
    ("meanwhile", "file", "base", "live", "conflict"),
    [
        pytest.param(_nothing, V3, None, V3, None, id="file-changed-nothing-else-publishes"),
        pytest.param(_console_publish, V3, None, V2, "console", id="console-publish-is-kept"),
        pytest.param(
            _console_publish, V3, V2, V3, None, id="file-exported-from-the-console-version"
        ),
        pytest.param(_console_publish, V1, None, V2, None, id="unchanged-file-keeps-console"),
        pytest.param(_console_staged, V3, None, V2, "rollout", id="rollout-running"),
        pytest.param(_archive, V3, None, None, "archived", id="archived-page"),
    ],
)
async def test_publish_files_never_publishes_over_a_console_publish(
    parts: Publishing,
    meanwhile: Meanwhile,
    file: Template,
    base: Template | None,
    live: Template | None,
    conflict: str | None,
) -> None:
    await parts.publisher.publish_files({"home": V1})
    await meanwhile(parts.publisher)
    bases = {"home": template_version(base)} if base is not None else None

    await parts.publisher.publish_files({"home": file}, bases)

    state = await parts.publisher.state("home")
    assert state is not None
    if live is not None:
        assert state.head.version == template_version(live)
    if conflict is None:
        assert parts.publisher.file_conflicts == {}
    else:
        assert parts.publisher.file_conflicts == {
            "home": FileConflict("home", state.head.version, template_version(file), conflict)  # type: ignore[arg-type]
        }
        assert await parts.publisher.version("home", template_version(file)) is None


class ConsolePublishDuringStart(FlakyTemplates):
    """Another replica's console publish of V2 lands while `publish_files` is deciding (right
    after it reads the page's history), once `armed`."""

    armed = False

    async def history(self, page: str) -> list[TemplateRecord]:
        records = await super().history(page)
        if self.armed:
            self.armed = False
            document = template_to_json(V2)
            await self.publish(page, template_version(V2), document, AUTHOR, "console", 2.0)
        return records


class ConsolePublishingStore(FlakyStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.templates: ConsolePublishDuringStart = ConsolePublishDuringStart(self.db, self.gate)


async def test_a_console_publish_while_the_files_are_decided_is_kept(tmp_path: Path) -> None:
    store = ConsolePublishingStore(tmp_path / "uiserver.db")
    await store.open()
    try:
        publisher = publishing_parts(store).publisher
        await publisher.publish_files({"home": V1})
        store.templates.armed = True

        await publisher.publish_files({"home": V3})

        state = await publisher.state("home")
        assert state is not None and state.head.version == template_version(V2)
    finally:
        await store.close()


async def test_publish_files_publishes_new_pages_as_the_files(parts: Publishing) -> None:
    await parts.publisher.publish_files({"home": V1, "cart": template("cart")})
    for page in ("home", "cart"):
        (record,) = await parts.publisher.history(page)
        assert (record.author, record.source, record.message) == (
            FILE_AUTHOR,
            FILE_SOURCE,
            "from layouts/",
        )
    assert parts.publisher.file_conflicts == {}


async def test_publish_files_skips_a_file_failing_lint(parts: Publishing) -> None:
    await parts.publisher.publish_files({"home": V1})
    await parts.publisher.publish_files({"home": small_font(V3)})
    state = await parts.publisher.state("home")
    assert state is not None and state.head.version == template_version(V1)
    assert parts.publisher.file_conflicts == {}


async def test_publish_files_forgets_the_conflicts_of_the_last_start(parts: Publishing) -> None:
    await parts.publisher.publish_files({"home": V1})
    await parts.publisher.publish("home", V2, AUTHOR, "console")
    await parts.publisher.publish_files({"home": V3})
    assert set(parts.publisher.file_conflicts) == {"home"}
    await parts.publisher.publish_files({"home": V3}, {"home": template_version(V2)})
    assert parts.publisher.file_conflicts == {}


# ------------------------------------------------------------------ history, version


async def test_history_is_newest_first_and_version_finds_the_newest_entry(
    parts: Publishing,
) -> None:
    await parts.publisher.publish("home", V1, AUTHOR, "first")
    await parts.publisher.publish("home", V2, "rex", "second")
    await parts.publisher.rollback("home", template_version(V1), "sam")

    history = await parts.publisher.history("home")

    assert [(r.seq, r.version, r.author) for r in history] == [
        (3, template_version(V1), "sam"),
        (2, template_version(V2), "rex"),
        (1, template_version(V1), AUTHOR),
    ]
    assert await parts.publisher.version("home", template_version(V1)) == history[0]
    assert await parts.publisher.version("home", template_version(V2)) == history[1]
    assert await parts.publisher.version("home", template_version(V3)) is None
    assert await parts.publisher.history("cart") == []
    assert history[0].document == template_to_json(V1)


# ------------------------------------------------------------------ preview, decode


async def test_preview_renders_a_draft_for_a_profile_without_storing_it(
    parts: Publishing,
) -> None:
    version = template_version(V2)
    elderly = Profile(settings=Settings(elderly_mode="on"))

    standard = parts.publisher.preview(V2, version, Profile(), Context(), 0)
    layout = parts.publisher.preview(V2, version, elderly, Context(), 0)

    assert (standard.page, standard.template_version, standard.mode) == (
        "home",
        version,
        "standard",
    )
    assert layout.mode == "elderly"
    assert layout.theme.font_px >= policy().elderly_font_px
    assert await parts.publisher.state("home") is None


async def test_preview_of_a_draft_with_an_unknown_type_raises_compile_error(
    parts: Publishing,
) -> None:
    odd = ComponentSpec(id="odd", type="no_such_type", label="Odd")
    broken = msgspec.structs.replace(V2, components=[*V2.components, odd])
    with pytest.raises(CompileError):
        parts.publisher.preview(broken, "draft", Profile(), Context(), 0)


def test_decode_template_returns_a_template_or_the_problems(tmp_path: Path) -> None:
    # Decoding and lint touch no store: a publisher on a store never opened.
    publisher = publishing_parts(FlakyStore(tmp_path / "never-opened.db")).publisher
    good = msgspec.json.decode(template_to_json(V1))
    assert publisher.decode_template(good) == (V1, [])
    bad = {**good, "theme": {**good["theme"], "font_px": "large"}}
    decoded, problems = publisher.decode_template(bad)
    assert decoded is None
    assert [p.field for p in problems] == ["theme.font_px"]
    assert publisher.lint(V1) == []
    assert [p.field for p in publisher.lint(small_font(V1))] == ["theme.font_px"]


@pytest.mark.parametrize(
    "act",
    [
        pytest.param(lambda p: p.publish("home", V3, AUTHOR, "third"), id="publish"),
        pytest.param(lambda p: p.archive("home", AUTHOR), id="archive"),
        pytest.param(lambda p: p.rollback("home", template_version(V1), AUTHOR), id="rollback"),
    ],
)
async def test_a_write_answers_what_it_applied_when_the_reload_after_it_fails(
    parts: Publishing, act: Callable[[Publisher], Awaitable[object]]
) -> None:
    """The write committed; reading the page back failed (the store went away right after).
    Was a StoreUnavailable (a 503 for a change that was made); now the write's own state, and
    the page is reloaded on the next sync."""
    await parts.publisher.publish("home", V1, AUTHOR, "first")
    await parts.publisher.publish("home", V2, AUTHOR, "second")
    parts.store.down = True  # reads through the role fail; the write's transaction does not
    applied = await act(parts.publisher)
    parts.store.down = False
    assert applied == await parts.publisher.state("home")  # what the write left is stored
    assert "home" in parts.live.dirty
    await parts.live.sync()
    assert "home" not in parts.live.dirty

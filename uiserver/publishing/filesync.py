"""Files and console in sync: when a template file may be published over the live version.

Designers publish from the console; engineers edit `layouts/` in git. Neither may silently undo
the other, so a changed file is published (at start-up, or by `uiserver publish FILE`) only when
the live version came from the files, or is the version the file was exported from: the first
line `uiserver export` writes, `# uiserver-base-version: <version>`, says which. Otherwise the live
version stays, and the conflict is logged as a WARNING and listed by `/readyz`; `uiserver export`
brings the console's version into the file, `uiserver publish FILE --force` overrides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from uiserver.catalog import LoadError, document_files, load_template_file, read_file
from uiserver.store.base import TemplateStore

FILE_AUTHOR = "layouts/"  # the author of versions published from the files at start
FILE_SOURCE = "files"  # TemplateRecord.source of versions published from a template file
BASE_MARKER = "uiserver-base-version"
_BASE_LINE = re.compile(rf"^#\s*{BASE_MARKER}:\s*([0-9a-f]{{16}})\b", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class FileConflict:
    """A file that was not published because the live version did not come from it."""

    page: str
    live_version: str
    file_version: str
    reason: Literal["console", "rollout", "archived"]

    @property
    def message(self) -> str:
        what = {
            "console": f"version {self.live_version} was published from the console or API "
            "since the file was last published",
            "rollout": f"a staged rollout of version {self.live_version} is running",
            "archived": "the page is archived",
        }[self.reason]
        return (
            f"{self.page}: the file (version {self.file_version}) was not published: {what}; "
            f"the live version {self.live_version} keeps serving. `uiserver export "
            f"{self.page}` writes it to the file; `uiserver publish FILE --force` publishes "
            "the file anyway"
        )


@dataclass(frozen=True, slots=True)
class Publish:
    """The file may be published over `base`, the live version `decide` saw (None: a new
    page). Publishing with `base` as the precondition keeps a console publish that lands
    after the decision (the store refuses the stale base)."""

    base: str | None


Decision = Publish | Literal["same", "unchanged"] | FileConflict


def base_version(text: str) -> str | None:
    """The version a file says it was exported from (its marker line), or None."""
    match = _BASE_LINE.search(text)
    return match.group(1) if match else None


def file_bases(directory: Path) -> dict[str, str]:
    """page -> the version each marked file in `directory` was exported from (files that
    cannot be loaded are skipped: `catalog.read_templates` reports them)."""
    bases: dict[str, str] = {}
    if not directory.is_dir():
        return bases
    for path in document_files(directory):
        try:
            base = base_version(read_file(path).decode("utf-8", errors="replace"))
            if base is not None:
                bases[load_template_file(path).page] = base
        except LoadError:
            continue
    return bases


def from_files(source: str, author: str) -> bool:
    return source == FILE_SOURCE or author == FILE_AUTHOR


async def decide(templates: TemplateStore, page: str, version: str, base: str | None) -> Decision:
    """Whether a file of `page` with `version` (exported from `base`) may be published.

    `same`: it is live already. `unchanged`: it is the version last published from the files
    (the console changed the page since; the file did not: keep the console's). `Publish`: the
    page is new, or the live version came from the files, or the file was exported from it.
    Otherwise a FileConflict.
    """
    state = (await templates.states(page)).get(page)
    if state is None:
        return Publish(None)
    head = state.head
    if state.archived is not None:
        return FileConflict(page, head.version, version, "archived")
    if head.version == version and state.rollout is None:
        return "same"
    history = await templates.history(page)
    files = [r.version for r in history if from_files(r.source, r.author)]
    if files and files[0] == version:
        return "unchanged"
    if state.rollout is not None:
        return FileConflict(page, head.version, version, "rollout")
    if head.version in files or base == head.version:
        return Publish(head.version)
    return FileConflict(page, head.version, version, "console")

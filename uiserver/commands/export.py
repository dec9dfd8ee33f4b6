"""`uiserver export [PAGE...] [--to DIR]`: write live versions back as template files.

What the console published reaches `layouts/` this way, so it can be reviewed and committed.
An existing file is updated in place (comments and key order kept, `publishing.export`);
its first line records the version it was exported from, so the next start-up knows the file
descends from it and publishes the file's later edits. A page in a staged rollout is exported
as its new version (the one rolling out), with a note.

Files are written whole or not at all (`uiserver.files.write_atomic`: a temporary file in the
same directory, fsync, rename): a full disk leaves the old file as it was. A file that is a
symbolic link is never written through (it could point outside DIR): that page is refused with
a message naming the file, the other pages are written, and the exit code is 1. `--to DIR`
may itself be a symbolic link (the caller named it); page files are only ever DIR/<page>.yaml
or an existing file directly in DIR.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import msgspec

from uiserver.catalog import (
    LoadError,
    decode_document,
    document_files,
    load_template_file,
    read_file,
    template_version,
)
from uiserver.files import FileRefused, write_atomic
from uiserver.publishing.export import compact, export_yaml
from uiserver.schema import Template
from uiserver.store.base import PageState, StoreUnavailable, TemplateRecord
from uiserver.store.factory import existing_store_problem, open_store


def _files_by_page(directory: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    if directory.is_dir():
        for path in document_files(directory):
            try:
                found.setdefault(load_template_file(path).page, path)
            except LoadError:
                continue  # a broken, oversized or special file is not the one to update
    return found


def write_page(record: TemplateRecord, directory: Path, existing: Path | None) -> Path:
    """Write one version (`files.write_atomic`: whole or not at all, never through a symbolic
    link); returns the path written. Raises FileRefused or OSError, the old file kept."""
    template = decode_document(record.document, Template, name=record.page, fmt="json")
    full = msgspec.json.decode(record.document)
    short = compact(template)
    path = existing or directory / f"{record.page}.yaml"
    if path.is_symlink():  # refused before its target is read; write_atomic checks again
        raise FileRefused(path, "is a symbolic link: not written through (replace it with a file)")
    if path.suffix == ".json":
        text = json.dumps(short, indent=2, ensure_ascii=False) + "\n"
    else:
        old = read_file(path).decode("utf-8") if path.exists() else None
        text = export_yaml(old, full, short, record.version)
    write_atomic(path, text)
    return path


def _export_page(state: PageState, directory: Path, existing: Path | None) -> bool:
    """Write one live page and check it reads back as its version; False (said on stderr)
    when it could not be written."""
    page = state.head.page
    try:
        path = write_page(state.head, directory, existing)
        written = template_version(load_template_file(path))
    except (LoadError, OSError, UnicodeDecodeError) as exc:
        print(f"uiserver export: {page}: not written: {exc}", file=sys.stderr)
        return False
    if written != state.head.version:
        print(
            f"uiserver export: {path} reads back as version {written}, not {state.head.version}",
            file=sys.stderr,
        )
        return False
    note = ""
    if state.rollout is not None:
        note = f" (rolling out to {state.rollout.percent}% of users)"
    print(f"{page}: wrote {path} (version {state.head.version}{note})")
    return True


async def _export(args: argparse.Namespace) -> int:
    directory: Path = args.to
    directory.mkdir(parents=True, exist_ok=True)
    store = open_store(args.store, args.data_dir)
    await store.open()
    try:
        states = await store.templates.states()
    finally:
        await store.close()
    live = {page: s for page, s in states.items() if s.archived is None}
    pages = list(args.pages) or sorted(live)
    missing = [page for page in pages if page not in live]
    if missing:
        print(f"uiserver export: no live page {', '.join(missing)}", file=sys.stderr)
        return 1
    files = _files_by_page(directory)
    # One page that cannot be written (a symbolic link, a full disk) is reported; the
    # others are still written.
    results = [_export_page(live[page], directory, files.get(page)) for page in pages]
    return 0 if all(results) else 1


def run(args: argparse.Namespace) -> int:
    """0 every page written, 1 a page is not live, the store cannot be read, or a page could
    not be written (the others are); 2 when there is no store to read (`--store` not a store
    URL, or no SQLite database in `--data-dir`)."""
    problem = existing_store_problem(args.store, args.data_dir)
    if problem:
        print(f"uiserver export: {problem}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_export(args))
    except (StoreUnavailable, LoadError, OSError) as exc:
        print(f"uiserver export: {exc}", file=sys.stderr)
        return 1

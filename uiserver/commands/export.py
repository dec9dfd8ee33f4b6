"""`uiserver export [PAGE...] [--to DIR]`: write live versions back as template files.

What the console published reaches `layouts/` this way, so it can be reviewed and committed.
An existing file is updated in place (comments and key order kept, `publishing.export`);
its first line records the version it was exported from, so the next start-up knows the file
descends from it and publishes the file's later edits. A page in a staged rollout is exported
as its new version (the one rolling out), with a note.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import msgspec

from uiserver.catalog import (
    TEMPLATE_SUFFIXES,
    LoadError,
    decode_document,
    load_template_file,
    template_version,
)
from uiserver.documents import DocumentError
from uiserver.publishing.export import compact, export_yaml
from uiserver.schema import Template
from uiserver.store.base import StoreUnavailable, TemplateRecord
from uiserver.store.factory import open_store


def _files_by_page(directory: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if path.suffix in TEMPLATE_SUFFIXES and path.is_file():
                try:
                    found.setdefault(load_template_file(path).page, path)
                except (LoadError, DocumentError, OSError):
                    continue  # a broken file is not the one to update
    return found


def write_page(record: TemplateRecord, directory: Path, existing: Path | None) -> Path:
    """Write one version; returns the path written."""
    template = decode_document(record.document, Template, name=record.page, fmt="json")
    full = msgspec.json.decode(record.document)
    short = compact(template)
    path = existing or directory / f"{record.page}.yaml"
    if path.suffix == ".json":
        text = json.dumps(short, indent=2, ensure_ascii=False) + "\n"
    else:
        old = path.read_text(encoding="utf-8") if path.is_file() else None
        text = export_yaml(old, full, short, record.version)
    path.write_text(text, encoding="utf-8")
    return path


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
    for page in pages:
        state = live[page]
        path = write_page(state.head, directory, files.get(page))
        written = template_version(load_template_file(path))
        note = ""
        if state.rollout is not None:
            note = f" (rolling out to {state.rollout.percent}% of users)"
        if written != state.head.version:
            print(
                f"uiserver export: {path} reads back as version {written}, not "
                f"{state.head.version}",
                file=sys.stderr,
            )
            return 1
        print(f"{page}: wrote {path} (version {state.head.version}{note})")
    return 0


def run(args: argparse.Namespace) -> int:
    """0 written, 1 a page is not live or the store cannot be read."""
    try:
        return asyncio.run(_export(args))
    except (StoreUnavailable, LoadError, OSError) as exc:
        print(f"uiserver export: {exc}", file=sys.stderr)
        return 1

"""`uiserver publish FILE|DIR --message ... [--force]`: what the console's Publish button does,
from a shell.

A directory publishes each of its template files (`*.yaml`, `*.yml`, `*.json`); a file that
cannot be read (over 1 MiB, a FIFO or device, a directory so named), fails lint or conflicts
is reported and skipped, and the others are still published; the exit code is then 1. A
second file of a page the directory already defined (`home.json` beside `home.yaml`) is refused
so: the first by name is the page's, as `serve` reads the directory. A
directory without any template file (empty, or the wrong one) exits 2 and stores nothing. Sizes
are checked before reading (`uiserver.files`), so `uiserver publish /dev/zero` is a refusal,
not a MemoryError.

The same lint runs; a refused template prints `file: field: message` per problem and exits 1,
and nothing is stored. Like the files at start-up (`uiserver.publishing.filesync`), a file is not
published over a version the console published since the file's base, nor during a staged
rollout: it exits 1 saying so. `--force` publishes it anyway (aborting a running rollout). A
running server picks the new version up through the store's invalidations (the change log for
SQLite, pub/sub for Redis).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from uiserver.catalog import Catalog, LoadError, document_files, read_file, template_version
from uiserver.config import Config
from uiserver.files import resolved
from uiserver.lint.files import lint_template_file, load_catalog_leniently
from uiserver.policy import Policy, PolicyError, load_policy
from uiserver.publishing.filesync import (
    FILE_SOURCE,
    FileConflict,
    Publish,
    base_version,
    decide,
)
from uiserver.publishing.publisher import PublishRefused
from uiserver.schema import Problem
from uiserver.service import Service
from uiserver.store.base import PublishOptions, Store, StoreUnavailable, TemplateConflict
from uiserver.store.factory import open_store


def _print_problems(path: Path, problems: list[Problem]) -> None:
    for problem in problems:
        print(f"{path}: {problem.field}: {problem.message}")


def _refused(path: Path, problems: list[Problem]) -> bool:
    _print_problems(path, problems)
    print(f"uiserver publish: {path}: refused, {len(problems)} problem(s)", file=sys.stderr)
    return False


async def _publish_file(
    args: argparse.Namespace, path: Path, store: Store, service: Service, seen: dict[str, Path]
) -> bool:
    """Lint and publish one file; True when published or already live. `seen`: page -> the
    file of the directory that defined it first (by name, as `catalog.read_templates` keeps
    it): a second file of the same page (`home.json` beside `home.yaml`) is refused."""
    template, problems = lint_template_file(path, service.catalog, service.policy)
    if template is None or problems:
        return _refused(path, problems)
    first = seen.setdefault(template.page, path)
    if first != path:
        # Both were published in turn before (two versions, the last file winning), while
        # `serve` keeps the first by name and `validate` refuses the pair.
        return _refused(
            path, [Problem("page", f"page {template.page!r} is also defined in {first}")]
        )
    try:
        text = read_file(path).decode("utf-8", errors="replace")
    except LoadError as exc:  # changed since the lint read it
        return _refused(path, [Problem("$", exc.message)])
    before = await store.templates.live_template(template.page)
    base = base_version(text)
    decision = await decide(store.templates, template.page, template_version(template), base)
    if isinstance(decision, FileConflict) and not args.force:
        print(f"uiserver publish: {decision.message}", file=sys.stderr)
        return False
    if args.force:
        options = PublishOptions(running="abort", source=FILE_SOURCE)
    elif isinstance(decision, Publish) and decision.base is not None:
        # Over the version `decide` saw: a console publish landing meanwhile is kept (409).
        options = PublishOptions(base=(decision.base,), source=FILE_SOURCE)
    else:
        options = PublishOptions(source=FILE_SOURCE)
    try:
        applied = await service.publisher.publish(
            template.page, template, args.author, args.message, options
        )
    except PublishRefused as exc:
        return _refused(path, exc.problems)
    except TemplateConflict as exc:
        print(f"uiserver publish: {exc.message}", file=sys.stderr)
        return False
    record = applied.head
    if before is not None and before.version == record.version:
        print(f"{template.page}: {record.version} is already live (nothing published)")
    else:
        print(f"{template.page}: published {record.version} (#{record.seq})")
    return True


def _catalog(directory: Path, policy: Policy) -> Catalog:
    """The component types that load; each bad catalogue file is reported (a template that
    uses its type is then refused by the lint, the others publish)."""
    catalog, problems = load_catalog_leniently(directory, policy)
    for path, found in problems.items():
        for problem in found:
            print(f"uiserver publish: {path}: {problem.field}: {problem.message}", file=sys.stderr)
    return catalog


async def _publish(args: argparse.Namespace) -> int:
    path: Path = args.file
    policy = load_policy(getattr(args, "policy", None))
    catalog = _catalog(args.components, policy)
    files = document_files(path) if path.is_dir() else [path]
    if not files:
        # An empty or wrong directory would otherwise "succeed" with 0 files (as `assess`).
        print(
            f"uiserver publish: no template files (*.yaml, *.yml, *.json) in {path}",
            file=sys.stderr,
        )
        return 2
    catalogue = resolved(args.components)
    if all(catalogue in resolved(file).parents for file in files):
        # `uiserver publish components -m ...` refused each of the 43 catalogue entries as a
        # template ("refused, 1 problem(s)"), exit 1, never saying what it was given.
        print(
            f"uiserver publish: {path} is in the component catalogue ({args.components}), not "
            "a page template: the server reads the catalogue when it starts; publish the "
            "pages (layouts/)",
            file=sys.stderr,
        )
        return 2
    data_dir: Path = args.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(args.store, data_dir)
    service = Service(
        Config(data_dir=data_dir, components_dir=args.components), store, catalog, policy
    )
    await store.open()
    try:
        # One bad file is reported and skipped: the others are still published.
        seen: dict[str, Path] = {}
        results = [await _publish_file(args, file, store, service, seen) for file in files]
    finally:
        await store.close()
    if path.is_dir():
        failed = results.count(False)
        print(f"{len(files)} file(s), {failed} not published", file=sys.stderr)
    return 0 if all(results) else 1


def run(args: argparse.Namespace) -> int:
    """0 every file published (or already live), 1 any refused or failed (the others of a
    directory are still published), 2 empty message, a directory without template files, or
    the component catalogue (`--components`: a file or directory in it) given instead."""
    if not args.message.strip():
        print("uiserver publish: --message must say what changed", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_publish(args))
    except (LoadError, PolicyError) as exc:
        print(f"uiserver publish: {exc}", file=sys.stderr)
        return 1
    except (StoreUnavailable, ValueError, OSError) as exc:
        print(f"uiserver publish: {exc}", file=sys.stderr)
        return 1

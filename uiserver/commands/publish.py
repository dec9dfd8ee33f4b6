"""`uiserver publish FILE --message ... [--force]`: what the console's Publish button does,
from a shell.

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

from uiserver.catalog import LoadError, load_catalog, template_version
from uiserver.config import Config
from uiserver.lint.files import lint_template_file
from uiserver.policy import PolicyError, load_policy
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
from uiserver.store.base import PublishOptions, StoreUnavailable, TemplateConflict
from uiserver.store.factory import open_store


def _print_problems(path: Path, problems: list[Problem]) -> None:
    for problem in problems:
        print(f"{path}: {problem.field}: {problem.message}")


async def _publish(args: argparse.Namespace) -> int:
    path: Path = args.file
    policy = load_policy(getattr(args, "policy", None))
    catalog = load_catalog(args.components)
    template, problems = lint_template_file(path, catalog, policy)
    if template is None or problems:
        _print_problems(path, problems)
        print(f"uiserver publish: refused, {len(problems)} problem(s)", file=sys.stderr)
        return 1
    data_dir: Path = args.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(args.store, data_dir)
    service = Service(
        Config(data_dir=data_dir, components_dir=args.components), store, catalog, policy
    )
    await store.open()
    try:
        before = await store.templates.live_template(template.page)
        base = base_version(path.read_text(encoding="utf-8", errors="replace"))
        decision = await decide(store.templates, template.page, template_version(template), base)
        if isinstance(decision, FileConflict) and not args.force:
            print(f"uiserver publish: {decision.message}", file=sys.stderr)
            return 1
        if args.force:
            options = PublishOptions(running="abort", source=FILE_SOURCE)
        elif isinstance(decision, Publish) and decision.base is not None:
            # Over the version `decide` saw: a console publish landing meanwhile is kept (409).
            options = PublishOptions(base=(decision.base,), source=FILE_SOURCE)
        else:
            options = PublishOptions(source=FILE_SOURCE)
        record = await service.publisher.publish(
            template.page, template, args.author, args.message, options
        )
    except PublishRefused as exc:
        _print_problems(path, exc.problems)
        print(f"uiserver publish: refused, {len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    except TemplateConflict as exc:
        print(f"uiserver publish: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    if before is not None and before.version == record.version:
        print(f"{template.page}: {record.version} is already live (nothing published)")
    else:
        print(f"{template.page}: published {record.version} (#{record.seq})")
    return 0


def run(args: argparse.Namespace) -> int:
    """0 published (or already live), 1 refused or failed, 2 empty message."""
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

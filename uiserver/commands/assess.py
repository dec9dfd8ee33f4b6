"""`uiserver assess [PAGE...] [--format md|html|json] [--layouts DIR] [--components DIR]`: the
ageing-friendly and WCAG 2.2 assessment of the templates in `layouts/` (`engine.assess`): per
page, persona (default, elderly, low vision, screen reader) and theme (standard, dark), every
server-judged item with its result, measured figure and clause, and a score out of 100 (60 to
pass). Prints the report on stdout (Markdown by default); exits 1 when a server-judged item
fails (a CI gate), 2 when a page or file cannot be read, when there is no template to assess
(an empty or wrong layouts directory would otherwise pass the gate silently), or when a
template cannot be built with the catalogue (a type it does not know). Results recorded by
people live on a running server: `GET /v1/admin/assessment/{page}`.
"""

from __future__ import annotations

import argparse
import json
import sys

from uiserver.admin.assessment import assessment_json, to_html, to_markdown
from uiserver.catalog import LoadError, load_catalog, read_templates, template_version
from uiserver.config import default_components, default_layouts
from uiserver.engine import CompileError, Engine
from uiserver.policy import PolicyError, load_policy


def run(args: argparse.Namespace) -> int:
    """Assess the pages named (default: every template in the layouts directory)."""
    try:
        policy = load_policy(getattr(args, "policy", None))
        catalog = load_catalog(args.components or default_components())
        templates, errors = read_templates(args.layouts or default_layouts())
    except (PolicyError, LoadError, OSError) as exc:
        print(f"assess: {exc}", file=sys.stderr)
        return 2
    for error in errors:
        print(f"assess: {error}", file=sys.stderr)
    missing = [p for p in args.pages if p not in templates]
    if missing or errors:
        for page in missing:
            print(f"assess: no template for page {page!r}", file=sys.stderr)
        return 2
    pages = args.pages or sorted(templates)
    if not pages:
        print(f"assess: no templates in {args.layouts or default_layouts()}", file=sys.stderr)
        return 2
    engine = Engine(catalog, policy)
    reports = []
    for page in pages:
        try:
            compiled = engine.compile(templates[page], template_version(templates[page]))
        except CompileError as exc:
            print(f"assess: {page}: {exc}", file=sys.stderr)
            return 2
        reports.append(engine.assess(compiled))
    if args.format == "json":
        print(json.dumps([assessment_json(r) for r in reports], ensure_ascii=False, indent=2))
    elif args.format == "html":
        body = "".join(to_html(r) for r in reports)
        print(f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><body>{body}</body></html>')
    else:
        print("\n".join(to_markdown(r) for r in reports), end="")
    return 1 if any(r.score.failed for r in reports) else 0

"""`uiserver validate [PATHS] [--components DIR]`: schema and accessibility lint of files.

Prints `file: field: message` per problem and a summary on stderr; exits 1 when anything is
wrong, so CI and a pre-commit hook can run it. With no paths: the catalogue and `layouts/`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from uiserver.config import default_components, default_layouts
from uiserver.files import resolved
from uiserver.lint.files import validate_paths
from uiserver.policy import PolicyError, load_policy


def _display(path: Path) -> str:
    try:
        return str(resolved(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def run(args: argparse.Namespace) -> int:
    """`uiserver validate [PATHS]`: print `file: field: message` per problem; 1 if any."""
    try:
        policy = load_policy(getattr(args, "policy", None))
    except PolicyError as exc:
        print(f"policy: {exc}", file=sys.stderr)
        return 1
    components: Path = getattr(args, "components", None) or default_components()
    paths: list[Path] = list(getattr(args, "paths", None) or [])
    if not paths:
        paths = [components, default_layouts()]
    results = validate_paths(paths, components, policy)
    count = 0
    for path, problems in results.items():
        for problem in problems:
            print(f"{_display(path)}: {problem.field}: {problem.message}")
            count += 1
    files = len(results)
    summary = f"{files} file{'s' * (files != 1)} checked, {count} problem{'s' * (count != 1)}"
    print(summary, file=sys.stderr)
    return 1 if count else 0

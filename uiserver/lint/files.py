"""Lint of files on disk: one catalogue or template file, a directory, `uiserver validate`'s set.

Each file is decoded through `uiserver.documents` (the same limits as the admin API) and linted
by the rules of `lint.templates` and `lint.catalog`; every file gets an answer, so one
broken file hides nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from uiserver.catalog import (
    Catalog,
    LoadError,
    document_files,
    format_of,
    load_component_file,
    read_file,
)
from uiserver.files import resolved
from uiserver.lint.catalog import lint_component, lint_fallbacks
from uiserver.lint.templates import lint_pages, problem_from_load_error, validate_document
from uiserver.policy import Policy
from uiserver.schema import ComponentType, Problem, Template


def is_component_path(path: Path, components: Path | None = None) -> bool:
    """A catalogue entry lives under a directory named `components`, or under `components`."""
    parents = resolved(path).parents
    if components is not None and resolved(components) in parents:
        return True
    return any(parent.name == "components" for parent in parents)


def lint_component_file(path: Path, policy: Policy) -> tuple[ComponentType | None, list[Problem]]:
    """Decode and lint one catalogue file; the file name must be the type's name."""
    try:
        ctype = load_component_file(path)
    except LoadError as exc:
        return None, [problem_from_load_error(exc)]
    problems = lint_component(ctype, policy)
    if path.stem != ctype.name:
        problems.insert(
            0, Problem("name", f"{ctype.name!r} must match the file name {path.stem!r}")
        )
    return ctype, problems


def lint_template_file(
    path: Path, catalog: Catalog, policy: Policy
) -> tuple[Template | None, list[Problem]]:
    """Decode and lint one template file; the file name must be the page's name."""
    try:
        data = read_file(path)
    except LoadError as exc:
        return None, [problem_from_load_error(exc)]
    template, problems = validate_document(data, format_of(path), catalog, policy, name=str(path))
    if template is not None and path.stem != template.page:
        problems.insert(
            0, Problem("page", f"{template.page!r} must match the file name {path.stem!r}")
        )
    return template, problems


def load_catalog_leniently(
    directory: Path, policy: Policy
) -> tuple[Catalog, dict[Path, list[Problem]]]:
    """The types that load, plus the problems of every file, so one bad file hides nothing."""
    types: dict[str, ComponentType] = {}
    problems: dict[Path, list[Problem]] = {}
    files = document_files(directory) if directory.is_dir() else []
    for path in files:
        ctype, found = lint_component_file(path, policy)
        if ctype is not None and ctype.name in types:
            found.append(Problem("name", f"duplicate component type {ctype.name!r}"))
        elif ctype is not None:
            types[ctype.name] = ctype
        problems[path] = found
    fallbacks = lint_fallbacks(types)
    for path in problems:
        name = path.stem
        if name in fallbacks and name in types:
            problems[path].extend(fallbacks[name])
    return Catalog(types), problems


def _expand(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, and the documents of each directory named; a file named twice
    (`home.yaml ./home.yaml`, `$PWD/layouts/home.yaml`, a file and its directory) once, as first
    named: it was linted twice and refused as a page "also defined" in itself. Compared by the
    absolute path as written, symbolic links not followed: a link in a directory is a file of
    its own, as the server reads it."""
    files: dict[str, Path] = {}
    for path in paths:
        for file in document_files(path) if path.is_dir() else [path]:
            files.setdefault(os.path.normpath(file.absolute()), file)
    return list(files.values())


def _missing(path: Path) -> str:
    if path.is_symlink():
        return "a symbolic link to nothing (its target is missing, or the links form a loop)"
    return "no such file or directory"


def validate_paths(
    paths: Iterable[Path], components: Path, policy: Policy
) -> dict[Path, list[Problem]]:
    """Problems per file for `uiserver validate` (every file appears, clean ones with [])."""
    catalog, catalog_problems = load_catalog_leniently(components, policy)
    of_catalog = {resolved(p): found for p, found in catalog_problems.items()}
    results: dict[Path, list[Problem]] = {}
    templates: dict[Path, Template] = {}
    for path in _expand(paths):
        if not path.exists():
            results[path] = [Problem("$", _missing(path))]
        elif resolved(path) in of_catalog:
            results[path] = list(of_catalog[resolved(path)])
        elif is_component_path(path, components):
            results[path] = lint_component_file(path, policy)[1]
        else:
            template, results[path] = lint_template_file(path, catalog, policy)
            if template is not None:
                templates[path] = template
    if templates:
        # The templates were linted against this catalogue: its broken files explain
        # "unknown component type" messages, so they are part of the answer.
        named = {resolved(p) for p in results}
        for path, found in catalog_problems.items():
            if found and resolved(path) not in named:
                results[path] = found
    cross = lint_pages({str(p): t for p, t in templates.items()}, catalog)
    for path in templates:
        results[path].extend(cross.get(str(path), []))
    return results

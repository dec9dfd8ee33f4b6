"""Loading the component catalogue (`components/`) and page templates (`layouts/`).

Files are YAML or JSON decoded through `uiserver.documents` (with its limits) into strict Structs,
so a designer's typo fails with the field's path. They are read through `uiserver.files` (a
regular file within the size limit, checked before reading, never blocking on a FIFO).
`read_catalog`/`read_templates` load every good file and return a LoadError per bad one (the
server starts without them); `load_catalog`/`load_templates` raise the first.

A template's version is the hash of its canonical content: the same template always has the
same version, whichever file format or key order it was written in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import msgspec.json

from uiserver.documents import DEFAULT_LIMITS, DocumentError, Format, Limits, decode
from uiserver.files import FileRefused, read_limited
from uiserver.schema import ComponentType, Template

TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json")

T = TypeVar("T")

_canonical = msgspec.json.Encoder(order="sorted")


class LoadError(ValueError):
    """A file could not be read or decoded; `field` is the path inside the document."""

    def __init__(self, file: str, field: str, message: str) -> None:
        super().__init__(f"{file}: {field}: {message}")
        self.file = file
        self.field = field
        self.message = message


def decode_document(
    data: bytes | str,
    kind: type[T],
    *,
    name: str,
    fmt: Format = "yaml",
    limits: Limits = DEFAULT_LIMITS,
) -> T:
    """Decode YAML or JSON into `kind` (`uiserver.documents`, with its limits), raising
    LoadError with the failing field's path."""
    try:
        return decode(data, fmt, kind, limits)
    except DocumentError as exc:
        raise LoadError(name, exc.field, exc.message) from None


def format_of(path: Path) -> Format:
    """JSON for `.json` files, YAML for the rest."""
    return "json" if path.suffix == ".json" else "yaml"


# The longest version string accepted from outside (If-Match, base_version, a rollback target);
# versions this server makes are 16 hex digits (`template_version`).
VERSION_MAX = 64


def template_version(template: Template) -> str:
    """The content hash that names a template version (16 hex digits)."""
    return hashlib.sha256(_canonical.encode(template)).hexdigest()[:16]


def template_to_json(template: Template) -> bytes:
    return _canonical.encode(template)


def read_file(path: Path, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """A document file's bytes (`files.read_limited`: a regular file within the size limit,
    checked before reading); LoadError naming the file otherwise."""
    try:
        return read_limited(path, limits.max_bytes)
    except FileRefused as exc:
        raise LoadError(str(path), "$", exc.reason) from None
    except OSError as exc:
        raise LoadError(str(path), "$", f"cannot read: {exc.strerror or exc}") from None


def load_component_file(path: Path) -> ComponentType:
    return decode_document(read_file(path), ComponentType, name=str(path), fmt=format_of(path))


def load_template_file(path: Path) -> Template:
    return decode_document(read_file(path), Template, name=str(path), fmt=format_of(path))


def document_files(directory: Path) -> list[Path]:
    """The documents of a directory by name (`*.yaml`, `*.yml`, `*.json`, not hidden), whatever
    they are: a FIFO or a directory so named is listed, to be refused and reported by name
    rather than skipped in silence."""
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix in TEMPLATE_SUFFIXES and not p.name.startswith(".")
    )


@dataclass(frozen=True)
class Catalog:
    """The component types by name. Built once at start-up, read-only after."""

    types: Mapping[str, ComponentType] = field(default_factory=dict)

    def get(self, name: str) -> ComponentType | None:
        return self.types.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.types

    @classmethod
    def from_types(cls, types: Iterable[ComponentType]) -> Catalog:
        return cls({t.name: t for t in types})


def read_catalog(directory: Path) -> tuple[Catalog, list[LoadError]]:
    """Every component file in `directory` that loads, and an error for each one that does not
    (unreadable, too large, not a regular file, malformed, a duplicate name): one bad file
    costs only its own type."""
    types: dict[str, ComponentType] = {}
    errors: list[LoadError] = []
    for path in document_files(directory):
        try:
            ctype = load_component_file(path)
        except LoadError as exc:
            errors.append(exc)
            continue
        if ctype.name in types:
            errors.append(LoadError(str(path), "name", f"duplicate component type {ctype.name!r}"))
            continue
        types[ctype.name] = ctype
    return Catalog(types), errors


def read_templates(directory: Path) -> tuple[dict[str, Template], list[LoadError]]:
    """Every template in `directory` that loads, keyed by page, and an error for each file
    that does not (as `read_catalog`; a duplicate page keeps the first file by name)."""
    pages: dict[str, Template] = {}
    errors: list[LoadError] = []
    for path in document_files(directory):
        try:
            template = load_template_file(path)
        except LoadError as exc:
            errors.append(exc)
            continue
        if template.page in pages:
            errors.append(LoadError(str(path), "page", f"duplicate page {template.page!r}"))
            continue
        pages[template.page] = template
    return pages, errors


def load_catalog(directory: Path) -> Catalog:
    """Every component file in `directory`; the first bad file is a LoadError."""
    catalog, errors = read_catalog(directory)
    if errors:
        raise errors[0]
    return catalog


def load_templates(directory: Path) -> dict[str, Template]:
    """Every template in `directory`, keyed by page; the first bad file is a LoadError."""
    pages, errors = read_templates(directory)
    if errors:
        raise errors[0]
    return pages

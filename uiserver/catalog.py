"""Loading the component catalogue (`components/`) and page templates (`layouts/`).

Files are YAML or JSON decoded through `uiserver.documents` (with its limits) into strict Structs,
so a designer's typo fails with the field's path. A template's version is the hash of its
canonical content: the same template always has the same version, whichever file format or key
order it was written in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import msgspec.json

from uiserver.documents import DEFAULT_LIMITS, DocumentError, Format, Limits, decode
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


def load_component_file(path: Path) -> ComponentType:
    return decode_document(path.read_bytes(), ComponentType, name=str(path), fmt=format_of(path))


def load_template_file(path: Path) -> Template:
    return decode_document(path.read_bytes(), Template, name=str(path), fmt=format_of(path))


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in TEMPLATE_SUFFIXES and p.is_file())


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


def load_catalog(directory: Path) -> Catalog:
    """Load every component file in `directory`; a duplicate name is an error."""
    types: dict[str, ComponentType] = {}
    for path in _files(directory):
        ctype = load_component_file(path)
        if ctype.name in types:
            raise LoadError(str(path), "name", f"duplicate component type {ctype.name!r}")
        types[ctype.name] = ctype
    return Catalog(types)


def load_templates(directory: Path) -> dict[str, Template]:
    """Load every template in `directory`, keyed by page; a duplicate page is an error."""
    pages: dict[str, Template] = {}
    for path in _files(directory):
        template = load_template_file(path)
        if template.page in pages:
            raise LoadError(str(path), "page", f"duplicate page {template.page!r}")
        pages[template.page] = template
    return pages

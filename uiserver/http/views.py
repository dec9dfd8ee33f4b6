"""The Jinja2 environment of the console and the H5 preview: autoescape on, always.

Template labels, props and commit messages are designer input and end up in HTML; autoescape
(for every template, whatever its extension) makes `<script>` in a label print as text.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).with_name("templates")


def when(timestamp: float | None) -> str:
    """Unix seconds as a UTC time a person reads."""
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def px(value: float) -> str:
    """A CSS pixel length without float noise (`24px`, `17.6px`)."""
    return f"{value:.2f}".rstrip("0").rstrip(".") + "px"


def as_text(value: Any) -> str:
    """A JSON value as a person reads it: strings as JSON strings with their own characters
    (`"公告"`, never `"\\u516c\\u544a"`), numbers and objects as JSON. The page's autoescape
    escapes the markup characters; this is for display, never for a script."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def percent(value: float) -> str:
    return f"{value * 100:.1f}".rstrip("0").rstrip(".") + "%"


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(when=when, px=px, percent=percent, text=as_text)


def render(name: str, **context: Any) -> str:
    return environment.get_template(name).render(**context)

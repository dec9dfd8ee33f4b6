"""Schema and accessibility lint of the component catalogue and of page templates.

One set of rules serves `uiserver validate` (files reviewed in git), publication and the admin
API's validate endpoint, so a designer reads the same message wherever they edit. A problem is a
value, `Problem(field, message)`, with `field` a path into the document (`components[3].label`,
`theme.palette.muted`); nothing here prints or exits except `run_validate`.

Usage:

    template, problems = validate_document(body, "json", catalog, policy)
    if problems:
        ...  # 422 with [{"field", "message"}]
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec
import msgspec.structs

from uiserver.catalog import (
    TEMPLATE_SUFFIXES,
    Catalog,
    LoadError,
    decode_document,
    load_component_file,
)
from uiserver.engine.contrast import contrast_ratio
from uiserver.engine.theme import PAIRS
from uiserver.policy import Policy, PolicyError, load_policy
from uiserver.schema import (
    ComponentSpec,
    ComponentType,
    Palette,
    Problem,
    Template,
    ThemeSpec,
    VariantSpec,
)

Format = Literal["json", "yaml"]
ContrastKind = Literal["text", "ui"]

# The type elderly mode shows on every page (MIIT 5.1); a page without one cannot offer it.
VOICE_NAV_TYPE = "voice_nav_entry"

# Action buttons are buttons or links; any other role would tell a screen reader the wrong thing.
ACTION_ROLES = frozenset({"button", "link"})

# Global navigation must be named the same on every page (WCAG 3.2.4 consistent identification).
GLOBAL_NAV_ROLES = frozenset({"tablist"})

# Catalogue flag rules as data: (flag, implied flag, why).
IMPLIES: tuple[tuple[str, str, str], ...] = (
    (
        "interactive",
        "label_required",
        "interactive components need an accessible name (WCAG 4.1.2)",
    ),
    ("image", "label_required", "images need a text alternative (WCAG 1.1.1)"),
    ("action", "interactive", "an action button is interactive"),
)
# (flag, flag that may not go with it, why).
EXCLUDES: tuple[tuple[str, str, str], ...] = (
    ("essential", "ad", "elderly mode removes ads, so an ad cannot be essential"),
    ("essential", "promo", "elderly mode removes promotions, so a promotion cannot be essential"),
)
# A component instance needs a label when its type has any of these flags.
LABEL_FLAGS = ("label_required", "interactive", "image")

# Contrast pairs of a palette: the engine's table, so lint and serving check the same pairs.
PALETTE_PAIRS = PAIRS
# Theme palette fields, and whether each must meet the enhanced (AAA, 7:1) text floor.
PALETTE_FIELDS: Mapping[str, bool] = {
    "palette": False,
    "dark_palette": False,
    "high_contrast_palette": True,
}
# (kind, enhanced) -> (policy field holding the floor, the criterion it comes from).
CONTRAST_FLOORS: Mapping[tuple[ContrastKind, bool], tuple[str, str]] = {
    ("text", False): ("text_contrast", "WCAG 1.4.3"),
    ("text", True): ("enhanced_text_contrast", "WCAG 1.4.6"),
    ("ui", False): ("ui_contrast", "WCAG 1.4.11"),
    ("ui", True): ("ui_contrast", "WCAG 1.4.11"),
}

# Every field name a designer may write, for "did you mean" hints on typos.
_FIELD_NAMES = sorted(
    {
        f.name
        for struct in (Template, ThemeSpec, Palette, ComponentSpec, VariantSpec, ComponentType)
        for f in msgspec.structs.fields(struct)
    }
)
_UNKNOWN_OR_MISSING = re.compile(r"^Object (?:contains unknown|missing required) field `([^`]+)`")


# --------------------------------------------------------------------------- decoding


def problem_from_load_error(error: LoadError) -> Problem:
    """A decode failure as a Problem whose path names the offending field itself.

    msgspec reports an unknown or missing field at its parent (`components[3]`); a designer
    wants `components[3].lable`, the key they mistyped, and a hint at the one they meant.
    """
    field, message = error.field, " ".join(error.message.split())
    match = _UNKNOWN_OR_MISSING.match(message)
    if match:
        name = match.group(1)
        field = name if field in ("", "$") else f"{field}.{name}"
        close = difflib.get_close_matches(name, _FIELD_NAMES, n=1)
        if "unknown" in message and close:
            message += f"; did you mean {close[0]!r}?"
    return Problem(field, message)


def _field_of(exc: msgspec.ValidationError) -> tuple[str, str]:
    """Split msgspec's `message - at `$.a[0].b`` into ("a[0].b", message)."""
    text = str(exc)
    message, sep, where = text.rpartition(" - at `$")
    if not sep:
        return "$", text
    return where.rstrip("`").lstrip(".") or "$", message


def decode_template(
    data: bytes | str | Mapping[str, Any], fmt: Format = "json", *, name: str = "template"
) -> Template:
    """Bytes (JSON or YAML) or an already-parsed mapping as a Template; LoadError on failure.

    Mappings go through `msgspec.convert`, so a body the HTTP layer already parsed gets the
    same field paths as a file.
    """
    if isinstance(data, Mapping):
        try:
            return msgspec.convert(data, Template)
        except msgspec.ValidationError as exc:
            where, message = _field_of(exc)
            raise LoadError(name, where, message) from exc
    return decode_document(data, Template, name=name, fmt=fmt)


def validate_document(
    data: bytes | str | Mapping[str, Any],
    fmt: Format,
    catalog: Catalog,
    policy: Policy,
    *,
    name: str = "template",
) -> tuple[Template | None, list[Problem]]:
    """Decode and lint a template: (the template or None, every problem found).

    The admin API answers `{"ok": not problems, "problems": [...]}` from this, and refuses to
    publish when the list is not empty.
    """
    try:
        template = decode_template(data, fmt, name=name)
    except LoadError as exc:
        return None, [problem_from_load_error(exc)]
    return template, lint_template(template, catalog, policy)


# --------------------------------------------------------------------------- catalogue


def _check_flag_rules(ctype: ComponentType, policy: Policy) -> Iterator[Problem]:
    for flag, implied, why in IMPLIES:
        if getattr(ctype, flag) and not getattr(ctype, implied):
            yield Problem(implied, f"must be true when {flag} is true: {why}")
    for flag, other, why in EXCLUDES:
        if getattr(ctype, flag) and getattr(ctype, other):
            yield Problem(flag, f"{flag} and {other} are both true: {why}")
    if ctype.action and ctype.role not in ACTION_ROLES:
        yield Problem("role", f"an action button has role button or link, not {ctype.role!r}")


def _check_type_sizes(ctype: ComponentType, policy: Policy) -> Iterator[Problem]:
    if ctype.min_font_px > ctype.default_font_px:
        yield Problem(
            "min_font_px",
            f"{ctype.min_font_px:g} px is above default_font_px {ctype.default_font_px:g} px",
        )
    if ctype.min_target_px > ctype.default_target_px:
        yield Problem(
            "min_target_px",
            f"{ctype.min_target_px:g} px is above default_target_px {ctype.default_target_px:g} px",
        )
    floor, why = _target_floor(ctype, policy)
    for field in ("min_target_px", "default_target_px"):
        value = getattr(ctype, field)
        if value < floor:
            yield Problem(field, f"{value:g} px is below {floor:g} px, {why}")


def _check_columns(ctype: ComponentType, policy: Policy) -> Iterator[Problem]:
    if ctype.grid and ctype.columns < 1:
        yield Problem("columns", "a grid needs at least 1 column on a phone")
    if not ctype.grid and ctype.columns != 0:
        yield Problem("columns", "only grids have columns (set grid: true or columns: 0)")


COMPONENT_CHECKS: tuple[Callable[[ComponentType, Policy], Iterable[Problem]], ...] = (
    _check_flag_rules,
    _check_type_sizes,
    _check_columns,
)


def lint_component(ctype: ComponentType, policy: Policy) -> list[Problem]:
    """Problems of one catalogue entry (field paths relative to the component file)."""
    return [p for check in COMPONENT_CHECKS for p in check(ctype, policy)]


def _target_floor(ctype: ComponentType, policy: Policy) -> tuple[float, str]:
    """The smallest touch target a component of this type may have, and why."""
    if ctype.interactive:
        return policy.min_target_px, "the minimum for interactive components (WCAG 2.5.5)"
    return policy.absolute_min_target_px, "the absolute minimum (WCAG 2.5.8)"


# --------------------------------------------------------------------------- templates


def _where(index: int, field: str | None = None) -> str:
    return f"components[{index}]" + (f".{field}" if field else "")


def _known(
    template: Template, catalog: Catalog
) -> Iterator[tuple[int, ComponentSpec, ComponentType]]:
    """Components whose type the catalogue knows (unknown ones are reported once, elsewhere)."""
    for i, spec in enumerate(template.components):
        ctype = catalog.get(spec.type)
        if ctype is not None:
            yield i, spec, ctype


def _check_page(template: Template, catalog: Catalog, policy: Policy) -> Iterator[Problem]:
    if not template.title.strip():
        yield Problem("title", "the page title is empty")
    if not template.components:
        yield Problem("components", "a page needs at least one component")
    elif not any(spec.visible for spec in template.components):
        yield Problem("components", "every component is hidden by default: the base page is empty")
    if (
        VOICE_NAV_TYPE in catalog
        and template.components
        and not any(spec.type == VOICE_NAV_TYPE for spec in template.components)
    ):
        yield Problem(
            "components",
            f"no {VOICE_NAV_TYPE}: elderly mode must offer voice navigation (MIIT 5.1); "
            "add one, hidden by default if you like",
        )


def _check_ids_and_types(template: Template, catalog: Catalog, policy: Policy) -> Iterator[Problem]:
    first: dict[str, int] = {}
    for i, spec in enumerate(template.components):
        if spec.id in first:
            yield Problem(
                _where(i, "id"), f"duplicate id {spec.id!r} (first at {_where(first[spec.id])})"
            )
        else:
            first[spec.id] = i
        if spec.type not in catalog:
            close = difflib.get_close_matches(spec.type, list(catalog.types), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            yield Problem(_where(i, "type"), f"unknown component type {spec.type!r}{hint}")


def _check_labels(template: Template, catalog: Catalog, policy: Policy) -> Iterator[Problem]:
    for i, spec in enumerate(template.components):
        if spec.label is not None and not spec.label.strip():
            yield Problem(_where(i, "label"), "the label is empty or only whitespace")
    for i, spec, ctype in _known(template, catalog):
        needs = [flag for flag in LABEL_FLAGS if getattr(ctype, flag)]
        if spec.label is None and needs:
            yield Problem(
                _where(i, "label"),
                f"missing label: a {ctype.name} ({', '.join(needs)}) needs an accessible name "
                "(WCAG 4.1.2, 1.1.1)",
            )


def _check_sizes(template: Template, catalog: Catalog, policy: Policy) -> Iterator[Problem]:
    for i, spec, ctype in _known(template, catalog):
        target = spec.min_target_px if spec.min_target_px is not None else ctype.default_target_px
        source = "" if spec.min_target_px is not None else f" (the {ctype.name} default)"
        floor, why = _target_floor(ctype, policy)
        # Strictest first, so each component gets the one message that matters.
        floors = (
            (policy.absolute_min_target_px, "the absolute minimum (WCAG 2.5.8)"),
            (floor, why),
            (ctype.min_target_px, f"the {ctype.name} minimum"),
        )
        for limit, reason in floors:
            if target < limit:
                yield Problem(
                    _where(i, "min_target_px"),
                    f"target {target:g} px{source} is below {limit:g} px, {reason}",
                )
                break
        font = spec.font_px if spec.font_px is not None else ctype.default_font_px
        if font < ctype.min_font_px:
            yield Problem(
                _where(i, "font_px"),
                f"font {font:g} px is below the {ctype.name} minimum {ctype.min_font_px:g} px",
            )


def _check_placements(template: Template, catalog: Catalog, policy: Policy) -> Iterator[Problem]:
    taken: dict[str, int] = {}
    for i, spec, ctype in _known(template, catalog):
        if spec.placement == "flow":
            continue
        if not ctype.action:
            yield Problem(
                _where(i, "placement"),
                f"placement {spec.placement!r} is only for action buttons; "
                f"a {ctype.name} flows with the page",
            )
        elif spec.placement in taken:
            j = taken[spec.placement]
            yield Problem(
                _where(i, "placement"),
                f"{spec.placement} is already taken by {_where(j)} "
                f"({template.components[j].id!r}): buttons would overlap",
            )
        else:
            taken[spec.placement] = i


def _check_segments(template: Template, catalog: Catalog, policy: Policy) -> Iterator[Problem]:
    for i, spec in enumerate(template.components):
        rules = (
            ("show_for_segments", spec.show_for_segments, "shown"),
            ("hide_for_segments", spec.hide_for_segments, "hidden"),
        )
        for field, segments, verb in rules:
            if not segments:
                continue
            if spec.pinned:
                yield Problem(
                    _where(i, field),
                    f"a pinned component is never {verb} by personalization (WCAG 3.2.3); "
                    "unpin it or drop the segment rule",
                )
            if any(not s.strip() for s in segments):
                yield Problem(_where(i, field), "a segment name is empty")
        both = sorted(set(spec.show_for_segments) & set(spec.hide_for_segments))
        if both:
            yield Problem(_where(i, "hide_for_segments"), f"segments both shown and hidden: {both}")
        if spec.visible and spec.show_for_segments:
            yield Problem(
                _where(i, "show_for_segments"),
                "has no effect on a visible component (set visible: false to show it only "
                "for these segments)",
            )
        if not spec.visible and spec.hide_for_segments:
            yield Problem(_where(i, "hide_for_segments"), "has no effect on a hidden component")
        if spec.category is not None and not spec.category.strip():
            yield Problem(_where(i, "category"), "the category is empty (omit it to use the id)")


def _check_palettes(template: Template, catalog: Catalog, policy: Policy) -> Iterator[Problem]:
    themes: list[tuple[str, ThemeSpec | None]] = [("theme", template.theme)]
    themes += [(f"variants[{i}].theme", v.theme) for i, v in enumerate(template.variants)]
    for where, theme in themes:
        if theme is None:
            continue
        for field, enhanced in PALETTE_FIELDS.items():
            palette = getattr(theme, field)
            if palette is not None:
                yield from lint_palette(
                    palette, policy, enhanced=enhanced, where=f"{where}.{field}"
                )


def lint_palette(
    palette: Palette, policy: Policy, *, enhanced: bool = False, where: str = "palette"
) -> list[Problem]:
    """Every contrast pair of a palette against the policy's floors (AA, or AAA if enhanced)."""
    problems = []
    for fg_name, bg_name, kind in PALETTE_PAIRS:
        fg, bg = getattr(palette, fg_name), getattr(palette, bg_name)
        if fg is None or bg is None:
            continue
        floor_field, source = CONTRAST_FLOORS[kind, enhanced]
        floor: float = getattr(policy, floor_field)
        ratio = contrast_ratio(fg, bg)
        if ratio < floor:
            # Round as contrast checkers do (4.48), but never up to a passing-looking 4.50.
            shown = round(ratio, 2)
            if shown >= floor:
                shown = math.floor(ratio * 100) / 100
            problems.append(
                Problem(
                    f"{where}.{fg_name}",
                    f"{fg_name} {fg} on {bg_name} {bg} has contrast {shown:.2f}:1, below "
                    f"{floor:g}:1 for {'text' if kind == 'text' else 'UI parts'} ({source})",
                )
            )
    return problems


def _check_variants(template: Template, catalog: Catalog, policy: Policy) -> Iterator[Problem]:
    if template.variants and not template.experiment:
        yield Problem("experiment", "variants need an experiment id for sticky bucketing")
    if template.experiment and not template.variants:
        yield Problem("variants", f"experiment {template.experiment!r} has no variants")
    if template.variants and sum(v.weight for v in template.variants) == 0:
        yield Problem("variants", "the variant weights sum to 0: no user can be bucketed")
    seen: set[str] = set()
    for i, variant in enumerate(template.variants):
        if variant.name in seen:
            yield Problem(f"variants[{i}].name", f"duplicate variant name {variant.name!r}")
        seen.add(variant.name)
        yield from _check_variant_order(template, i, variant)
        yield from _check_variant_props(template, i, variant)


def _check_variant_order(template: Template, i: int, variant: VariantSpec) -> Iterator[Problem]:
    if variant.order is None:
        return
    where = f"variants[{i}].order"
    base = [spec.id for spec in template.components]
    order = variant.order
    missing = [c for c in base if c not in order]
    unknown = [c for c in order if c not in base]
    repeated = sorted({c for c in order if order.count(c) > 1})
    for label, ids in (("misses", missing), ("names unknown ids", unknown), ("repeats", repeated)):
        if ids:
            yield Problem(where, f"must be a permutation of the component ids; it {label} {ids}")
    if missing or unknown or repeated:
        return
    for spec in template.components:
        if spec.pinned and order.index(spec.id) != base.index(spec.id):
            yield Problem(
                where,
                f"moves pinned component {spec.id!r} from position {base.index(spec.id)} to "
                f"{order.index(spec.id)}; navigation stays put (WCAG 3.2.3)",
            )


def _check_variant_props(template: Template, i: int, variant: VariantSpec) -> Iterator[Problem]:
    index = {spec.id: j for j, spec in enumerate(template.components)}
    for component_id, props in variant.props.items():
        where = f"variants[{i}].props.{component_id}"
        if component_id not in index:
            yield Problem(where, f"no component has id {component_id!r}")
        elif "label" in props:
            yield Problem(
                f"{where}.label",
                "a component has one label in every variant (WCAG 3.2.4); change "
                f"{_where(index[component_id], 'label')} instead",
            )


TEMPLATE_CHECKS: tuple[Callable[[Template, Catalog, Policy], Iterable[Problem]], ...] = (
    _check_page,
    _check_ids_and_types,
    _check_labels,
    _check_sizes,
    _check_placements,
    _check_segments,
    _check_palettes,
    _check_variants,
)


def lint_template(template: Template, catalog: Catalog, policy: Policy) -> list[Problem]:
    """Every schema-independent problem of one template, in document order of the checks."""
    return [p for check in TEMPLATE_CHECKS for p in check(template, catalog, policy)]


def lint_pages(templates: Mapping[str, Template], catalog: Catalog) -> dict[str, list[Problem]]:
    """Problems across pages, keyed like `templates` (by file name or page).

    Global navigation (the tab bar) must carry the same label on every page (WCAG 3.2.4);
    two templates for the same page would race for it.
    """
    problems: dict[str, list[Problem]] = {}
    first_label: dict[tuple[str, str], tuple[str, str]] = {}
    first_page: dict[str, str] = {}
    for key, template in templates.items():
        if template.page in first_page:
            problems.setdefault(key, []).append(
                Problem(
                    "page", f"page {template.page!r} is also defined in {first_page[template.page]}"
                )
            )
        first_page.setdefault(template.page, key)
        for i, spec, ctype in _known(template, catalog):
            if ctype.role not in GLOBAL_NAV_ROLES and ctype.name != VOICE_NAV_TYPE:
                continue
            if spec.label is None:
                continue
            seen = first_label.setdefault((spec.type, spec.id), (spec.label, template.page))
            if seen[0] != spec.label:
                problems.setdefault(key, []).append(
                    Problem(
                        _where(i, "label"),
                        f"{spec.label!r} differs from {seen[0]!r} on page {seen[1]!r}: navigation "
                        "is named the same on every page (WCAG 3.2.4)",
                    )
                )
    return problems


# --------------------------------------------------------------------------- files


def is_component_path(path: Path, components: Path | None = None) -> bool:
    """A catalogue entry lives under a directory named `components`, or under `components`."""
    parents = path.resolve().parents
    if components is not None and components.resolve() in parents:
        return True
    return any(parent.name == "components" for parent in parents)


def _format_of(path: Path) -> Format:
    return "json" if path.suffix == ".json" else "yaml"


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
        data = path.read_bytes()
    except OSError as exc:
        return None, [Problem("$", f"cannot read: {exc.strerror or exc}")]
    template, problems = validate_document(data, _format_of(path), catalog, policy, name=str(path))
    if template is not None and path.stem != template.page:
        problems.insert(
            0, Problem("page", f"{template.page!r} must match the file name {path.stem!r}")
        )
    return template, problems


def lint_file(path: Path, catalog: Catalog, policy: Policy) -> list[Problem]:
    """Problems of one file: a component type under `components/`, else a template."""
    if is_component_path(path):
        return lint_component_file(path, policy)[1]
    return lint_template_file(path, catalog, policy)[1]


def _document_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in TEMPLATE_SUFFIXES)


def load_catalog_leniently(
    directory: Path, policy: Policy
) -> tuple[Catalog, dict[Path, list[Problem]]]:
    """The types that load, plus the problems of every file, so one bad file hides nothing."""
    types: dict[str, ComponentType] = {}
    problems: dict[Path, list[Problem]] = {}
    files = _document_files(directory) if directory.is_dir() else []
    for path in files:
        ctype, found = lint_component_file(path, policy)
        if ctype is not None and ctype.name in types:
            found.append(Problem("name", f"duplicate component type {ctype.name!r}"))
        elif ctype is not None:
            types[ctype.name] = ctype
        problems[path] = found
    return Catalog(types), problems


# --------------------------------------------------------------------------- CLI


def _default_layouts() -> Path:
    from uiserver.cli import _default_dir

    return Path(os.environ.get("UISERVER_LAYOUTS", str(_default_dir("layouts"))))


def _default_components() -> Path:
    from uiserver.cli import _default_dir

    return Path(os.environ.get("UISERVER_COMPONENTS", str(_default_dir("components"))))


def _expand(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, and the documents of each directory named."""
    files: list[Path] = []
    for path in paths:
        files.extend(_document_files(path) if path.is_dir() else [path])
    return files


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def validate_paths(
    paths: Iterable[Path], components: Path, policy: Policy
) -> dict[Path, list[Problem]]:
    """Problems per file for `uiserver validate` (every file appears, clean ones with [])."""
    catalog, catalog_problems = load_catalog_leniently(components, policy)
    of_catalog = {p.resolve(): found for p, found in catalog_problems.items()}
    results: dict[Path, list[Problem]] = {}
    templates: dict[Path, Template] = {}
    for path in _expand(paths):
        if not path.exists():
            results[path] = [Problem("$", "no such file or directory")]
        elif path.resolve() in of_catalog:
            results[path] = list(of_catalog[path.resolve()])
        elif is_component_path(path, components):
            results[path] = lint_component_file(path, policy)[1]
        else:
            template, results[path] = lint_template_file(path, catalog, policy)
            if template is not None:
                templates[path] = template
    if templates:
        # The templates were linted against this catalogue: its broken files explain
        # "unknown component type" messages, so they are part of the answer.
        named = {p.resolve() for p in results}
        for path, found in catalog_problems.items():
            if found and path.resolve() not in named:
                results[path] = found
    cross = lint_pages({str(p): t for p, t in templates.items()}, catalog)
    for path in templates:
        results[path].extend(cross.get(str(path), []))
    return results


def run_validate(args: argparse.Namespace) -> int:
    """`uiserver validate [PATHS]`: print `file: field: message` per problem; 1 if any."""
    try:
        policy = load_policy(getattr(args, "policy", None))
    except PolicyError as exc:
        print(f"policy: {exc}", file=sys.stderr)
        return 1
    components: Path = getattr(args, "components", None) or _default_components()
    paths: list[Path] = list(getattr(args, "paths", None) or [])
    if not paths:
        paths = [components, _default_layouts()]
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

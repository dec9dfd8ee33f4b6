"""Schema and accessibility lint of page templates: the rules, and a document decoded and linted.

One set of rules serves `uiserver validate` (files reviewed in git), publication and the admin
API's validate endpoint, so a designer reads the same message wherever they edit. A problem is a
value, `Problem(field, message)`, with `field` a path into the document (`components[3].label`,
`theme.palette.muted`); nothing here prints, exits or reads files. Catalogue rules live in
`lint.catalog`, contrast in `lint.contrast`, props in `lint.props`,
navigation and zones in `lint.zones`, files in `lint.files`.

Usage:

    template, problems = validate_document(body, "json", catalog, policy)
    if problems:
        ...  # 422 with [{"field", "message"}]
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import msgspec.structs

from uiserver.catalog import Catalog, LoadError, decode_document
from uiserver.documents import DocumentError, Format, convert, named_field, unknown_field_name
from uiserver.engine.allocation import MAX_VARIANTS
from uiserver.engine.labels import has_visible_text
from uiserver.lint.catalog import target_floor
from uiserver.lint.contrast import check_palettes
from uiserver.lint.elderly import check_elderly
from uiserver.lint.props import check_props
from uiserver.lint.zones import check_navigation_pinned, check_zones
from uiserver.policy import Policy
from uiserver.schema import (
    IDENT_MAX,
    IDENT_RULE,
    ComponentSpec,
    ComponentType,
    Palette,
    Problem,
    Template,
    ThemeSpec,
    VariantSpec,
    ZoneSpec,
    is_ident,
)
from uiserver.types import GLOBAL_NAV_ROLES, VOICE_NAV_TYPE

# A component instance needs a label when its type has any of these flags.
LABEL_FLAGS = ("label_required", "interactive", "image")

# The most components a template may have. WeChat's performance guidance for mini-programs
# ("WXML 节点数" in the experience audit, developers.weixin.qq.com, 体验评分) asks for fewer than
# 1,000 WXML nodes per page; the reference renderer (`clients/miniprogram`, <ui-layout>) draws
# every component with at least 4 nodes (the item view, the component's host, its block and
# its label), so 1,000 nodes hold at most 250 components, less the page's own containers: 200.
# The shipped pages have 10-48. Bounding it also bounds what every per-component pass costs
# (lint, compile, the diff of two versions, a three-way merge).
MAX_COMPONENTS = 200

# Every field name a designer may write, for "did you mean" hints on typos.
_FIELD_NAMES = sorted(
    {
        f.name
        for struct in (
            Template,
            ThemeSpec,
            Palette,
            ComponentSpec,
            VariantSpec,
            ComponentType,
            ZoneSpec,
        )
        for f in msgspec.structs.fields(struct)
    }
)


# --------------------------------------------------------------------------- decoding


def problem_from_load_error(error: LoadError) -> Problem:
    """A decode failure as a Problem whose path names the offending field itself.

    msgspec reports an unknown or missing field at its parent (`components[3]`); a designer
    wants `components[3].lable`, the key they mistyped, and a hint at the one they meant.
    """
    message = " ".join(error.message.split())
    field = named_field(error.field, message)
    name = unknown_field_name(message)
    close = difflib.get_close_matches(name, _FIELD_NAMES, n=1) if name else []
    if close:
        message += f"; did you mean {close[0]!r}?"
    return Problem(field, message)


def decode_template(
    data: bytes | str | Mapping[str, Any], fmt: Format = "json", *, name: str = "template"
) -> Template:
    """Bytes (JSON or YAML) or an already-parsed mapping as a Template; LoadError on failure.

    Mappings go through `documents.convert`, so a body the HTTP layer already parsed gets the
    same field paths as a file.
    """
    if isinstance(data, Mapping):
        try:
            return convert(data, Template)
        except DocumentError as exc:
            raise LoadError(name, exc.field, exc.message) from None
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
        if spec.label is not None and not has_visible_text(spec.label):
            yield Problem(
                _where(i, "label"),
                "the label has no visible text (empty, spaces, or only invisible characters such "
                "as a zero-width space): screen readers would announce nothing (WCAG 4.1.2)",
            )
    for i, spec, ctype in _known(template, catalog):
        needs = [flag for flag in LABEL_FLAGS if getattr(ctype, flag)]
        if spec.label is None and needs:
            yield Problem(
                _where(i, "label"),
                f"missing label: a {ctype.name} ({', '.join(needs)}) needs an accessible name "
                "(WCAG 4.1.2, 1.1.1)",
            )


def _check_theme_fonts(template: Template, catalog: Catalog, policy: Policy) -> Iterator[Problem]:
    themes: list[tuple[str, ThemeSpec | None]] = [("theme", template.theme)]
    themes += [(f"variants[{i}].theme", v.theme) for i, v in enumerate(template.variants)]
    for where, theme in themes:
        if theme is not None and theme.font_px < policy.min_font_px:
            yield Problem(
                f"{where}.font_px",
                f"base font {theme.font_px:g} px is below the policy floor "
                f"{policy.min_font_px:g} px (policy.min_font_px)",
            )


def _check_sizes(template: Template, catalog: Catalog, policy: Policy) -> Iterator[Problem]:
    for i, spec, ctype in _known(template, catalog):
        target = spec.min_target_px if spec.min_target_px is not None else ctype.default_target_px
        source = "" if spec.min_target_px is not None else f" (the {ctype.name} default)"
        floor, why = target_floor(ctype, policy)
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
        yield from _segment_rule_problems(i, spec)
        both = sorted(set(spec.show_for_segments) & set(spec.hide_for_segments))
        if both:
            yield Problem(_where(i, "hide_for_segments"), f"segments both shown and hidden: {both}")
        scenes = sorted(set(spec.show_for_scenes) & set(spec.hide_for_scenes))
        if scenes:
            yield Problem(_where(i, "hide_for_scenes"), f"scenes both shown and hidden: {scenes}")
        yield from _visibility_rule_problems(i, spec)
        if spec.category is not None and not spec.category.strip():
            yield Problem(_where(i, "category"), "the category is empty (omit it to use the id)")


def _segment_rule_problems(i: int, spec: ComponentSpec) -> Iterator[Problem]:
    """A show/hide rule on a pinned component (WCAG 3.2.3: it never changes), or with an empty
    segment name."""
    rules = (
        ("show_for_segments", spec.show_for_segments, "shown"),
        ("hide_for_segments", spec.hide_for_segments, "hidden"),
        ("show_for_scenes", spec.show_for_scenes, "shown"),
        ("hide_for_scenes", spec.hide_for_scenes, "hidden"),
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


def _visibility_rule_problems(i: int, spec: ComponentSpec) -> Iterator[Problem]:
    """Rules that cannot act: `show_for_*` on a visible component, `hide_for_*` on a hidden one."""
    for field, what in (("show_for_segments", "segments"), ("show_for_scenes", "scenes")):
        if spec.visible and getattr(spec, field):
            yield Problem(
                _where(i, field),
                "has no effect on a visible component (set visible: false to show it only "
                f"for these {what})",
            )
    for field in ("hide_for_segments", "hide_for_scenes"):
        if not spec.visible and getattr(spec, field):
            yield Problem(_where(i, field), "has no effect on a hidden component")


def _not_ident(value: str) -> str:
    """Why `value` is no identifier, without repeating it whole (it may be 300 KB)."""
    what = f"{value!r}" if len(value) <= IDENT_MAX else f"{len(value)} characters"
    return f"must be an identifier ({IDENT_RULE}), not {what}"


def _check_identifiers(template: Template, catalog: Catalog, policy: Policy) -> Iterator[Problem]:
    """Names that become keys or are copied into users' data (the experiment id into every
    exposed user's counters, a category into every clicking user's affinities, segment names
    compared with users' segments) are identifiers, bounded like page names (`schema.Ident`).

    Checked here, not by the schema, so versions stored before the rule still load and serve;
    publishing (a rollback too) refuses them and the template list shows them as failing."""
    if template.experiment and not is_ident(template.experiment):
        yield Problem("experiment", "the experiment id " + _not_ident(template.experiment))
    for i, spec in enumerate(template.components):
        if spec.category is not None and spec.category.strip() and not is_ident(spec.category):
            yield Problem(_where(i, "category"), "a category " + _not_ident(spec.category))
        for field in ("show_for_segments", "hide_for_segments"):
            names: list[str] = getattr(spec, field)
            for j, name in enumerate(names):
                if name.strip() and not is_ident(name):
                    yield Problem(_where(i, f"{field}[{j}]"), "a segment name " + _not_ident(name))


def _check_variants(template: Template, catalog: Catalog, policy: Policy) -> Iterator[Problem]:
    if template.variants and not template.experiment:
        yield Problem("experiment", "variants need an experiment id for sticky bucketing")
    if template.experiment and not template.variants:
        shown = template.experiment if is_ident(template.experiment) else "id"
        yield Problem("variants", f"experiment {shown!r} has no variants")
    if template.variants and sum(v.weight for v in template.variants) == 0:
        yield Problem("variants", "the variant weights sum to 0: no user can be bucketed")
    if len(template.variants) > MAX_VARIANTS:
        yield Problem(
            "variants",
            f"{len(template.variants)} variants: at most {MAX_VARIANTS} (one byte per bucket "
            "names a bucket's variant)",
        )
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
    _check_identifiers,
    _check_page,
    _check_ids_and_types,
    _check_labels,
    _check_theme_fonts,
    _check_sizes,
    _check_placements,
    _check_segments,
    check_navigation_pinned,
    check_zones,
    check_palettes,
    check_props,
    check_elderly,
    _check_variants,
)


def lint_template(template: Template, catalog: Catalog, policy: Policy) -> list[Problem]:
    """Every schema-independent problem of one template, in document order of the checks.

    A template over `MAX_COMPONENTS` gets that one problem: the other checks would cost as
    much as the template is large, and it cannot be published whatever they say."""
    count = len(template.components)
    if count > MAX_COMPONENTS:
        return [
            Problem(
                "components",
                f"a page has at most {MAX_COMPONENTS} components, not {count} (WeChat's "
                "guidance: under 1,000 WXML nodes a page)",
            )
        ]
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

"""Lint rules of the component catalogue (`components/`): flag rules and size floors.

A problem is a value, `Problem(field, message)`, with `field` relative to the component file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from uiserver.lint.props import FIXED_HEIGHT_PROPS
from uiserver.policy import Policy
from uiserver.schema import ComponentType, Problem
from uiserver.types import ACTION_ROLES, TABLIST, TEXTLESS_ROLES

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


def target_floor(ctype: ComponentType, policy: Policy) -> tuple[float, str]:
    """The smallest touch target a component of this type may have, and why."""
    if ctype.interactive:
        return policy.min_target_px, "the minimum for interactive components (WCAG 2.5.5)"
    return policy.absolute_min_target_px, "the absolute minimum (WCAG 2.5.8)"


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
    floor, why = target_floor(ctype, policy)
    for field in ("min_target_px", "default_target_px"):
        value = getattr(ctype, field)
        if value < floor:
            yield Problem(field, f"{value:g} px is below {floor:g} px, {why}")


def _check_columns(ctype: ComponentType, policy: Policy) -> Iterator[Problem]:
    if ctype.grid and ctype.columns < 1:
        yield Problem("columns", "a grid needs at least 1 column on a phone")
    if not ctype.grid and ctype.columns != 0:
        yield Problem("columns", "only grids have columns (set grid: true or columns: 0)")
    if ctype.column_prop is not None and not (ctype.grid or ctype.role == TABLIST):
        yield Problem("column_prop", "only grids and tab lists reflow (set grid: true)")
    if ctype.row_prop is not None and ctype.column_prop is None:
        yield Problem("row_prop", "a row prop grows when columns drop: set column_prop too")


def _check_prop_schema(ctype: ComponentType, policy: Policy) -> Iterator[Problem]:
    for name, spec in ctype.props.items():
        where = f"props.{name}"
        if spec.pressure is not None and spec.type != "boolean":
            yield Problem(where, "a pressure prop is a boolean (set: the component exerts it)")
        if (spec.type == "colour") != (spec.colour_role is not None):
            yield Problem(where, "a colour prop needs a colour_role; only a colour prop has one")
        if spec.enum is not None and spec.type != "string":
            yield Problem(f"{where}.enum", "only string props have an enum")
        if (spec.minimum is not None or spec.maximum is not None) and spec.type not in (
            "integer",
            "number",
        ):
            yield Problem(where, "only integer and number props have a minimum or maximum")
        if name in FIXED_HEIGHT_PROPS and ctype.role not in TEXTLESS_ROLES:
            yield Problem(
                where, f"a fixed {name} clips text when fonts scale up to 2.0 (WCAG 1.4.4, 1.4.12)"
            )


COMPONENT_CHECKS: tuple[Callable[[ComponentType, Policy], Iterable[Problem]], ...] = (
    _check_flag_rules,
    _check_type_sizes,
    _check_columns,
    _check_prop_schema,
)


def lint_component(ctype: ComponentType, policy: Policy) -> list[Problem]:
    """Problems of one catalogue entry (field paths relative to the component file)."""
    return [p for check in COMPONENT_CHECKS for p in check(ctype, policy)]


def lint_fallbacks(types: Mapping[str, ComponentType]) -> dict[str, list[Problem]]:
    """Problems of each type's `fallback` (`engine.capability`), by type name: it must name
    another catalogue type, its chain must not loop, and the fallback must be drawn by every
    renderer that needs it (its `since` no later than the type's: otherwise the clients that
    cannot draw the type cannot draw its fallback either)."""
    out: dict[str, list[Problem]] = {}
    for name, ctype in types.items():
        target = ctype.fallback
        if target is None:
            continue
        problems = out.setdefault(name, [])
        if target == name or target not in types:
            what = "itself" if target == name else f"{target!r}, which is not in the catalogue"
            problems.append(Problem("fallback", f"the fallback names {what}"))
            continue
        if _version(types[target].since) > _version(ctype.since):
            problems.append(
                Problem(
                    "fallback",
                    f"{target!r} needs renderer {types[target].since}, later than this "
                    f"type's {ctype.since}: clients that cannot draw {name!r} cannot draw it",
                )
            )
        seen: set[str] = {name}
        at: str | None = target
        while at is not None and at in types and at not in seen:
            seen.add(at)
            at = types[at].fallback
        if at is not None and at in seen:
            problems.append(Problem("fallback", f"the fallback chain loops back to {at!r}"))
    return {name: found for name, found in out.items() if found}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))

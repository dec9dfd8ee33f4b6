"""The H5 rendering of a layout: the page drawn the way the mini-program would draw it.

Designers judge a personalized page by looking at it, so the preview uses the layout's real
numbers: each component's `font_px`, its `min_target_px` as min-height/min-width of everything it
makes tappable, the theme's palette and line height, and its label as the accessible name of the
element its role maps to (button -> <button>, navigation -> <nav>, search -> role=search with a
labelled input, image -> <img alt>, list -> <ul>). Labels and props are data from a template and
may contain markup: Jinja's autoescape prints them as text.

It draws the device, not a document: a frame at the device's width (`FRAMES`: phone 375, tablet
768, desktop 1280 CSS px, or the context's `width`) around a viewport of the device's height
whose content scrolls inside it. Placements sit where the mini-program pins them: `top_left` /
`top_right` in the navigation bar, `bottom_*` combined into one action bar fixed to the bottom
of the viewport, `floating_*` over the content above that bar. Left and right are physical (they
follow the thumb, DESIGN section 3 "handedness"), so an RTL page mirrors its text, not its
action bar.

A *marked* rendering (`base=` given) badges every component personalization moved, showed or
re-placed against that base, with the reason, and draws each hidden one as a "hidden: reason"
ghost row where the base had it (`preview.marks.compare`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from uiserver.catalog import Catalog
from uiserver.engine.direction import direction_for as direction_for  # re-exported
from uiserver.engine.langtag import parse_tag
from uiserver.engine.telemetry import ComponentCounts
from uiserver.http.preview.marks import Ghost, compare
from uiserver.http.views import render
from uiserver.schema import Layout, LayoutComponent, Problem
from uiserver.types import ACTION_ROLES, TABLIST

# Where each action placement goes: (area, CSS justify).
PLACEMENT_AREAS: Mapping[str, tuple[str, str]] = {
    "top_left": ("top", "flex-start"),
    "top_right": ("top", "flex-end"),
    "floating_left": ("floating", "flex-start"),
    "floating_right": ("floating", "flex-end"),
    "bottom_left": ("bottom", "flex-start"),
    "bottom_center": ("bottom", "center"),
    "bottom_right": ("bottom", "flex-end"),
}
AREA_ORDER = {"flex-start": 0, "center": 1, "flex-end": 2}
PHYSICAL = {"flex-start": "left", "center": "center", "flex-end": "right"}
PLACEHOLDER_ITEMS = 3
END = "\x00end"  # ghost rows after the last flow component
MAX_ITEMS = 12


@dataclass(slots=True)
class H5Block:
    """One component, ready for the template: which macro draws it and with what."""

    kind: str
    id: str
    type: str
    role: str
    label: str
    font_px: float
    target_px: float
    placement: str
    interactive: bool
    image: bool
    primary: bool = False
    items: list[dict[str, Any]] = field(default_factory=list)
    placeholder: str = ""
    columns: int = 1
    # 长辈版 (issue 24): what a screen reader speaks, behind the page's More entry (drawn dimmed,
    # with the entry before the first), confirmed before it acts
    speech: str = ""
    folded: bool = False
    more_before: str = ""
    confirm: bool = False


def _entries(value: Any) -> list[tuple[str, Any]]:
    """(text, target page) of each item of a prop such as `items: [{text, page}]` or
    `methods: [a, b]`; items without a text are skipped."""
    if not isinstance(value, list):
        return []
    entries: list[tuple[str, Any]] = []
    for item in value[:MAX_ITEMS]:
        if isinstance(item, str):
            entries.append((item, None))
        elif isinstance(item, Mapping):
            text = item.get("text") or item.get("label") or item.get("name")
            if isinstance(text, str):
                entries.append((text, item.get("page")))
    return entries


def _items(component: LayoutComponent, page: str) -> list[dict[str, Any]]:
    props = component.props
    for key in ("items", "methods", "tabs"):
        entries = _entries(props.get(key))
        if entries:
            return [{"text": text, "current": target == page} for text, target in entries]
    count = PLACEHOLDER_ITEMS
    for key in ("max_items", "page_size"):
        value = props.get(key)
        if isinstance(value, int) and value > 0:
            count = min(count, value)
    return [{"text": f"{component.label} {n}", "current": False} for n in range(1, count + 1)]


MORE_TAB = "更多"  # the last tab of a bar with more items than tabs drawn (WeChat, Alipay)


def tabs_drawn(items: list[dict[str, Any]], visible: object) -> list[dict[str, Any]]:
    """The tabs a tab bar draws: all `items`, or, when `visible` (the catalogue's column prop,
    reflowed to policy.elderly_max_tabs in elderly mode) is fewer, the first visible - 1 and
    a 更多 tab (`more: True`) listing the rest, current when one of them is."""
    if not isinstance(visible, int) or isinstance(visible, bool) or len(items) <= visible:
        return items
    shown, rest = items[: max(visible - 1, 1)], items[max(visible - 1, 1) :]
    more = {"text": MORE_TAB, "current": any(i["current"] for i in rest), "more": True}
    return [*shown, more]


KIND_BY_ROLE: Mapping[str, str] = {
    "navigation": "nav",
    "tablist": "nav",
    "button": "button",
    "link": "link",
    "list": "list",
    "image": "image",
    "region": "region",
    "banner": "carousel",
    "search": "search",
    "status": "status",
    "heading": "heading",
    "text": "text",
}


def component_view(component: LayoutComponent, catalog: Catalog, page: str) -> H5Block:
    ctype = catalog.get(component.type)
    interactive = bool(ctype.interactive) if ctype else component.role in ACTION_ROLES
    view = H5Block(
        kind=KIND_BY_ROLE.get(component.role, "text"),
        id=component.id,
        type=component.type,
        role=component.role,
        label=component.label,
        font_px=component.font_px,
        target_px=component.min_target_px,
        placement=component.placement,
        interactive=interactive,
        image=bool(ctype.image) if ctype else component.role == "image",
        primary=bool(ctype and ctype.action and ctype.main),
        speech=component.speech or "",
        folded=component.folded,
        confirm=component.props.get("confirm") is True,
    )
    if view.kind == "list" or (view.kind == "nav" and _entries(component.props.get("items"))):
        view.items = _items(component, page)
        columns = component.props.get("columns") or (ctype.columns if ctype else 0)
        view.columns = max(1, min(int(columns), 4)) if isinstance(columns, int) else 1
    if component.role == TABLIST:
        view.items = tabs_drawn(view.items, component.props.get("visible"))
    if view.kind == "search":
        placeholder = component.props.get("placeholder")
        view.placeholder = placeholder if isinstance(placeholder, str) else ""
    return view


@dataclass(frozen=True, slots=True)
class Frame:
    """The device drawn around the page: CSS px of the visible viewport."""

    device: str
    width: int
    height: int


# Viewport (width, height) in CSS px per device class: iPhone 6/7/8/SE (375 x 667, the WeChat
# design width of 750 rpx), iPad portrait (768 x 1024), a common laptop (1280 x 800).
FRAMES: Mapping[str, tuple[int, int]] = {
    "phone": (375, 667),
    "tablet": (768, 1024),
    "desktop": (1280, 800),
}
MIN_WIDTH, MAX_WIDTH = 240, 2560

# The CJK face Debian's fonts-noto-cjk installs for each Chinese/Japanese/Korean locale; named
# explicitly so CJK labels render in Chromium on Linux (tests, screenshots), after the faces the
# phones themselves use (PingFang on iOS, the system UI font on Android).
CJK_FONTS: Mapping[str, str] = {
    "zh-tw": "Noto Sans CJK TC",
    "zh-hk": "Noto Sans CJK HK",
    "zh-hant": "Noto Sans CJK TC",
    "ja": "Noto Sans CJK JP",
    "ko": "Noto Sans CJK KR",
}
DEFAULT_CJK_FONT = "Noto Sans CJK SC"


def frame_for(device: str = "phone", width: int | None = None) -> Frame:
    """The viewport for a context's `device` and `width` (width wins, clamped to 240..2560)."""
    default_width, height = FRAMES.get(device, FRAMES["phone"])
    chosen = default_width if not width else max(MIN_WIDTH, min(int(width), MAX_WIDTH))
    return Frame(device if device in FRAMES else "phone", chosen, height)


def layout_direction(layout: Layout, locale: str) -> str:
    """The layout theme's `direction` (the engine sets it from the context's locale), else
    the locale's (a layout document without one)."""
    declared = getattr(layout.theme, "direction", None)
    return declared if declared in ("ltr", "rtl") else direction_for(locale)


def cjk_font(locale: str) -> str:
    """The Noto CJK face for a locale's language, script and region (RFC 5646 subtags, never
    its extensions: `zh-CN-x-hant` is Simplified Chinese)."""
    tag = parse_tag(locale)
    if tag is None:
        return DEFAULT_CJK_FONT
    if tag.language in ("ja", "ko"):
        return CJK_FONTS[tag.language]
    if tag.language != "zh":
        return DEFAULT_CJK_FONT
    if tag.region in ("HK", "MO"):
        return CJK_FONTS["zh-hk"]
    if tag.script == "Hant" or tag.region == "TW":
        return CJK_FONTS["zh-hant"]
    return DEFAULT_CJK_FONT


def font_stack(locale: str) -> str:
    """CSS font-family: the phone's UI faces, then the installed Noto CJK face for `locale`."""
    cjk = cjk_font(locale)
    return (
        f'system-ui, -apple-system, "PingFang SC", "{cjk}", "{DEFAULT_CJK_FONT}", '
        '"Noto Sans Arabic", "Noto Sans Hebrew", sans-serif'
    )


def render_h5(
    layout: Layout,
    catalog: Catalog,
    *,
    title: str,
    caption: str = "",
    lang: str = "zh-CN",
    base: Layout | None = None,
    device: str = "phone",
    width: int | None = None,
    dark: bool | None = None,
    problems: Mapping[str, Sequence[str]] | None = None,
    heat: Mapping[str, ComponentCounts] | None = None,
) -> str:
    """A standalone HTML document of the layout inside its device frame.

    With `heat` (component id -> what renderers measured, `engine.telemetry`), each component
    measured carries the heatmap: its impressions, tap rate and render errors as a badge, and
    a red inset as strong and wide as its share of the page's highest tap rate (`heat_marks`).

    `lang` is the context's locale (sets `lang`, the direction when the layout does not carry
    one, and the CJK face); `device`/`width` size the frame (`frame_for`); `dark` defaults to
    the layout theme's own `dark` (the palette is already the dark one then). With `base`, the
    rendering is marked: badges and ghost rows against that layout (`preview.marks.compare`).
    With `problems` (component id -> lint messages; "" for the page's own, e.g. a theme
    contrast), a draft that lint refuses is drawn anyway, each problem marked at its component
    and the page's in a banner (`problems_by_component`). The document holds no script and
    loads nothing: the preview CSP forbids both.
    """
    marks = compare(layout, base) if base is not None else None
    flow: list[H5Block] = []
    areas: dict[str, list[tuple[str, H5Block]]] = {"top": [], "floating": [], "bottom": []}
    for component in layout.components:
        view = component_view(component, catalog, layout.page)
        where = PLACEMENT_AREAS.get(component.placement)
        if where is None:
            if view.folded and not any(v.folded for v in flow):
                more = layout.elderly.more_label if layout.elderly is not None else None
                view.more_before = more or "更多 More"
            flow.append(view)
        else:
            areas[where[0]].append((where[1], view))
    for area in areas.values():
        area.sort(key=lambda pair: AREA_ORDER[pair[0]])
    bottom: dict[str, list[H5Block]] = {"flex-start": [], "center": [], "flex-end": []}
    for justify, view in areas["bottom"]:
        bottom[justify].append(view)
    # Ghost rows go after the base neighbour they followed; after an action button (not in
    # the flow), at the end of the content.
    flow_ids = {v.id for v in flow}
    ghosts_after: dict[str | None, list[Ghost]] = {}
    for ghost in marks.ghosts if marks else ():
        key = ghost.after if ghost.after is None or ghost.after in flow_ids else END
        ghosts_after.setdefault(key, []).append(ghost)
    return render(
        "h5.html",
        layout=layout,
        theme=layout.theme,
        palette=layout.theme.palette,
        title=title,
        caption=caption,
        flow=flow,
        top=areas["top"],
        floating_left=[v for j, v in areas["floating"] if j == "flex-start"],
        floating_right=[v for j, v in areas["floating"] if j == "flex-end"],
        # Physical sides, all three cells when the bar exists: an RTL page keeps its
        # thumb-side buttons, and a lone bottom_right button stays on the right.
        bottom=[(PHYSICAL[j], views) for j, views in bottom.items()] if areas["bottom"] else [],
        lang=lang,
        direction=layout_direction(layout, lang),
        # Printed with |safe inside <style>, where an escaped quote would break the CSS. Safe:
        # built only from the constant family names above, never from the locale's text.
        fonts=font_stack(lang),
        frame=frame_for(device, width),
        dark=layout.theme.dark if dark is None else dark,
        marks=marks.by_id if marks else {},
        marked=marks is not None,
        ghosts_after=ghosts_after,
        end=END,
        problems=problems or {},
        heat=heat_marks(heat or {}),
    )


def heat_marks(counts: Mapping[str, ComponentCounts]) -> dict[str, dict[str, Any]]:
    """What the heatmap draws per component: the counts, a text (`👁 120 · tap 12% · ⚠ 3`,
    text, not colour alone: WCAG 1.4.1), and the inset's width (1-8 px) and alpha (0.15-0.75)
    scaled by the tap rate over the page's highest."""
    rates = [c.tap_rate for c in counts.values() if c.tap_rate is not None]
    top = max(rates, default=0.0)
    out: dict[str, dict[str, Any]] = {}
    for cid, c in counts.items():
        level = 0.0 if c.tap_rate is None or top == 0 else c.tap_rate / top
        tap = "tap –" if c.tap_rate is None else f"tap {c.tap_rate:.0%}"
        errors = f" · ⚠ {c.render_errors} render errors" if c.render_errors else ""
        out[cid] = {
            "impressions": c.impressions,
            "clicks": c.clicks,
            "render_errors": c.render_errors,
            "text": f"👁 {c.impressions} · {tap}{errors}",
            "width": round(1 + 7 * level),
            "alpha": round(0.15 + 0.6 * level, 2),
        }
    return out


_COMPONENT_FIELD = re.compile(r"^\$?\.?components\[(\d+)\]")


def problems_by_component(
    components: Sequence[str], problems: Iterable[Problem]
) -> dict[str, list[str]]:
    """Lint problems grouped by the id of the component their field names
    (`components[3].label` -> the fourth id); the rest (theme, variants, page) under ""."""
    out: dict[str, list[str]] = {}
    for problem in problems:
        match = _COMPONENT_FIELD.match(problem.field)
        index = int(match.group(1)) if match else -1
        key = components[index] if 0 <= index < len(components) else ""
        out.setdefault(key, []).append(f"{problem.field}: {problem.message}")
    return out

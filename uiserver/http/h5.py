"""The H5 rendering of a layout: the page drawn the way the mini-program would draw it.

Designers judge a personalized page by looking at it, so the preview uses the layout's real
numbers: each component's `font_px`, its `min_target_px` as min-height/min-width of everything it
makes tappable, the theme's palette, and its label as the accessible name of the element its
role maps to (button -> <button>, navigation -> <nav>, search -> role=search with a labelled
input, image -> <img alt>, list -> <ul>). Labels and props are data from a template and may
contain markup: Jinja's autoescape prints them as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from uiserver.catalog import Catalog
from uiserver.http.views import render
from uiserver.schema import Layout, LayoutComponent

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
PLACEHOLDER_ITEMS = 3
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
    interactive = bool(ctype.interactive) if ctype else component.role in ("button", "link")
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
    )
    if view.kind == "list" or (view.kind == "nav" and _entries(component.props.get("items"))):
        view.items = _items(component, page)
        columns = component.props.get("columns") or (ctype.columns if ctype else 0)
        view.columns = max(1, min(int(columns), 4)) if isinstance(columns, int) else 1
    if view.kind == "search":
        placeholder = component.props.get("placeholder")
        view.placeholder = placeholder if isinstance(placeholder, str) else ""
    return view


def render_h5(
    layout: Layout, catalog: Catalog, *, title: str, caption: str = "", lang: str = "zh-CN"
) -> str:
    """A standalone HTML document of the layout (what the console shows in each frame)."""
    flow: list[H5Block] = []
    areas: dict[str, list[tuple[str, H5Block]]] = {"top": [], "floating": [], "bottom": []}
    for component in layout.components:
        view = component_view(component, catalog, layout.page)
        where = PLACEMENT_AREAS.get(component.placement)
        if where is None:
            flow.append(view)
        else:
            areas[where[0]].append((where[1], view))
    for area in areas.values():
        area.sort(key=lambda pair: AREA_ORDER[pair[0]])
    return render(
        "h5.html",
        layout=layout,
        theme=layout.theme,
        palette=layout.theme.palette,
        title=title,
        caption=caption,
        flow=flow,
        areas=areas,
        lang=lang,
    )

"""Shared fixtures of the engine tests: a small catalogue and page built in Python, and the
shipped pages (every template in layouts/ against components/).

The small page exercises what the shipped ones may not: weighted variants (1:3), a failing
palette, a hidden-for-segment module, hand-checkable orders.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

import msgspec

from uiserver.catalog import Catalog, load_catalog, load_templates, template_version
from uiserver.engine import CompiledTemplate, Engine
from uiserver.engine.hashing import BUCKETS, bucket
from uiserver.policy import Policy, load_policy
from uiserver.schema import (
    ComponentSpec,
    ComponentType,
    Context,
    Palette,
    Profile,
    Template,
    ThemeSpec,
)

ROOT = Path(__file__).resolve().parents[2]
LAYOUTS = ROOT / "layouts"
COMPONENTS = ROOT / "components"


def _t(name: str, role: str, **flags: object) -> ComponentType:
    return ComponentType(name=name, role=role, label_required=True, **flags)  # type: ignore[arg-type]


MINI_TYPES = (
    _t("page_header", "navigation", interactive=True, essential=True),
    _t("search_bar", "search", interactive=True, essential=True, main=True),
    _t("banner_carousel", "banner", interactive=True, promo=True, animated=True, image=True),
    _t("coupon_strip", "list", interactive=True),
    _t("product_grid", "list", interactive=True, image=True, grid=True, columns=2, main=True),
    _t("ad_slot", "region", interactive=True, ad=True, image=True),
    ComponentType(name="section_title", role="heading", label_required=False, default_font_px=18),
    _t("order_status", "status", interactive=True, essential=True),
    _t("welcome_back_strip", "region", interactive=True),
    _t("primary_button", "button", interactive=True, action=True, main=True, essential=True),
    _t("secondary_button", "button", interactive=True, action=True),
    _t("voice_nav_entry", "button", interactive=True, action=True, main=True, essential=True),
    _t("tab_bar", "tablist", interactive=True, essential=True, main=True),
)

MINI_PALETTE = Palette(
    text="#1F1F1F",
    background="#FFFFFF",
    primary="#0B57D0",
    on_primary="#FFFFFF",
    muted="#555555",
    surface="#F5F5F5",
)


def mini_template(**overrides: object) -> Template:
    components = [
        ComponentSpec(id="header", type="page_header", label="Shop", pinned=True),
        ComponentSpec(id="search", type="search_bar", label="Search", pinned=True),
        ComponentSpec(id="banner", type="banner_carousel", label="Deals", category="promotions"),
        ComponentSpec(
            id="welcome",
            type="welcome_back_strip",
            label="Welcome back",
            visible=False,
            show_for_segments=["churn_risk"],
        ),
        ComponentSpec(id="orders", type="order_status", label="My orders"),
        ComponentSpec(
            id="coupons",
            type="coupon_strip",
            label="Coupons",
            category="coupons",
            hide_for_segments=["no_coupons"],
        ),
        ComponentSpec(id="fruit_title", type="section_title", label="Fruit", category="fruit"),
        ComponentSpec(
            id="fruit_grid", type="product_grid", label="Fruit products", category="fruit"
        ),
        ComponentSpec(id="ad", type="ad_slot", label="Advertisement", category="ads"),
        ComponentSpec(id="meat_title", type="section_title", label="Meat", category="meat"),
        ComponentSpec(id="meat_grid", type="product_grid", label="Meat products", category="meat"),
        ComponentSpec(
            id="voice_nav",
            type="voice_nav_entry",
            label="Voice navigation",
            visible=False,
            placement="floating_left",
        ),
        ComponentSpec(id="go_cart", type="secondary_button", label="Cart", placement="bottom_left"),
        ComponentSpec(id="buy", type="primary_button", label="Buy now", placement="bottom_right"),
        ComponentSpec(id="tab_bar", type="tab_bar", label="Main navigation", pinned=True),
    ]
    fields: dict[str, object] = {
        "page": "mini",
        "title": "Mini",
        "theme": ThemeSpec(font_px=16, palette=MINI_PALETTE),
        "components": components,
        "experiment": "mini_exp",
        "variants": [
            {"name": "a", "weight": 1},
            {"name": "b", "weight": 3, "order": ["header", "search", "coupons", "banner"]},
        ],
    }
    fields.update(overrides)
    return msgspec.convert(fields, Template)


@cache
def policy() -> Policy:
    return load_policy()


@cache
def mini_catalog() -> Catalog:
    return Catalog.from_types(MINI_TYPES)


@cache
def mini_engine() -> Engine:
    return Engine(mini_catalog(), policy())


def mini_compiled(**overrides: object) -> CompiledTemplate:
    template = mini_template(**overrides)
    return mini_engine().compile(template, template_version(template))


@cache
def shipped_catalog() -> Catalog | None:
    if not COMPONENTS.is_dir() or not any(COMPONENTS.iterdir()):
        return None
    return load_catalog(COMPONENTS)


@cache
def shipped_templates() -> dict[str, Template]:
    if shipped_catalog() is None or not LAYOUTS.is_dir():
        return {}
    return load_templates(LAYOUTS)


@cache
def shipped_engine() -> Engine | None:
    catalog = shipped_catalog()
    return None if catalog is None else Engine(catalog, policy())


@cache
def compiled_page(page: str) -> tuple[Engine, CompiledTemplate, Template]:
    """(engine, compiled, template) of a shipped page, or of the mini fixture (page "mini")."""
    if page == "mini":
        template = mini_template()
        return mini_engine(), mini_compiled(), template
    engine = shipped_engine()
    assert engine is not None
    template = shipped_templates()[page]
    return engine, engine.compile(template, template_version(template)), template


def all_pages() -> list[str]:
    """Every shipped page, plus the mini fixture."""
    return [*sorted(shipped_templates()), "mini"]


def largest_page() -> str:
    """The shipped page with the most components (the 40-component benchmark page)."""
    templates = shipped_templates()
    if not templates:
        return "mini"
    return max(templates, key=lambda p: (len(templates[p].components), p))


@cache
def user_per_bucket(experiment: str) -> tuple[str, ...]:
    """One user id for each bucket of `experiment` (index = bucket), found by searching ids: a
    split counted over these users is the split over all 10,000 buckets."""
    found: list[str] = [""] * BUCKETS
    missing, i = BUCKETS, 0
    while missing:
        user = f"user-{i}"
        point = bucket(user, experiment)
        if not found[point]:
            found[point] = user
            missing -= 1
        i += 1
    return tuple(found)


def served_split(engine: Engine, compiled: CompiledTemplate) -> Counter[str | None]:
    """How many of the 10,000 buckets the engine serves each variant (None: the base), asked
    through `Engine.plan` for one user per bucket."""
    assert compiled.experiment is not None
    users = user_per_bucket(compiled.experiment)
    return Counter(engine.plan(compiled, Profile(user_id=u), Context()).variant for u in users)

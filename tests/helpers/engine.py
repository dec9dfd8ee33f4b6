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
from hypothesis import strategies as st

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
    Settings,
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


# --------------------------------------------------------------------------- random templates
# (issue 24) Pages made of the shipped catalogue's flowing types, with random labels,
# categories and the props that matter to elderly mode: pressure props switched on, state
# props given a colour alone or text.

FIXED_TYPES = ("page_header", "tab_bar", "voice_nav_entry", "help_entry")
COLOUR_ONLY = "#D93025"


def flow_types(catalog: Catalog) -> list[str]:
    """Types a random page may put in its flow (no action buttons, no navigation)."""
    return sorted(
        t.name
        for t in catalog.types.values()
        if not t.action and t.role not in ("navigation", "tablist") and t.name not in FIXED_TYPES
    )


@st.composite
def random_template_st(draw: st.DrawFn, catalog: Catalog) -> Template:
    """A page of 3-24 flowing components between a pinned header and a tab bar of 2-8 items
    (maybe a `visible` count), with a hidden
    voice entry, maybe a help entry and an action button; named `home` (a fold page) or not."""
    names = flow_types(catalog)
    specs = [
        ComponentSpec(id="header", type="page_header", label="页头 Header", pinned=True),
    ]
    count = draw(st.integers(3, 24))
    for i in range(count):
        type_name = draw(st.sampled_from(names))
        ctype = catalog.types[type_name]
        props: dict[str, object] = {}
        for prop, spec in ctype.props.items():
            if spec.pressure is not None and draw(st.booleans()):
                props[prop] = True
            if spec.state and draw(st.booleans()):
                props[prop] = draw(st.sampled_from([COLOUR_ONLY, "cart_count"]))
        specs.append(
            ComponentSpec(
                id=f"c{i}",
                type=type_name,
                label=draw(st.sampled_from(["商品 Goods", "订单 Orders", "水果 Fruit", "Help"])),
                category=draw(st.sampled_from([None, "a", "b", "c"])),
                props=props,
            )
        )
    if draw(st.booleans()):
        specs.append(ComponentSpec(id="help", type="help_entry", label="客服 Help"))
    if draw(st.booleans()):
        badge = draw(st.sampled_from([None, COLOUR_ONLY, "cart_count"]))
        specs.append(
            ComponentSpec(
                id="buy",
                type="primary_button",
                label="立即购买 Buy now",
                placement="bottom_right",
                props={} if badge is None else {"badge": badge},
            )
        )
    specs.append(
        ComponentSpec(
            id="voice",
            type="voice_nav_entry",
            label="语音导航 Voice navigation",
            visible=False,
            placement="floating_left",
        )
    )
    tabs: dict[str, object] = {
        "items": [{"page": f"p{n}", "text": f"页面 {n}"} for n in range(draw(st.integers(2, 8)))]
    }
    visible = draw(st.one_of(st.none(), st.integers(2, 6)))
    if visible is not None:
        tabs["visible"] = visible
    specs.append(
        ComponentSpec(id="tab_bar", type="tab_bar", label="底部导航 Main navigation", props=tabs)
    )
    specs[-1] = msgspec.structs.replace(specs[-1], pinned=True)
    return Template(
        page=draw(st.sampled_from(["home", "aisle"])),
        title="随机 Random",
        theme=ThemeSpec(font_px=16, palette=MINI_PALETTE),
        components=specs,
    )


elderly_profile_st = st.builds(
    Profile,
    user_id=st.text(alphabet="abc123", max_size=6),
    settings=st.builds(
        Settings,
        elderly_mode=st.just("on"),
        font_scale=st.one_of(st.just(1.0), st.floats(1.0, 2.0)),
        high_contrast=st.booleans(),
        reduce_motion=st.booleans(),
        screen_reader=st.booleans(),
        personalization=st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0)),
    ),
    affinities=st.dictionaries(
        st.sampled_from(["a", "b", "c", "aisle/c0", "home/c1"]), st.floats(0.0, 20.0), max_size=4
    ),
    evidence=st.integers(0, 30).map(float),
)

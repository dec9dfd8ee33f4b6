"""The lint rules of `uiserver.lint`, the contrast maths behind them, and the shipped files."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from uiserver.catalog import Catalog, load_catalog, load_templates
from uiserver.engine.colour_cues import colour_only
from uiserver.engine.contrast import contrast_ratio
from uiserver.lint.catalog import lint_component
from uiserver.lint.contrast import lint_palette
from uiserver.lint.files import lint_component_file
from uiserver.lint.templates import lint_pages, lint_template, validate_document
from uiserver.policy import DEFAULT_POLICY_PATH, Policy, PolicyError, load_policy
from uiserver.schema import ComponentType, Palette, Template

REPO = Path(__file__).resolve().parents[3]
COMPONENTS = REPO / "components"
LAYOUTS = REPO / "layouts"

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(COMPONENTS)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def _base() -> Doc:
    """A small template that passes every rule; each case below breaks exactly one."""
    return {
        "page": "demo",
        "title": "示例 Demo",
        "theme": {
            "palette": {
                "text": "#1F1F1F",
                "background": "#FFFFFF",
                "primary": "#C4320A",
                "on_primary": "#FFFFFF",
                "muted": "#5C5C5C",
                "surface": "#F5F5F5",
            }
        },
        "components": [
            {"id": "search", "type": "search_bar", "label": "搜索 Search", "pinned": True},
            {"id": "coupons", "type": "coupon_strip", "label": "领券 Coupons"},
            {"id": "guess", "type": "guess_you_like", "label": "猜你喜欢 Guess you like"},
            {
                "id": "welcome",
                "type": "welcome_back_strip",
                "label": "欢迎回来 Welcome back",
                "visible": False,
                "show_for_segments": ["churn_risk"],
            },
            {
                "id": "voice",
                "type": "voice_nav_entry",
                "label": "语音导航 Voice navigation",
                "visible": False,
                "placement": "floating_left",
            },
            {
                "id": "buy",
                "type": "primary_button",
                "label": "立即购买 Buy now",
                "placement": "bottom_right",
            },
        ],
        "experiment": "demo_exp",
        "variants": [
            {"name": "control"},
            {
                "name": "guess_first",
                "order": ["search", "guess", "coupons", "welcome", "voice", "buy"],
                "props": {"guess": {"page_size": 10}},
            },
        ],
    }


def _fields(doc: Doc, catalog: Catalog, policy: Policy) -> set[str]:
    _, problems = validate_document(doc, "json", catalog, policy)
    return {p.field for p in problems}


def test_base_document_is_clean(catalog: Catalog, policy: Policy) -> None:
    template, problems = validate_document(_base(), "json", catalog, policy)
    assert problems == []
    assert isinstance(template, Template)


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """A mutation that sets `a.b.0.c` in a document."""

    def apply(doc: Doc) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return apply


def _delete(path: str) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        del node[last]

    return apply


def _append_component(component: Doc) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        doc["components"].append(component)
        for variant in doc["variants"]:
            if variant.get("order") is not None:
                variant["order"].append(component["id"])

    return apply


TEMPLATE_CASES = [
    pytest.param(_set("theme.palette.muted", "#777777"), "theme.palette.muted", id="muted-4.48"),
    pytest.param(_set("theme.palette.text", "#959595"), "theme.palette.text", id="text-on-bg"),
    pytest.param(_set("theme.palette.surface", "#6F6F6F"), "theme.palette.text", id="text-surface"),
    pytest.param(
        _set("theme.palette.on_primary", "#FF9C6E"), "theme.palette.on_primary", id="on-primary"
    ),
    pytest.param(
        _set("theme.palette.primary", "#FFB199"), "theme.palette.primary", id="primary-ui-3.0"
    ),
    pytest.param(
        _set(
            "theme.dark_palette",
            {
                "text": "#F0F0F0",
                "background": "#141414",
                "primary": "#3A3A3A",
                "on_primary": "#FFFFFF",
            },
        ),
        "theme.dark_palette.primary",
        id="dark-primary",
    ),
    pytest.param(
        _set(
            "theme.high_contrast_palette",
            {
                "text": "#595959",
                "background": "#FFFFFF",
                "primary": "#8C1C00",
                "on_primary": "#FFFFFF",
                "muted": "#6A6A6A",
            },
        ),
        "theme.high_contrast_palette.muted",
        id="high-contrast-needs-7",
    ),
    pytest.param(
        _set(
            "variants.0.theme",
            {
                "palette": {
                    "text": "#AAAAAA",
                    "background": "#FFFFFF",
                    "primary": "#C4320A",
                    "on_primary": "#FFFFFF",
                }
            },
        ),
        "variants[0].theme.palette.text",
        id="variant-theme",
    ),
    pytest.param(_delete("components.1.label"), "components[1].label", id="missing-label"),
    pytest.param(_set("components.1.label", " \t "), "components[1].label", id="blank-label"),
    pytest.param(
        _set("components.1.type", "coupon_stirp"), "components[1].type", id="unknown-type"
    ),
    pytest.param(_set("components.2.id", "coupons"), "components[2].id", id="duplicate-id"),
    pytest.param(
        _set("components.1.min_target_px", 23), "components[1].min_target_px", id="target-23"
    ),
    pytest.param(
        _set("components.1.min_target_px", 43), "components[1].min_target_px", id="target-43"
    ),
    pytest.param(_set("components.1.font_px", 11), "components[1].font_px", id="font-below-min"),
    pytest.param(
        _set("components.1.placement", "bottom_left"), "components[1].placement", id="placement"
    ),
    pytest.param(
        _set("components.5.placement", "floating_left"),
        "components[5].placement",
        id="placement-taken",
    ),
    pytest.param(
        _set("components.0.hide_for_segments", ["churn_risk"]),
        "components[0].hide_for_segments",
        id="pinned-hidden",
    ),
    pytest.param(
        _set("components.0.show_for_segments", ["vip"]),
        "components[0].show_for_segments",
        id="pinned-shown",
    ),
    pytest.param(
        _set("components.1.show_for_segments", ["vip"]),
        "components[1].show_for_segments",
        id="show-on-visible",
    ),
    pytest.param(
        _set("components.3.hide_for_segments", ["churn_risk"]),
        "components[3].hide_for_segments",
        id="show-and-hide",
    ),
    pytest.param(_set("components.1.category", "  "), "components[1].category", id="category"),
    pytest.param(_set("components", []), "components", id="empty-page"),
    pytest.param(
        _set("components.4.type", "secondary_button"), "components", id="no-voice-navigation"
    ),
    pytest.param(
        _set("variants.1.order", ["search", "guess", "coupons", "welcome", "voice"]),
        "variants[1].order",
        id="order-missing",
    ),
    pytest.param(
        _set("variants.1.order", ["search", "guess", "guess", "welcome", "voice", "buy"]),
        "variants[1].order",
        id="order-repeats",
    ),
    pytest.param(
        _set("variants.1.order", ["guess", "search", "coupons", "welcome", "voice", "buy"]),
        "variants[1].order",
        id="order-moves-pinned",
    ),
    pytest.param(
        _set("variants.1.props", {"banner": {}}), "variants[1].props.banner", id="props-unknown"
    ),
    pytest.param(
        _set("variants.1.props", {"guess": {"label": "别的 Other"}}),
        "variants[1].props.guess.label",
        id="props-label",
    ),
    pytest.param(_set("variants.1.name", "control"), "variants[1].name", id="variant-name"),
    pytest.param(_delete("experiment"), "experiment", id="variants-without-experiment"),
    pytest.param(_set("variants", []), "variants", id="experiment-without-variants"),
    pytest.param(
        _set("variants", [{"name": f"v{i}"} for i in range(256)]),
        "variants",
        id="more-variants-than-a-bucket-table-holds",
    ),
    pytest.param(
        _append_component({"id": "lable_typo", "type": "ad_slot", "lable": "x"}),
        "components[6].lable",
        id="unknown-field",
    ),
    pytest.param(_set("components.0.pinned", "yes"), "components[0].pinned", id="wrong-type"),
    pytest.param(_delete("title"), "title", id="missing-required"),
    # 长辈版 (issue 24): what the elderly variant would serve
    pytest.param(
        _append_component(
            {
                "id": "total",
                "type": "order_summary",
                "label": "合计",
                "props": {"pay_countdown": True},
            }
        ),
        "components[6].props.pay_countdown",
        id="pressure-an-elderly-layout-keeps",
    ),
    pytest.param(
        _set("variants.1.props", {"buy": {"badge": "#FF0000"}}),
        "variants[1].props.buy.badge",
        id="colour-only-badge",
    ),
]


@pytest.mark.parametrize(("mutate", "field"), TEMPLATE_CASES)
def test_each_rule_reports_its_field(
    mutate: Callable[[Doc], None], field: str, catalog: Catalog, policy: Policy
) -> None:
    doc = copy.deepcopy(_base())
    mutate(doc)
    assert field in _fields(doc, catalog, policy)


def test_decode_error_gives_no_template_and_one_problem(catalog: Catalog, policy: Policy) -> None:
    doc = _base()
    doc["components"][1]["lable"] = doc["components"][1].pop("label")
    template, problems = validate_document(doc, "json", catalog, policy)
    assert template is None
    assert [p.field for p in problems] == ["components[1].lable"]
    assert "'label'" in problems[0].message  # the "did you mean" hint


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_bytes_and_dicts_report_the_same_paths(fmt: str, catalog: Catalog, policy: Policy) -> None:
    import msgspec.yaml

    doc = _base()
    doc["components"][2]["min_target_px"] = "big"
    data = json.dumps(doc).encode() if fmt == "json" else msgspec.yaml.encode(doc)
    _, from_bytes = validate_document(data, fmt, catalog, policy)  # type: ignore[arg-type]
    _, from_dict = validate_document(doc, "json", catalog, policy)
    assert [p.field for p in from_bytes] == [p.field for p in from_dict]
    assert [p.field for p in from_dict] == ["components[2].min_target_px"]


def test_invalid_bytes_are_one_problem_at_the_root(catalog: Catalog, policy: Policy) -> None:
    template, problems = validate_document(b"{not json", "json", catalog, policy)
    assert template is None
    assert [p.field for p in problems] == ["$"]


def test_problems_encode_as_the_admin_api_shape(catalog: Catalog, policy: Policy) -> None:
    doc = _base()
    del doc["components"][5]["label"]
    _, problems = validate_document(doc, "json", catalog, policy)
    body = json.loads(msgspec.json.encode({"ok": not problems, "problems": problems}))
    assert body["ok"] is False
    assert body["problems"][0].keys() == {"field", "message"}


# --------------------------------------------------------------------------- contrast


@pytest.mark.parametrize(
    ("fg", "bg", "expected"),
    [
        pytest.param("#000000", "#FFFFFF", 21.0, id="black-white"),
        pytest.param("#FFFFFF", "#000000", 21.0, id="symmetric"),
        pytest.param("#777777", "#FFFFFF", 4.48, id="grey-777"),
        pytest.param("#767676", "#FFFFFF", 4.54, id="grey-767676"),
        pytest.param("#FF0000", "#FFFFFF", 4.0, id="red-white"),
        pytest.param("#0000FF", "#FFFFFF", 8.59, id="blue-white"),
        pytest.param("#123456", "#123456", 1.0, id="same"),
    ],
)
def test_contrast_matches_published_wcag_values(fg: str, bg: str, expected: float) -> None:
    assert round(contrast_ratio(fg, bg), 2) == expected


def test_palette_floor_sits_between_767676_and_777777(policy: Policy) -> None:
    """#767676 is the lightest grey that passes AA on white; #777777 just fails."""
    passing = Palette("#767676", "#FFFFFF", "#C4320A", "#FFFFFF")
    failing = Palette("#777777", "#FFFFFF", "#C4320A", "#FFFFFF")
    assert lint_palette(passing, policy) == []
    assert [p.field for p in lint_palette(failing, policy)] == ["palette.text"]
    assert "4.48:1" in lint_palette(failing, policy)[0].message


def test_enhanced_palette_uses_the_enhanced_floor(policy: Policy) -> None:
    palette = Palette("#767676", "#FFFFFF", "#8C1C00", "#FFFFFF")
    assert lint_palette(palette, policy, enhanced=False) == []
    assert [p.field for p in lint_palette(palette, policy, enhanced=True)] == ["palette.text"]


def test_a_tightened_policy_tightens_the_lint(catalog: Catalog, policy: Policy) -> None:
    """The floors come from the policy, not from constants in the linter."""
    strict = msgspec.structs.replace(policy, text_contrast=7.0)
    doc = _base()  # muted #5C5C5C on white is 6.69:1: AA, not 7:1
    assert _fields(doc, catalog, policy) == set()
    assert "theme.palette.muted" in _fields(doc, catalog, strict)


# --------------------------------------------------------------------------- policy


def _policy_file(tmp_path: Path, **changes: Any) -> Path:
    data = json.loads(DEFAULT_POLICY_PATH.read_text())
    data.update(changes)
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"text_contrast": 3.0}, id="text-contrast-3"),
        pytest.param({"enhanced_text_contrast": 4.5}, id="enhanced-4.5"),
        pytest.param({"absolute_min_target_px": 20.0}, id="target-20"),
        pytest.param({"max_change": 0.6}, id="cap-0.6"),
    ],
)
def test_policy_refuses_to_loosen(tmp_path: Path, changes: dict[str, float]) -> None:
    with pytest.raises(PolicyError, match=next(iter(changes))):
        load_policy(_policy_file(tmp_path, **changes))


def test_policy_may_tighten(tmp_path: Path) -> None:
    policy = load_policy(_policy_file(tmp_path, text_contrast=7.0, max_change=0.2))
    assert (policy.text_contrast, policy.max_change) == (7.0, 0.2)


# --------------------------------------------------------------------------- catalogue


def _ctype(**changes: Any) -> ComponentType:
    base: Doc = {
        "name": "demo_button",
        "role": "button",
        "label_required": True,
        "interactive": True,
        "action": True,
        "default_font_px": 16,
        "min_font_px": 14,
        "default_target_px": 48,
        "min_target_px": 44,
    }
    return msgspec.convert({**base, **changes}, ComponentType)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"min_font_px": 18}, "min_font_px", id="min-font-above-default"),
        pytest.param({"min_target_px": 50}, "min_target_px", id="min-target-above-default"),
        pytest.param({"min_target_px": 30}, "min_target_px", id="interactive-below-44"),
        pytest.param(
            {"interactive": False, "action": False, "min_target_px": 20},
            "min_target_px",
            id="below-24",
        ),
        pytest.param({"label_required": False}, "label_required", id="interactive-needs-label"),
        pytest.param(
            {"interactive": False, "action": False, "image": True, "label_required": False},
            "label_required",
            id="image-needs-label",
        ),
        pytest.param({"interactive": False}, "interactive", id="action-is-interactive"),
        pytest.param({"role": "list"}, "role", id="action-role"),
        pytest.param({"essential": True, "ad": True}, "essential", id="essential-ad"),
        pytest.param({"essential": True, "promo": True}, "essential", id="essential-promo"),
        pytest.param({"grid": True}, "columns", id="grid-without-columns"),
        pytest.param({"columns": 3}, "columns", id="columns-without-grid"),
        pytest.param({"column_prop": "columns"}, "column_prop", id="reflow-without-grid"),
        pytest.param({"row_prop": "rows"}, "row_prop", id="rows-without-columns"),
        pytest.param(
            {"props": {"timer": {"type": "integer", "pressure": "countdown"}}},
            "props.timer",
            id="pressure-prop-not-boolean",
        ),
    ],
)
def test_catalogue_rules(changes: Doc, field: str, policy: Policy) -> None:
    assert lint_component(_ctype(), policy) == []
    assert field in {p.field for p in lint_component(_ctype(**changes), policy)}


def test_shipped_catalogue_is_clean_and_named_by_file(policy: Policy) -> None:
    for path in sorted(COMPONENTS.glob("*.yaml")):
        assert lint_component_file(path, policy)[1] == [], path.name


def test_cross_page_navigation_labels_must_agree(catalog: Catalog, policy: Policy) -> None:
    first = msgspec.convert(_base(), Template)
    doc = _base()
    doc["page"] = "other"
    doc["components"][4]["label"] = "语音助手 Voice assistant"
    second = msgspec.convert(doc, Template)
    same = msgspec.convert({**_base(), "page": "other"}, Template)
    assert lint_pages({"a": first, "b": same}, catalog) == {}
    problems = lint_pages({"a": first, "b": second}, catalog)
    assert list(problems) == ["b"]
    assert [p.field for p in problems["b"]] == ["components[4].label"]


def test_same_page_twice_is_reported(catalog: Catalog) -> None:
    template = msgspec.convert(_base(), Template)
    problems = lint_pages({"one.yaml": template, "two.yaml": template}, catalog)
    assert [p.field for p in problems["two.yaml"]] == ["page"]


# --------------------------------------------------------------------------- shipped files


def test_catalogue_and_pages_are_big_enough(catalog: Catalog) -> None:
    pages = load_templates(LAYOUTS)
    assert len(catalog.types) >= 15
    assert {"home", "product", "cart", "me"} <= set(pages)
    assert max(len(t.components) for t in pages.values()) >= 40
    assert len(pages["home"].components) >= 40


def test_shipped_templates_lint_clean(catalog: Catalog, policy: Policy) -> None:
    for page, template in load_templates(LAYOUTS).items():
        assert lint_template(template, catalog, policy) == [], page


def test_shipped_templates_use_the_adaptive_features(catalog: Catalog) -> None:
    """The designers' files exercise what the engine adapts: A/B, segments, ads, voice entry."""
    pages = load_templates(LAYOUTS)
    home = pages["home"]
    assert home.experiment and len(home.variants) >= 2
    assert any(v.order and v.order != [c.id for c in home.components] for v in home.variants)
    for page, template in pages.items():
        types = {c.type for c in template.components}
        assert "voice_nav_entry" in types, page
        assert any(c.pinned for c in template.components), page
        assert all(c.label and c.label.strip() for c in template.components), page
    welcome = [c for c in home.components if c.type == "welcome_back_strip"]
    assert welcome and not welcome[0].visible and "churn_risk" in welcome[0].show_for_segments
    kinds = {
        flag
        for c in home.components
        for flag in ("ad", "promo", "animated")
        if getattr(catalog.types[c.type], flag)
    }
    assert kinds == {"ad", "promo", "animated"}
    actions = {
        c.placement for t in pages.values() for c in t.components if catalog.types[c.type].action
    }
    assert {"bottom_left", "bottom_right"} <= actions


def test_pressure_and_colour_only_states_name_their_clause(
    catalog: Catalog, policy: Policy
) -> None:
    """The messages a designer reads at publish name the clause (issue 24)."""
    doc = _base()
    doc["components"].append(
        {"id": "total", "type": "order_summary", "label": "合计", "props": {"pay_countdown": True}}
    )
    doc["components"][5]["props"] = {"badge": "#FF0000"}
    _, problems = validate_document(doc, "json", catalog, policy)
    messages = {p.field: p.message for p in problems}
    assert "MIIT 5.x" in messages["components[6].props.pay_countdown"]
    assert "WCAG 1.4.1" in messages["components[5].props.badge"]
    # a countdown on a type elderly mode removes anyway is no problem; text on a badge is none
    doc["components"][6]["type"] = "flash_sale"
    doc["components"][6]["props"] = {"countdown": True}
    doc["components"][5]["props"] = {"badge": "cart_count"}
    _, problems = validate_document(doc, "json", catalog, policy)
    assert [p for p in problems if p.field.startswith("components")] == []


@pytest.mark.parametrize(
    ("value", "only"),
    [
        pytest.param("#FF0000", True, id="hex"),
        pytest.param("rgb(255, 0, 0)", True, id="rgb"),
        pytest.param("cart_count", False, id="a-data-key"),
        pytest.param({"colour": "#FF0000"}, True, id="object-without-cue"),
        pytest.param({"colour": "#FF0000", "icon": "dot"}, False, id="object-with-icon"),
        pytest.param({"text": " "}, True, id="blank-text"),
        pytest.param(3, False, id="a-count"),
    ],
)
def test_colour_only_states(value: object, only: bool) -> None:
    """A state carried by a colour alone (WCAG 1.4.1), as the elderly lint reads a value."""
    assert colour_only(value) is only

"""The final check: every rule re-verified on the layout itself, not on how it was made.

`render` never returns a layout with a problem here: it falls back to the base layout with
every rule applied, and raises if even that fails (a template lint should have refused).

The rules are tables of (name, rule), checked in this order, which is the order of the problems:
the theme (`THEME_RULES`, then `ELDERLY_THEME_RULES` in elderly mode), the components
(`COMPONENT_RULES`, then `ELDERLY_COMPONENT_RULES`), the page (`ELDERLY_PAGE_RULES`), the cap
(`CAP_RULES`), and each pinned component of the base (`PINNED_RULES`: the first that fires).
Each rule is a small function whose docstring names the source of its number; it yields its
refusals (a pinned rule returns its refusal or None). A component rule runs over every
component in one loop and yields (layout position, refusal); the refusals are put back in
layout order, each component's in table order. One loop per rule, not one call per component
and rule: the check runs on every cold render (DESIGN section 7 budget).

A component rule other than those comparing components (`ACROSS_COMPONENTS`) is a verdict on
one component in one context (mode, theme motion and line height, policy), so in elderly mode
the verdicts are remembered by the component's encoded bytes (`_memo`, bounded, on the compiled
template): a component served before in the same context is not checked again, anything else
(a changed field, a component mutated in place, another context) is. `check_layout(...,
memo=False)` checks every component afresh; tests compare both on random broken layouts.

Independent of what it checks, as before the tables: nothing here is shared with the code of
`render` / `rules` that applies a rule. The check re-derives each rule from the catalogue view of
the template (`compiled.views`) and the policy; it reads the palette pairs of `theme` (the lint
reads the same), the change count of DESIGN section 5 (`cap.change_count`, written for this
check) and, from `rules`, only the data naming the voice-navigation type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from typing import NamedTuple

import msgspec

from uiserver.engine.cap import change_count
from uiserver.engine.colour_cues import colour_only
from uiserver.engine.compiled import CompiledTemplate
from uiserver.engine.components import ResolvedComponent
from uiserver.engine.elderly import columns_drawn
from uiserver.engine.labels import has_visible_text
from uiserver.engine.plan import RATIO_DIGITS
from uiserver.engine.rules import ELDERLY_SHOW_TYPES
from uiserver.engine.theme import palette_problems
from uiserver.engine.variant_base import VariantBase
from uiserver.policy import Policy
from uiserver.schema import Layout, LayoutComponent, LayoutPalette
from uiserver.types import NAVIGATION_ROLES, TABLIST

EPSILON = 1e-9
# Ratios on the wire are rounded (RATIO_DIGITS decimals): cap vs max_change x strength may
# differ by the two roundings.
WIRE_TOLERANCE = 10.0**-RATIO_DIGITS


class LayoutRuleError(RuntimeError):
    """Even the base layout breaks a rule: the template must not be served."""


@lru_cache(maxsize=256)
def _palette_problems(palette: LayoutPalette, policy: Policy, enhanced: bool) -> tuple[str, ...]:
    """Palettes are few (a handful per template version): check each pair once."""
    return tuple(palette_problems(palette, policy, enhanced))


# A component of the layout the template has: (its position in the layout, the component as
# served, the component as the template and catalogue define it for this variant and mode).
Placed = tuple[int, LayoutComponent, ResolvedComponent]


@dataclass(slots=True)
class LayoutFacts:
    """One layout under check: what the rules read. The walk over the components
    (`_check_components`) fills in the fields after `elderly`; the cap and pinned steps the
    last three."""

    layout: Layout
    view: VariantBase  # the template's (variant, mode): catalogue flags and the base
    policy: Policy
    elderly: bool
    placed: list[Placed] = field(default_factory=list)  # in layout order
    ids: list[str] = field(default_factory=list)  # of `placed`, in layout order
    placements: dict[str, str] = field(default_factory=dict)
    largest: float = 0.0  # the largest component font
    voice_nav: bool = False  # a voice-navigation entry is among the components
    ratio: float = 0.0  # the measured change ratio (DESIGN section 5)
    common: list[str] = field(default_factory=list)  # ids also in the base, layout order
    base_common: list[str] = field(default_factory=list)  # base ids still shown, base order


LayoutRule = Callable[[LayoutFacts], Iterator[str]]
ComponentRule = Callable[[LayoutFacts], Iterator[tuple[int, str]]]  # (layout position, refusal)
PinnedRule = Callable[[str, LayoutFacts], str | None]


# --------------------------------------------------------------------------- theme


def contrast(f: LayoutFacts) -> Iterator[str]:
    """Every palette pair meets its floor: text 4.5:1 (WCAG 1.4.3), 7:1 on the enhanced palette
    of elderly and high-contrast themes (WCAG 1.4.6, MIIT 1.3), UI parts 3:1 (WCAG 1.4.11)."""
    theme = f.layout.theme
    yield from _palette_problems(theme.palette, f.policy, theme.high_contrast or f.elderly)


def elderly_enhanced_palette(f: LayoutFacts) -> Iterator[str]:
    """Elderly mode uses the enhanced-contrast palette (7:1; MIIT 1.3, WCAG 1.4.6)."""
    if not f.layout.theme.high_contrast:
        yield "elderly: theme must use the enhanced-contrast palette"


def elderly_body_font(f: LayoutFacts) -> Iterator[str]:
    """Elderly body font >= policy.elderly_font_px (24 px: WeChat care mode; the floor of the
    MIIT ageing-friendly spec 1.1 is 18 dp)."""
    font, floor = f.layout.theme.font_px, f.policy.elderly_font_px
    if font < floor:
        yield f"elderly: theme font {font} < {floor}"


def elderly_line_height(f: LayoutFacts) -> Iterator[str]:
    """Elderly line spacing >= policy.elderly_line_height (1.3x the font size; MIIT 1.2)."""
    height, floor = f.layout.theme.line_height, f.policy.elderly_line_height
    if height < floor:
        yield f"elderly: line height {height} < {floor}"


def elderly_motion(f: LayoutFacts) -> Iterator[str]:
    """Motion is reduced in elderly mode (WCAG 2.3.3; MIIT 5.1: no auto-play)."""
    if f.layout.theme.motion == "full":
        yield "elderly: motion must be reduced"


def elderly_paragraph_spacing(f: LayoutFacts) -> Iterator[str]:
    """Elderly paragraph spacing >= policy.elderly_paragraph_spacing x the line spacing (1.3;
    MIIT 1.2), in the theme."""
    spacing, floor = f.layout.theme.paragraph_spacing, f.policy.elderly_paragraph_spacing
    if spacing is None or spacing < floor:
        yield f"elderly: paragraph spacing {spacing} < {floor} x the line spacing (MIIT 1.2)"


THEME_RULES: tuple[tuple[str, LayoutRule], ...] = (("contrast", contrast),)
ELDERLY_THEME_RULES: tuple[tuple[str, LayoutRule], ...] = (
    ("elderly_enhanced_palette", elderly_enhanced_palette),
    ("elderly_body_font", elderly_body_font),
    ("elderly_line_height", elderly_line_height),
    ("elderly_motion", elderly_motion),
    ("elderly_paragraph_spacing", elderly_paragraph_spacing),
)


# --------------------------------------------------------------------------- components


def served_once(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """Each component at most once: the change ratio of DESIGN section 5 counts distinct ids
    (no WCAG number; a repeated component would be read out twice)."""
    seen: set[str] = set()
    for k, lc, _ in f.placed:
        if lc.id in seen:
            yield k, f"{lc.id}: appears twice"
        seen.add(lc.id)


def same_name(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """Personalization may move a component, never rename it: label, role and type as in the
    template (WCAG 3.2.4 consistent identification, 4.1.2)."""
    for k, lc, c in f.placed:
        if lc.label != c.label or lc.role != c.role or lc.type != c.type:
            yield k, f"{lc.id}: renamed (label, role and type never change)"


def named(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """Every interactive or image component has a role and a visible label (WCAG 4.1.2,
    1.1.1)."""
    for k, lc, c in f.placed:
        if (c.interactive or c.image) and (not lc.role or not has_visible_text(lc.label)):
            yield k, f"{lc.id}: interactive or image component without label or role"


def catalogue_font(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """Font >= the catalogue type's min_font_px (12 px unless the type says more: the smallest
    size the type stays readable at; font scaling, WCAG 1.4.4, only ever goes up from it)."""
    for k, lc, c in f.placed:
        if lc.font_px < c.min_font_px:
            yield k, f"{lc.id}: font {lc.font_px} < catalogue minimum {c.min_font_px}"


def touch_target(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """Targets >= policy.min_target_px for interactive components (44 px: WCAG 2.5.5, Apple HIG
    44 pt) and never below policy.absolute_min_target_px (24 px: WCAG 2.2 2.5.8)."""
    absolute, floor = f.policy.absolute_min_target_px, f.policy.min_target_px
    for k, lc, c in f.placed:
        target = lc.min_target_px
        if target < absolute or (c.interactive and target < floor):
            yield k, f"{lc.id}: touch target {target} below the minimum"


def no_autoplay(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """With motion reduced or none, an animated component says `autoplay: false` (WCAG 2.3.3,
    2.2.2)."""
    motion = f.layout.theme.motion
    if motion == "full":
        return
    for k, lc, c in f.placed:
        if c.animated and lc.props.get("autoplay") is not False:
            yield k, f"{lc.id}: animated component auto-plays with motion {motion}"


def pinned_flag(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """The pinned flag is the template's (WCAG 3.2.3 consistent navigation)."""
    for k, lc, c in f.placed:
        if lc.pinned != c.pinned:
            yield k, f"{lc.id}: pinned flag changed"


def action_placement(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """Only action buttons leave their template placement (for the thumb side: DESIGN section
    3); everything else stays where the template put it (WCAG 3.2.3)."""
    for k, lc, c in f.placed:
        if lc.placement != c.placement and not c.action:
            yield k, f"{lc.id}: only action buttons change placement"


def elderly_font(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """Elderly mode: every component font >= policy.elderly_font_px (24 px; MIIT 1.1)."""
    floor = f.policy.elderly_font_px
    for k, lc, _ in f.placed:
        if lc.font_px < floor:
            yield k, f"{lc.id}: elderly font {lc.font_px} < {floor}"


def elderly_target(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """Elderly mode: interactive main components >= policy.elderly_main_target_px (60 px; MIIT
    2.1), other interactive ones >= policy.elderly_target_px (44 px; field report)."""
    main, other = f.policy.elderly_main_target_px, f.policy.elderly_target_px
    for k, lc, c in f.placed:
        if c.interactive and lc.min_target_px < (main if c.main else other):
            yield k, f"{lc.id}: elderly target {lc.min_target_px} too small"


def elderly_no_ads(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """Elderly mode shows no ads, promotions or pay/download-inducing buttons (MIIT 5.1)."""
    for k, lc, c in f.placed:
        if c.ad or c.promo:
            yield k, f"{lc.id}: ads and promotions are not shown in elderly mode"


def elderly_paragraph(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """Elderly mode: every component that draws text keeps paragraphs apart by at least
    policy.elderly_paragraph_spacing x its line spacing (font x line height; MIIT 1.2)."""
    ratio = f.policy.elderly_paragraph_spacing * f.layout.theme.line_height
    for k, lc, c in f.placed:
        if not c.text:
            continue
        need = lc.font_px * ratio
        if lc.paragraph_px is None or lc.paragraph_px + EPSILON < need:
            yield k, f"{lc.id}: paragraph spacing {lc.paragraph_px} < {need:.1f} px (MIIT 1.2)"


def elderly_target_gap(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """Elderly mode: every tap target keeps policy.elderly_target_gap_px free around it against
    mis-taps (Material: >= 8 dp between targets; 12 px a product heuristic)."""
    floor = f.policy.elderly_target_gap_px
    for k, lc, c in f.placed:
        if c.interactive and (lc.gap_px is None or lc.gap_px < floor):
            yield k, f"{lc.id}: gap around the target {lc.gap_px} < {floor} px"


def elderly_no_pressure(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """Elderly mode has no pop-up, countdown, auto-advancing carousel or download/payment-
    inducing button: neither a type flagged so, nor a template prop that makes one, nor a
    served pressure prop set (MIIT 5.x; WCAG 2.2.1, 2.2.2)."""
    for k, lc, c in f.placed:
        served = [name for name in c.pressure_props if lc.props.get(name)]
        if c.pressure or served:
            what = ", ".join([*c.pressure, *served])
            yield k, f"{lc.id}: puts the user under pressure ({what}) in elderly mode (MIIT 5.x)"


def elderly_reflow(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """Elderly mode: no grid lays out more than policy.elderly_max_columns columns and no tab
    bar draws more than policy.elderly_max_tabs tabs (reflow, not zoom: WCAG 1.4.10; both
    counts product heuristics, see the policy's `sources`)."""
    for k, lc, c in f.placed:
        tabs = c.role == TABLIST
        most = f.policy.elderly_max_tabs if tabs else f.policy.elderly_max_columns
        columns = columns_drawn(c.column_prop, c.role, c.columns, lc.props)
        if columns is not None and columns > most:
            what = "tabs" if tabs else "columns"
            yield k, f"{lc.id}: {columns} {what} > {most} in elderly mode (WCAG 1.4.10)"


def elderly_confirm(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """Elderly mode: payment and destructive actions ask first, `confirm: true` (WCAG 3.3.4)."""
    for k, lc, c in f.placed:
        if c.confirm and lc.props.get("confirm") is not True:
            yield k, f"{lc.id}: payment or destructive action without confirmation (WCAG 3.3.4)"


def not_colour_only(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """No state or badge prop (catalogue `state`) is carried by colour alone: text or an icon
    with it (WCAG 1.4.1; MIIT 1.4, clause number from memory). Lint refuses such templates;
    this catches a layout that got one anyway (a variant, a patch, a stale catalogue)."""
    for k, lc, c in f.placed:
        for name in c.state_props:
            if colour_only(lc.props.get(name)):
                yield k, f"{lc.id}: {name} is a state carried by colour alone (WCAG 1.4.1)"


def elderly_speech(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """Elderly mode: every named component carries the text read aloud, starting with its
    name (WCAG 1.1.1, 4.1.2)."""
    for k, lc, _ in f.placed:
        if lc.label and not (lc.speech and lc.speech.startswith(lc.label)):
            yield k, f"{lc.id}: no speech text for its label (WCAG 1.1.1, 4.1.2)"


def stays_on_page(c: ResolvedComponent) -> bool:
    """Navigation, pinned and placed components, the help and voice entries: never folded."""
    return (
        c.pinned
        or c.role in NAVIGATION_ROLES
        or c.placement != "flow"
        or c.help
        or c.type in ELDERLY_SHOW_TYPES
    )


class ViewFacts(NamedTuple):
    """What the page rules read of a (variant, mode) view that no layout changes."""

    entry_units: tuple[bool, ...]  # by unit: an entry (an interactive member, none that stays)
    base_help: bool  # the base shows a help entry


# id(view) -> (view, its facts): views live as long as their template version (a few dozen).
_VIEW_FACTS: dict[int, tuple[VariantBase, ViewFacts]] = {}
_VIEW_FACTS_MAX = 256


def _view_facts(view: VariantBase) -> ViewFacts:
    """`ViewFacts` of `view`, derived once per view object (the entry holds the view, so its id
    is not reused while the entry lives)."""
    known = _VIEW_FACTS.get(id(view))
    if known is not None and known[0] is view:
        return known[1]
    comps = view.comps
    facts = ViewFacts(
        entry_units=tuple(
            not any(stays_on_page(comps[m]) for m in members)
            and any(comps[m].interactive for m in members)
            for members in view.units
        ),
        base_help=any(c.help for c in comps if view.base_pos[c.idx] >= 0),
    )
    if len(_VIEW_FACTS) >= _VIEW_FACTS_MAX:
        _VIEW_FACTS.clear()
    _VIEW_FACTS[id(view)] = (view, facts)
    return facts


def elderly_folded(f: LayoutFacts) -> Iterator[tuple[int, str]]:
    """Elderly mode never folds navigation, pinned or placed components, the help or the
    voice entry behind More (WCAG 3.2.3, 3.2.6)."""
    for k, lc, c in f.placed:
        if lc.folded and stays_on_page(c):
            yield k, f"{lc.id}: navigation, help and voice entries are never folded"


COMPONENT_RULES: tuple[tuple[str, ComponentRule], ...] = (
    ("served_once", served_once),
    ("same_name", same_name),
    ("named", named),
    ("catalogue_font", catalogue_font),
    ("touch_target", touch_target),
    ("no_autoplay", no_autoplay),
    ("pinned_flag", pinned_flag),
    ("action_placement", action_placement),
    ("not_colour_only", not_colour_only),
)
ELDERLY_COMPONENT_RULES: tuple[tuple[str, ComponentRule], ...] = (
    ("elderly_font", elderly_font),
    ("elderly_target", elderly_target),
    ("elderly_no_ads", elderly_no_ads),
    ("elderly_no_pressure", elderly_no_pressure),
    ("elderly_paragraph", elderly_paragraph),
    ("elderly_target_gap", elderly_target_gap),
    ("elderly_reflow", elderly_reflow),
    ("elderly_confirm", elderly_confirm),
    ("elderly_speech", elderly_speech),
    ("elderly_folded", elderly_folded),
)


# --------------------------------------------------------------------------- page and cap


def elderly_largest_step(f: LayoutFacts) -> Iterator[str]:
    """Elderly mode: the largest font step >= policy.elderly_max_font_px (30 px; field report
    on MIIT 1.1)."""
    floor = f.policy.elderly_max_font_px
    if f.layout.components and f.largest < floor:
        yield f"elderly: largest font {f.largest} < {floor}"


def elderly_voice_nav(f: LayoutFacts) -> Iterator[str]:
    """Elderly mode shows the template's voice-navigation entry (MIIT 5.1; field reports)."""
    if f.view.has_voice_nav and not f.voice_nav:
        yield "elderly: voice navigation entry missing"


def elderly_help(f: LayoutFacts) -> Iterator[str]:
    """Elderly mode shows the template's one-tap help entry (WCAG 3.2.6 consistent help)."""
    if _view_facts(f.view).base_help and not any(c.help for _, _, c in f.placed):
        yield "elderly: help entry missing (WCAG 3.2.6)"


def elderly_fewer_choices(f: LayoutFacts) -> Iterator[str]:
    """Elderly mode, on policy.elderly_fold_pages: at most policy.elderly_max_entries entries
    (movable units with an interactive component) stay on the page besides those the user
    opened lately (`elderly:recent`); anything folded has the page's More entry."""
    info = f.layout.elderly
    if any(lc.folded for _, lc, _ in f.placed) and (info is None or not info.more_label):
        yield "elderly: folded components without a More entry"
    if f.layout.page not in f.policy.elderly_fold_pages:
        return
    unit_of, entry = f.view.unit_of, _view_facts(f.view).entry_units
    units: set[int] = set()
    recent: set[int] = set()
    for _, lc, c in f.placed:
        u = unit_of[c.idx]
        if u < 0 or lc.folded or not entry[u]:
            continue
        units.add(u)
        if "elderly:recent" in lc.reasons:
            recent.add(u)
    shown = len(units - recent)
    if shown > f.policy.elderly_max_entries:
        yield f"elderly: {shown} entries on the page > {f.policy.elderly_max_entries}"


def elderly_needs_listed(f: LayoutFacts) -> Iterator[str]:
    """Elderly mode lists every elderly need it applied (`elderly.needs`): needs, not
    preferences, never counted against the cap, but each one named (issue 24)."""
    info = f.layout.elderly
    if info is None:
        yield "elderly: the layout's elderly block is missing"
        return
    reasons = set(f.layout.reasons)
    for _, lc, _ in f.placed:
        reasons.update(lc.reasons)
    missing = {r for r in reasons if r.startswith("elderly:")}.difference(info.needs)
    if missing:
        yield "elderly: needs not listed: " + ", ".join(sorted(missing))


def cap_formula(f: LayoutFacts) -> Iterator[str]:
    """cap = policy.max_change x strength (0.40: a field report, a product heuristic that no
    standard sets; DESIGN sections 3-4), within the wire's rounding."""
    info = f.layout.personalization
    if abs(info.cap - f.policy.max_change * info.strength) > WIRE_TOLERANCE:
        yield f"cap {info.cap} is not max_change x strength"


def within_cap(f: LayoutFacts) -> Iterator[str]:
    """The change ratio of DESIGN section 5, measured against the base, is <= the cap."""
    cap = f.layout.personalization.cap
    if f.ratio > cap + EPSILON:
        yield f"changed ratio {f.ratio:.3f} exceeds the cap {cap:.3f}"


def reported_ratio(f: LayoutFacts) -> Iterator[str]:
    """The layout reports the change ratio it has (DESIGN section 5)."""
    reported = f.layout.personalization.changed_ratio
    if abs(f.ratio - reported) > EPSILON:
        yield f"reported changed ratio {reported} != measured {f.ratio}"


ELDERLY_PAGE_RULES: tuple[tuple[str, LayoutRule], ...] = (
    ("elderly_largest_step", elderly_largest_step),
    ("elderly_voice_nav", elderly_voice_nav),
    ("elderly_help", elderly_help),
    ("elderly_fewer_choices", elderly_fewer_choices),
    ("elderly_needs_listed", elderly_needs_listed),
)
CAP_RULES: tuple[tuple[str, LayoutRule], ...] = (
    ("cap_formula", cap_formula),
    ("within_cap", within_cap),
    ("reported_ratio", reported_ratio),
)


# --------------------------------------------------------------------------- pinned


def pinned_shown(cid: str, f: LayoutFacts) -> str | None:
    """A pinned component of the base is never hidden (WCAG 3.2.3 consistent navigation)."""
    return f"{cid}: pinned component hidden" if cid not in f.placements else None


def pinned_in_place(cid: str, f: LayoutFacts) -> str | None:
    """A pinned component keeps its place among the components both the base and the layout
    show (WCAG 3.2.3). Only asked about a shown one: `pinned_shown` comes first."""
    if f.common.index(cid) != f.base_common.index(cid):
        return f"{cid}: pinned component moved"
    return None


def pinned_placement(cid: str, f: LayoutFacts) -> str | None:
    """A pinned component keeps its base placement (WCAG 3.2.3)."""
    if f.placements[cid] != f.view.base_placements[cid]:
        return f"{cid}: pinned component changed placement"
    return None


# The first rule that fires names what happened to the component (one problem each).
PINNED_RULES: tuple[tuple[str, PinnedRule], ...] = (
    ("pinned_shown", pinned_shown),
    ("pinned_in_place", pinned_in_place),
    ("pinned_placement", pinned_placement),
)


# --------------------------------------------------------------------------- dispatch


def _run(rules: tuple[tuple[str, LayoutRule], ...], f: LayoutFacts, problems: list[str]) -> None:
    for _name, rule in rules:
        problems.extend(rule(f))


# Component rules that compare components with each other: run over the whole layout on every
# check. Every other component rule is a verdict on one component (`_verdicts`).
ACROSS_COMPONENTS = frozenset({"served_once"})
_STANDARD_TABLE = COMPONENT_RULES
_ELDERLY_TABLE = COMPONENT_RULES + ELDERLY_COMPONENT_RULES
_ACROSS = {
    table: tuple(rule for name, rule in table if name in ACROSS_COMPONENTS)
    for table in (_STANDARD_TABLE, _ELDERLY_TABLE)
}
_EACH = {
    table: tuple(rule for name, rule in table if name not in ACROSS_COMPONENTS)
    for table in (_STANDARD_TABLE, _ELDERLY_TABLE)
}
# Bounds of the verdict memo (`CompiledTemplate.checked`): check contexts per template version
# (variant x mode x motion x line height x policy: a few dozen), then components per context
# (the distinct renderings of a page's components: a few thousand). Full: emptied, refilled.
MEMO_CONTEXTS = 64
MEMO_COMPONENTS = 8192
_COMPONENT_BYTES = msgspec.msgpack.Encoder()

# A component's problems from the per-component rules, in table order (empty: none).
Verdict = tuple[str, ...]


def _memo(f: LayoutFacts, compiled: CompiledTemplate) -> dict[bytes, Verdict]:
    """The verdicts already reached in this check context. A per-component rule reads only the
    component as served (all of it is in the key: its encoded bytes), the component as the view
    defines it (fixed by the layout's variant and mode within `compiled`), the policy, and the
    theme's motion and line height: the context. A rule that reads more must add it here."""
    theme = f.layout.theme
    context = (f.layout.variant, f.layout.mode, theme.motion, theme.line_height, f.policy)
    memos = compiled.checked
    memo = memos.get(context)
    if memo is None:
        if len(memos) >= MEMO_CONTEXTS:
            memos.clear()
        memo = memos[context] = {}
    return memo


def _verdicts(
    f: LayoutFacts, each: tuple[ComponentRule, ...], memo: dict[bytes, Verdict] | None
) -> Iterator[tuple[int, str]]:
    """(layout position, problem) from the per-component rules. With a memo, a component whose
    bytes were checked in this context before gets the verdict it had; the others are checked
    together, one loop per rule, and their verdicts remembered."""
    if memo is None:
        for rule in each:
            yield from rule(f)
        return
    misses: list[Placed] = []
    keys: list[bytes] = []
    encode = _COMPONENT_BYTES.encode
    get = memo.get
    for entry in f.placed:
        key = encode(entry[1])
        verdict = get(key)
        if verdict is None:
            misses.append(entry)
            keys.append(key)
        elif verdict:
            k = entry[0]
            for problem in verdict:
                yield k, problem
    if misses:
        yield from _remember(f, each, misses, keys, memo)


def _remember(
    f: LayoutFacts,
    each: tuple[ComponentRule, ...],
    misses: list[Placed],
    keys: list[bytes],
    memo: dict[bytes, Verdict],
) -> Iterator[tuple[int, str]]:
    """Check the components `misses` (their bytes `keys`) together, one loop per rule; remember
    each one's verdict in `memo` and yield (layout position, problem)."""
    sub = LayoutFacts(f.layout, f.view, f.policy, f.elderly, placed=misses)
    found: dict[int, list[str]] = {k: [] for k, _, _ in misses}
    for rule in each:
        for k, problem in rule(sub):
            found[k].append(problem)
    if len(memo) + len(misses) > MEMO_COMPONENTS:
        memo.clear()
    for (k, _, _), key in zip(misses, keys, strict=True):
        verdict = memo[key] = tuple(found[k])
        for problem in verdict:
            yield k, problem


def _check_components(
    f: LayoutFacts,
    index: Mapping[str, int],
    problems: list[str],
    memo: dict[bytes, Verdict] | None = None,
) -> None:
    """Walk the components once (an id the template lacks has nothing to be checked against),
    record what the later rules read, then run the component rules (the per-component ones
    through `memo` when given)."""
    comps, placed, ids, placements = f.view.comps, f.placed, f.ids, f.placements
    found: list[tuple[int, str]] = []
    largest = 0.0
    for k, lc in enumerate(f.layout.components):
        cid = lc.id
        i = index.get(cid)
        if i is None:
            found.append((k, f"{cid}: not a component of the template"))
            continue
        c = comps[i]
        placed.append((k, lc, c))
        ids.append(cid)
        placements[cid] = lc.placement
        if lc.font_px > largest:
            largest = lc.font_px
        if c.type in ELDERLY_SHOW_TYPES:
            f.voice_nav = True
    f.largest = largest
    table = _ELDERLY_TABLE if f.elderly else _STANDARD_TABLE
    for rule in _ACROSS[table]:
        found.extend(rule(f))
    # A component's own problems come after the cross-component ones at its position: the
    # sort below is stable, so each component's problems stay in table order (served_once first).
    found.extend(_verdicts(f, _EACH[table], memo))
    if found:
        found.sort(key=itemgetter(0))  # stable: layout order, then table order
        problems.extend(problem for _, problem in found)


def _measure_ratio(f: LayoutFacts) -> float:
    """changed / base components, exactly as DESIGN section 5 defines it, against this view."""
    view = f.view
    n = len(view.base_ids)
    changed = change_count(
        view.base_ids, view.base_placements, f.ids, f.placements, view.base_index
    )
    return round(changed / n, RATIO_DIGITS) if n else 0.0


def _check_pinned(f: LayoutFacts, problems: list[str]) -> None:
    """Pinned components: shown, same place among the common components, same placement."""
    view = f.view
    if not view.pinned_ids:
        return
    f.common = [cid for cid in f.ids if cid in view.base_placements]
    f.base_common = [cid for cid in view.base_ids if cid in f.placements]
    for cid in view.pinned_ids:
        for _name, rule in PINNED_RULES:
            problem = rule(cid, f)
            if problem is not None:
                problems.append(problem)
                break


def check_layout(
    layout: Layout, compiled: CompiledTemplate, policy: Policy, *, memo: bool = True
) -> list[str]:
    """Every rule of DESIGN section 4 the layout breaks, as readable problems. `memo`: reuse
    the per-component verdicts reached before for a component with the same bytes in the same
    context (`_memo`); False checks every component afresh (same problems, the reference)."""
    view = compiled.views.get((layout.variant, layout.mode))
    if view is None:
        return [f"unknown variant {layout.variant!r} / mode {layout.mode!r}"]
    elderly = layout.mode == "elderly"
    f = LayoutFacts(layout, view, policy, elderly)
    problems: list[str] = []
    _run(THEME_RULES + ELDERLY_THEME_RULES if elderly else THEME_RULES, f, problems)
    # The memo pays in elderly mode (18 per-component rules, most components touched by the
    # plan); the 8 standard ones cost less than a component's key (issue 26, BENCHMARKS.md).
    verdicts = _memo(f, compiled) if memo and elderly else None
    _check_components(f, compiled.index, problems, verdicts)
    if elderly:
        _run(ELDERLY_PAGE_RULES, f, problems)
    f.ratio = _measure_ratio(f)
    _run(CAP_RULES, f, problems)
    _check_pinned(f, problems)
    return problems

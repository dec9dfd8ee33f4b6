"""The ageing-friendly and WCAG 2.2 AA assessment of a page (issue 24), pure: no I/O.

For each persona (`PERSONAS`: default, elderly, low vision, screen reader) in the standard and
the dark theme, the layout the engine serves is measured against every item the server can
judge (`ITEMS`): font sizes, line and paragraph spacing, target sizes and gaps, contrast pairs,
accessible names and speech, no ads, pop-ups or pressure in elderly mode, reflow, colour-only
cues, motion, safe actions, help, fewer choices. Each item has its clause (MIIT APP
ageing-friendly specification 2021 and WCAG 2.2; the policy file's `sources` say which MIIT
numbers are from memory), the measured figure, the components that fail it (so the console
links each to its place on the phone preview), and pass, fail or n/a (not applicable in this
mode). Items only people can judge (`MANUAL`: voice input, captchas, gestures...) are listed
with the result recorded for them, if any.

The score takes the MIIT programme's form: points out of 100, 60 to pass (互联网应用适老化及
无障碍水平评测体系: user satisfaction, technical evaluation and self-evaluation make 100 points;
60 passes). Here it is the share of the server-judged items passed, x 100: the part of the
technical evaluation the server can vouch for, never the whole mark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import msgspec

from uiserver.engine.colour_cues import colour_only
from uiserver.engine.components import ResolvedComponent
from uiserver.engine.contrast import contrast_ratio
from uiserver.engine.elderly import columns_drawn
from uiserver.engine.theme import PAIRS, floor
from uiserver.policy import Policy
from uiserver.schema import Context, Layout, LayoutComponent
from uiserver.types import NAVIGATION_ROLES, TABLIST, VOICE_NAV_TYPE

# (persona, title) in report order: the four the issue names.
ASSESSED_PERSONAS: tuple[tuple[str, str], ...] = (
    ("default", "Default"),
    ("elderly", "Elderly (60+)"),
    ("low_vision", "Low vision"),
    ("screen_reader", "Screen reader"),
)
THEMES: tuple[tuple[bool, str], ...] = ((False, "standard"), (True, "dark"))
POINTS = 100
PASS_MARK = 60

Result = Literal["pass", "fail", "n/a"]
ManualResult = Literal["unchecked", "pass", "fail"]


class Item(msgspec.Struct):
    """One server-judged item of one layout."""

    id: str
    title: str
    clause: str
    result: Result
    figure: str
    components: list[str] = []  # ids of the components that fail it


class Score(msgspec.Struct):
    points: float  # out of `out_of`
    passed: bool  # points >= pass_mark
    judged: int  # items judged (pass or fail)
    failed: int
    out_of: int = POINTS
    pass_mark: int = PASS_MARK


class PersonaReport(msgspec.Struct):
    persona: str
    title: str
    theme: str  # standard or dark
    mode: str  # the mode served
    items: list[Item]
    score: Score


class ManualItem(msgspec.Struct):
    """An item only people can judge, with the result recorded for it."""

    id: str
    title: str
    clause: str
    result: ManualResult = "unchecked"
    note: str = ""
    by: str = ""
    at: float | None = None


class Assessment(msgspec.Struct):
    page: str
    version: str
    personas: list[PersonaReport]
    manual: list[ManualItem]
    score: Score


@dataclass(frozen=True, slots=True)
class Facts:
    """One served layout and what it is measured with."""

    layout: Layout
    comps: Mapping[str, ResolvedComponent]  # id -> the template's component (this mode)
    policy: Policy

    @property
    def elderly(self) -> bool:
        return self.layout.mode == "elderly"

    def placed(self) -> Iterable[tuple[LayoutComponent, ResolvedComponent]]:
        for lc in self.layout.components:
            c = self.comps.get(lc.id)
            if c is not None:
                yield lc, c


Measured = tuple[Result, str, list[str]]
Measure = Callable[[Facts], Measured]


def _verdict(offenders: Sequence[str], figure: str) -> Measured:
    return ("fail" if offenders else "pass"), figure, list(offenders)


def _font_size(f: Facts) -> Measured:
    floor_px = f.policy.elderly_font_px if f.elderly else None
    offenders, smallest = [], None
    for lc, c in f.placed():
        need = floor_px if floor_px is not None else c.min_font_px
        smallest = lc.font_px if smallest is None else min(smallest, lc.font_px)
        if lc.font_px < need:
            offenders.append(lc.id)
    floor_text = f"{floor_px:g} px" if floor_px is not None else "each type's minimum"
    return _verdict(offenders, f"smallest {smallest or 0:g} px (floor {floor_text})")


def _largest_font(f: Facts) -> Measured:
    if not f.elderly:
        return "n/a", "standard mode", []
    largest = max((lc.font_px for lc in f.layout.components), default=0.0)
    need = f.policy.elderly_max_font_px
    return ("pass" if largest >= need else "fail"), f"largest {largest:g} px (>= {need:g})", []


def _line_spacing(f: Facts) -> Measured:
    height = f.layout.theme.line_height
    need = f.policy.elderly_line_height if f.elderly else 1.0
    return ("pass" if height >= need else "fail"), f"{height:g}x the font (>= {need:g})", []


def _paragraph_spacing(f: Facts) -> Measured:
    if not f.elderly:
        return "n/a", "standard mode", []
    need = f.policy.elderly_paragraph_spacing
    line = f.layout.theme.line_height
    offenders, least = [], None
    for lc, c in f.placed():
        if not c.text:
            continue
        ratio = (lc.paragraph_px or 0.0) / (lc.font_px * line)
        least = ratio if least is None else min(least, ratio)
        if ratio + 1e-9 < need:
            offenders.append(lc.id)
    theme = f.layout.theme.paragraph_spacing or 0.0
    if theme < need:
        offenders.insert(0, "theme")
    return _verdict(
        offenders, f"least {min(least or 0.0, theme):.2f}x the line spacing (>= {need:g})"
    )


def _target_size(f: Facts) -> Measured:
    p = f.policy
    offenders, smallest = [], None
    for lc, c in f.placed():
        if not c.interactive:
            continue
        need = p.min_target_px
        if f.elderly:
            need = max(need, p.elderly_main_target_px if c.main else p.elderly_target_px)
        smallest = lc.min_target_px if smallest is None else min(smallest, lc.min_target_px)
        if lc.min_target_px < need:
            offenders.append(lc.id)
    main = f", main >= {p.elderly_main_target_px:g}" if f.elderly else ""
    return _verdict(offenders, f"smallest {smallest or 0:g} px (>= {p.min_target_px:g}{main})")


def _target_gap(f: Facts) -> Measured:
    if not f.elderly:
        return "n/a", "standard mode", []
    need = f.policy.elderly_target_gap_px
    offenders = [lc.id for lc, c in f.placed() if c.interactive and (lc.gap_px or 0.0) < need]
    return _verdict(offenders, f"{need:g} px around every target" if not offenders else "gaps")


def _contrast(f: Facts) -> Measured:
    palette = msgspec.structs.asdict(f.layout.theme.palette)
    enhanced = f.layout.theme.high_contrast or f.elderly
    offenders, worst = [], None
    for fg, bg, kind in PAIRS:
        ratio = contrast_ratio(palette[fg], palette[bg])
        need = floor(f.policy, kind, enhanced)
        if worst is None or ratio / need < worst[0] / worst[1]:
            worst = (ratio, need, f"{fg}/{bg}")
        if ratio + 1e-9 < need:
            offenders.append(f"palette.{fg}")
    assert worst is not None
    return _verdict(offenders, f"lowest {worst[2]} {worst[0]:.2f}:1 (>= {worst[1]:g}:1)")


def _names(f: Facts) -> Measured:
    needing = [(lc, c) for lc, c in f.placed() if c.interactive or c.image]
    offenders = [lc.id for lc, _ in needing if not lc.label.strip() or not lc.role]
    return _verdict(offenders, f"{len(needing) - len(offenders)} of {len(needing)} named")


def _speech(f: Facts) -> Measured:
    if not f.elderly:
        return "n/a", "labels are spoken (standard mode)", []
    offenders = [lc.id for lc, _ in f.placed() if lc.label and not lc.speech]
    total = len(f.layout.components)
    return _verdict(offenders, f"{total - len(offenders)} of {total} with speech")


def _no_pressure(f: Facts) -> Measured:
    if not f.elderly:
        return "n/a", "standard mode", []
    offenders = [
        lc.id
        for lc, c in f.placed()
        if c.ad or c.promo or c.pressure or any(lc.props.get(n) for n in c.pressure_props)
    ]
    return _verdict(offenders, f"{len(offenders)} ads, pop-ups or inducing components")


def _reflow(f: Facts) -> Measured:
    if not f.elderly:
        return "n/a", "standard mode", []
    most, most_tabs = f.policy.elderly_max_columns, f.policy.elderly_max_tabs
    widest, tabs, offenders = 0, 0, []
    for lc, c in f.placed():
        columns = columns_drawn(c.column_prop, c.role, c.columns, lc.props)
        if columns is None:
            continue
        if c.role == TABLIST:
            tabs = max(tabs, columns)
        else:
            widest = max(widest, columns)
        if columns > (most_tabs if c.role == TABLIST else most):
            offenders.append(lc.id)
    figure = f"at most {widest} columns (<= {most}), {tabs} tabs (<= {most_tabs})"
    return _verdict(offenders, figure)


def _colour_cues(f: Facts) -> Measured:
    offenders = [
        lc.id for lc, c in f.placed() for n in c.state_props if colour_only(lc.props.get(n))
    ]
    return _verdict(offenders, f"{len(offenders)} colour-only states")


def _motion(f: Facts) -> Measured:
    motion = f.layout.theme.motion
    offenders = [
        lc.id
        for lc, c in f.placed()
        if c.animated and motion != "full" and lc.props.get("autoplay") is not False
    ]
    if f.elderly and motion == "full":
        offenders.insert(0, "theme")
    return _verdict(offenders, f"motion {motion}")


def _confirm(f: Facts) -> Measured:
    if not f.elderly:
        return "n/a", "standard mode", []
    actions = [(lc, c) for lc, c in f.placed() if c.confirm]
    offenders = [lc.id for lc, _ in actions if lc.props.get("confirm") is not True]
    return _verdict(offenders, f"{len(actions) - len(offenders)} of {len(actions)} confirmed")


def _help(f: Facts) -> Measured:
    if not f.elderly:
        return "n/a", "standard mode", []
    wanted = any(c.help for c in f.comps.values())
    shown = any(c.help for _, c in f.placed())
    if not wanted:
        return "n/a", "the page has no help entry", []
    return ("pass" if shown else "fail"), "shown" if shown else "missing", []


def _voice(f: Facts) -> Measured:
    if not f.elderly:
        return "n/a", "standard mode", []
    if not any(c.type == VOICE_NAV_TYPE for c in f.comps.values()):
        return "n/a", "the page has no voice entry", []
    shown = any(c.type == VOICE_NAV_TYPE for _, c in f.placed())
    return ("pass" if shown else "fail"), "shown" if shown else "missing", []


def _is_entry(lc: LayoutComponent, c: ResolvedComponent) -> bool:
    return (
        c.interactive
        and not lc.folded
        and not (c.pinned or c.role in NAVIGATION_ROLES or c.placement != "flow")
        and not (c.help or c.type == VOICE_NAV_TYPE)
        and "elderly:recent" not in lc.reasons
    )


def _fewer_choices(f: Facts) -> Measured:
    if not f.elderly or f.layout.page not in f.policy.elderly_fold_pages:
        return "n/a", "not a fold page" if f.elderly else "standard mode", []
    # An entry is a unit: consecutive components sharing an affinity key count once (a
    # section title with its grid, two grids of one aisle).
    entries: list[str] = []
    run: str | None = None
    counted = False
    for lc, c in f.placed():
        if c.key != run:
            run, counted = c.key, False
        if _is_entry(lc, c) and not counted:
            entries.append(lc.id)
            counted = True
    folded = [lc.id for lc in f.layout.components if lc.folded]
    most = f.policy.elderly_max_entries
    ok = len(entries) <= most or not folded
    figure = f"{len(entries)} entries shown, {len(folded)} behind More (<= {most})"
    return ("pass" if ok else "fail"), figure, [] if ok else entries


MIIT = "MIIT APP 适老化 2021"
# (id, title, clause, measure): every server-judged item, in report order.
ITEMS: tuple[tuple[str, str, str, Measure], ...] = (
    ("font_size", "Font sizes", f"{MIIT} 1.1; WCAG 1.4.4", _font_size),
    ("largest_font", "Largest font step", f"{MIIT} 1.1", _largest_font),
    ("line_spacing", "Line spacing", f"{MIIT} 1.2; WCAG 1.4.12", _line_spacing),
    ("paragraph_spacing", "Paragraph spacing", f"{MIIT} 1.2; WCAG 1.4.12", _paragraph_spacing),
    ("contrast", "Contrast pairs", f"{MIIT} 1.3; WCAG 1.4.3, 1.4.6, 1.4.11", _contrast),
    ("colour_cues", "Not by colour alone", f"{MIIT} 1.4; WCAG 1.4.1", _colour_cues),
    ("target_size", "Target sizes", f"{MIIT} 2.1; WCAG 2.5.5, 2.5.8", _target_size),
    ("target_gap", "Gaps between targets", "Material 8 dp; policy 12 px", _target_gap),
    ("reflow", "Reflow, not zoom", "WCAG 1.4.10", _reflow),
    ("motion", "Motion", "WCAG 2.2.2, 2.3.3", _motion),
    ("names", "Accessible names", "WCAG 4.1.2, 1.1.1", _names),
    ("speech", "Read aloud", f"WCAG 1.1.1, 4.1.2; {MIIT} 4.x (from memory)", _speech),
    (
        "no_pressure",
        "No ads, pop-ups or inducing buttons",
        f"{MIIT} 5.x (from memory)",
        _no_pressure,
    ),
    ("confirm", "Payments and deletions confirmed", "WCAG 3.3.4", _confirm),
    ("help", "One-tap help", "WCAG 3.2.6", _help),
    ("voice", "Voice navigation entry", f"{MIIT} 3.x (from memory)", _voice),
    ("fewer_choices", "Fewer choices (更多 More)", "policy elderly_max_entries", _fewer_choices),
)

# (id, title, clause): what only people can judge.
MANUAL: tuple[tuple[str, str, str], ...] = (
    ("captcha", "Captchas have a text or voice alternative", f"{MIIT} 1.5"),
    ("gestures", "No gesture needs three or more fingers", f"{MIIT} 2.2 (from memory)"),
    ("timing", "Enough time; nothing changes before the user is done", "WCAG 2.2.1"),
    ("voice_input", "Voice input understands older speakers", f"{MIIT} 3.x (from memory)"),
    ("screen_reader", "A real screen reader reads the page in order", "WCAG 1.3.2, 2.4.3"),
    ("mode_entry", "长辈版 entry in 设置 and on first entry", f"{MIIT} 3.x (from memory)"),
)


def measure(layout: Layout, comps: Mapping[str, ResolvedComponent], policy: Policy) -> list[Item]:
    """Every server-judged item of one served layout."""
    facts = Facts(layout, comps, policy)
    items = []
    for item_id, title, clause, fn in ITEMS:
        result, figure, offenders = fn(facts)
        items.append(Item(item_id, title, clause, result, figure, offenders))
    return items


def score(items: Iterable[Item]) -> Score:
    """Points out of 100 (60 to pass) over the items judged."""
    judged = [i for i in items if i.result != "n/a"]
    failed = sum(1 for i in judged if i.result == "fail")
    points = round(POINTS * (len(judged) - failed) / len(judged), 1) if judged else float(POINTS)
    return Score(points, points >= PASS_MARK, len(judged), failed)


def contexts() -> Iterable[tuple[bool, str, Context]]:
    for dark, name in THEMES:
        yield dark, name, Context(dark=dark)


def manual_items(recorded: Mapping[str, ManualItem]) -> list[ManualItem]:
    """The manual items, each with its recorded result (else unchecked)."""
    out = []
    for item_id, title, clause in MANUAL:
        got = recorded.get(item_id)
        out.append(
            ManualItem(item_id, title, clause)
            if got is None
            else msgspec.structs.replace(got, title=title, clause=clause)
        )
    return out


Serve = Callable[[str, Context], Layout]  # (persona, context) -> the layout served


def assess(
    page: str,
    version: str,
    serve: Serve,
    comps_of: Callable[[Layout], Mapping[str, ResolvedComponent]],
    policy: Policy,
    recorded: Mapping[str, ManualItem] | None = None,
) -> Assessment:
    """The page's assessment: every persona in both themes, the manual items, the score."""
    reports: list[PersonaReport] = []
    for persona, title in ASSESSED_PERSONAS:
        for _dark, theme, context in contexts():
            layout = serve(persona, context)
            items = measure(layout, comps_of(layout), policy)
            reports.append(PersonaReport(persona, title, theme, layout.mode, items, score(items)))
    overall = score(i for r in reports for i in r.items)
    return Assessment(page, version, reports, manual_items(recorded or {}), overall)

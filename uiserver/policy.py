"""The policy file: every rule's number in one place.

An operator may tighten any number (a stricter contrast, a smaller personalization cap) but never
loosen it below the WCAG AA floor or the elderly-mode minimums of DESIGN section 4: `load_policy`
refuses such a file with the field and the floor.

Who reads what: the contrast floors are read by the palette rules (`engine.theme`, the same table
for lint and serving) and by the colour-prop lint (`lint.props`), which picks the large-text
floors (`large_text_contrast`, `enhanced_large_text_contrast`) for text of at least
`large_text_px`, or `large_bold_text_px` when the type draws bold (WCAG 1.4.3 / 1.4.6 "large
scale": 18 pt, 14 pt bold = 24 px, 18.66 px). `min_font_px` is the smallest theme base font a
template may set (12 px: the smallest catalogue minimum and Material's smallest type step, 12 sp).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from uiserver.documents import DEFAULT_LIMITS, DocumentError, decode_json
from uiserver.files import read_limited

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.json")

Ratio = Annotated[float, Meta(ge=0.0, le=1.0)]
# Counters keep 28 days of history (engine.activity.WINDOW_DAYS): no threshold may look further.
Days = Annotated[int, Meta(ge=1, le=28)]
# What the one-tap help entry of elderly mode calls: the shop's customer service or a family
# member the user named (the client knows who).
ElderlyHelp = Literal["customer_service", "family"]


class Policy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    max_change: Ratio = 0.4
    min_evidence: Annotated[int, Meta(ge=0)] = 8
    hysteresis_margin: Annotated[float, Meta(ge=0.0)] = 0.25
    explore_share: Ratio = 0.03
    text_contrast: float = 4.5
    large_text_contrast: float = 3.0
    ui_contrast: float = 3.0
    enhanced_text_contrast: float = 7.0
    enhanced_large_text_contrast: float = 4.5
    large_text_px: float = 24.0
    large_bold_text_px: float = 18.66
    min_font_px: float = 12.0
    min_target_px: float = 44.0
    absolute_min_target_px: float = 24.0
    elderly_font_px: float = 24.0
    elderly_max_font_px: float = 30.0
    elderly_line_height: float = 1.3
    elderly_main_target_px: float = 60.0
    elderly_target_px: float = 44.0
    elderly_age_bands: frozenset[str] = frozenset({"60_plus"})
    care_mode_font_px: float = 22.0
    max_font_scale: float = 2.0
    tablet_column_factor: float = 2.0
    desktop_column_factor: float = 3.0
    # Computed segments (uiserver.engine.lifecycle), in whole UTC days. Field reports: "no launch
    # for 7 days" marks churn risk; users recalled within 3 days of lapsing come back most.
    new_user_days: Days = 7  # new_user: first launch or event fewer than this many days ago
    lapsing_days: Days = 3  # lapsing: no launch or event for >= this many days before today
    churn_days: Days = 7  # churn_risk: no launch or event for >= this many days before today
    returning_days: Days = 7  # returning: a churn-length lapse ended fewer than this days ago
    active_window_days: Days = 7  # active: launched on >= active_min_days of the last N days
    active_min_days: Annotated[int, Meta(ge=1, le=28)] = 3
    # RFM tiers of users with at least one convert: each of recency (days since the last
    # convert, <= first / <= second), frequency (converts, >= first / >= second) and monetary
    # (summed value, >= first / >= second) scores 3 / 2 / 1; the sum (3..9) picks the tier.
    rfm_recency_days: tuple[int, int] = (7, 30)
    rfm_frequency: tuple[int, int] = (5, 2)
    rfm_monetary: tuple[float, float] = (500.0, 100.0)
    rfm_high_score: Annotated[int, Meta(ge=3, le=9)] = 8
    rfm_mid_score: Annotated[int, Meta(ge=3, le=9)] = 6
    # 长辈版 2.0 (issue 24): the rest of the ageing-friendly specification. Each number's source
    # is in `sources` (the policy file), read by the assessment report.
    elderly_paragraph_spacing: float = 1.3  # paragraph gap / line spacing (MIIT 1.2)
    elderly_target_gap_px: float = 12.0  # gap around each tap target (Material: >= 8 dp)
    elderly_max_columns: Annotated[int, Meta(ge=1, le=6)] = 3  # reflow: columns at care sizes
    elderly_max_tabs: Annotated[int, Meta(ge=2, le=6)] = 4  # tab bar: tabs drawn, the rest 更多
    elderly_max_entries: Annotated[int, Meta(ge=1, le=50)] = 6  # entries before "更多 More"
    elderly_fold_pages: frozenset[str] = frozenset({"home"})  # pages that fold behind More
    elderly_recent_days: Days = 7  # never fold what the user opened in these days
    elderly_help: ElderlyHelp = "customer_service"  # the one-tap help entry's kind
    elderly_more_label: Annotated[str, Meta(min_length=1, max_length=40)] = "更多 More"
    # rule name -> where its number comes from (MIIT clause, WCAG criterion, field report)
    sources: dict[str, str] = {}

    def __hash__(self) -> int:
        # Policies key caches (`lru_cache`, on every cold render); `sources` is prose for
        # people, not a rule. Computed once per policy object: the entry holds the policy, so
        # its id is not reused while the entry lives.
        known = _HASHES.get(id(self))
        if known is not None and known[0] is self:
            return known[1]
        value = hash(tuple(getattr(self, name) for name in _HASHED))
        if len(_HASHES) >= _HASHES_MAX:
            _HASHES.clear()
        _HASHES[id(self)] = (self, value)
        return value


_HASHED = tuple(name for name in Policy.__struct_fields__ if name != "sources")
# id(policy) -> (policy, its hash): a server holds one policy at a time, tests a few dozen.
_HASHES: dict[int, tuple[Policy, int]] = {}
_HASHES_MAX = 64

# field -> (floor, direction): "min" means the value may only go up, "max" only down.
FLOORS: dict[str, tuple[float, str]] = {
    "max_change": (0.4, "max"),
    "text_contrast": (4.5, "min"),
    "large_text_contrast": (3.0, "min"),
    "ui_contrast": (3.0, "min"),
    "enhanced_text_contrast": (7.0, "min"),
    "enhanced_large_text_contrast": (4.5, "min"),
    "large_text_px": (24.0, "min"),
    "large_bold_text_px": (18.66, "min"),
    "min_font_px": (12.0, "min"),
    "min_target_px": (44.0, "min"),
    "absolute_min_target_px": (24.0, "min"),
    "elderly_font_px": (24.0, "min"),
    "elderly_max_font_px": (30.0, "min"),
    "elderly_line_height": (1.3, "min"),
    "elderly_main_target_px": (60.0, "min"),
    "elderly_target_px": (44.0, "min"),
    "max_font_scale": (2.0, "min"),
    "elderly_paragraph_spacing": (1.3, "min"),
    "elderly_target_gap_px": (8.0, "min"),
}


class PolicyError(ValueError):
    """The policy file is malformed or loosens a rule below its floor."""


def check_floors(policy: Policy) -> list[str]:
    """Every way `policy` is looser than the WCAG AA / elderly floors."""
    problems = []
    for name, (floor, direction) in FLOORS.items():
        value = getattr(policy, name)
        if direction == "min" and value < floor:
            problems.append(f"{name}: {value} is below the floor {floor}")
        if direction == "max" and value > floor:
            problems.append(f"{name}: {value} is above the ceiling {floor}")
    return problems


def load_policy(path: Path | None = None) -> Policy:
    """Load and check a policy file (the shipped one by default)."""
    source = path or DEFAULT_POLICY_PATH
    try:
        # The one decoding path of every document (size, depth, finite numbers).
        policy = decode_json(read_limited(source, DEFAULT_LIMITS.max_bytes), Policy)
    except (OSError, DocumentError) as exc:
        raise PolicyError(f"{source}: {exc}") from exc
    problems = check_floors(policy)
    if problems:
        raise PolicyError(f"{source}: " + "; ".join(problems))
    return policy

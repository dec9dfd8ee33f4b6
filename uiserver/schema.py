"""The data the whole system shares, as strict msgspec Structs.

Files people edit (catalogue, templates, settings) forbid unknown fields, so a typo fails loudly
with the field's path (msgspec reports `$.components[3].lable`). The layout Structs are exactly
the wire shape of DESIGN section 5: fields may be added, never renamed.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from uiserver.types import (
    AgeBand,
    ChangeKind,
    Daypart,
    Device,
    Direction,
    ElderlyMode,
    ElderlyPrompt,
    EventKind,
    Handedness,
    Mode,
    Motion,
    Placement,
    Pressure,
    Role,
    Scene,
    Weather,
)

# msgspec checks a pattern with Python's `re.search`, where `$` also matches before a final
# "\n": `(?!\n)` makes "#000000\n" or a page "home\n" fail here, as in JSON Schema's own
# (ECMAScript) reading of the same pattern, where `$` is the end and the look-ahead is a no-op.
_END = r"$(?!\n)"
# A renderer (SDK) version: MAJOR.MINOR.PATCH, each 0-9999 (the semver core, SemVer 2.0.0
# section 2, without pre-release or build parts).
RENDERER_VERSION_PATTERN = r"^(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})"
RendererVersion = Annotated[
    str, Meta(pattern=RENDERER_VERSION_PATTERN + _END, description="MAJOR.MINOR.PATCH")
]
HexColour = Annotated[str, Meta(pattern=r"^#[0-9A-Fa-f]{6}" + _END, description="#RRGGBB")]
# An identifier: every name a designer or operator gives that becomes a key or is copied into
# users' data (page names, component ids and types, zones, variants, experiment ids,
# categories, segment names). One definition: the schema checks it on decode (`Ident`), lint
# on fields whose older stored templates must still load (`is_ident`), the segment import and
# personas on their names. 64 characters: a key in every cache, store row and Redis key, and in
# every exposed user's counters; no name people type needs more.
IDENT_MAX = 64
IDENT_PATTERN = rf"^[a-z0-9][a-z0-9_\-]{{0,{IDENT_MAX - 1}}}" + _END
IDENT_RULE = (
    f"1-{IDENT_MAX} characters: lowercase letters, digits, '_' and '-', "
    "starting with a letter or digit"
)
_IDENT = re.compile(IDENT_PATTERN)
Ident = Annotated[str, Meta(pattern=IDENT_PATTERN)]


def is_ident(value: object) -> bool:
    """Whether `value` is an identifier (`IDENT_PATTERN`, as the schema checks `Ident`)."""
    return isinstance(value, str) and _IDENT.search(value) is not None


Px = Annotated[float, Meta(gt=0, le=400)]
Label = Annotated[str, Meta(max_length=200)]


class Strict(Struct, forbid_unknown_fields=True, omit_defaults=False):
    """Base for documents people write by hand: unknown fields are errors."""


class StrictFrozen(Struct, forbid_unknown_fields=True, omit_defaults=False, frozen=True):
    """`Strict`, immutable: catalogue and template documents, shared by every request."""


# --------------------------------------------------------------------------- catalogue

PropType = Literal["string", "integer", "number", "boolean", "colour", "list", "object"]
# What a colour prop paints, so lint knows what it must contrast with: `text` on the page's
# background and surface, a `background` under the page's text, a `ui` part (icon, border) on
# the background (WCAG 1.4.3 / 1.4.11).
ColourRole = Literal["text", "background", "ui"]


class PropSpec(StrictFrozen, frozen=True):
    """One prop a component type accepts (its catalogue `props` schema).

    The designer console builds its properties panel from these; lint refuses props a type does
    not declare, values of the wrong type, out of `enum` or range, and colours that break contrast.
    """

    type: PropType
    description: str = ""
    enum: list[str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    colour_role: ColourRole | None = None  # required for (and only for) type `colour`
    # A state or badge: its value must carry text or an icon, never a colour alone (WCAG 1.4.1,
    # MIIT 1.4); lint refuses a colour-only value.
    state: bool = False
    # Setting this prop (truthy) makes the component put the user under pressure (a countdown,
    # a pop-up, an auto-advancing carousel, an inducing button): never in an elderly layout
    # (MIIT 5.x); lint refuses a template whose elderly variant would keep one.
    pressure: Pressure | None = None


class ComponentType(StrictFrozen, frozen=True):
    """One kind of block the client knows how to draw (a file in `components/`)."""

    name: Ident
    role: Role
    label_required: bool
    description: str = ""
    interactive: bool = False
    essential: bool = False
    ad: bool = False
    promo: bool = False  # promotion / pay- or download-inducing: hidden in elderly mode
    animated: bool = False
    image: bool = False  # draws images: gets low-weight images in low-power mode
    main: bool = False  # a "main component": >= 60 px targets in elderly mode (MIIT 2.1)
    action: bool = False  # an action button that has a placement
    grid: bool = False  # a grid whose columns widen on tablet/desktop
    default_font_px: Px = 16
    min_font_px: Px = 12
    default_target_px: Px = 44
    min_target_px: Px = 44
    columns: int = 0  # phone column count for grids
    bold_text: bool = False  # draws its text bold: large text from policy.large_bold_text_px
    props: dict[str, PropSpec] = {}  # the props an instance may set; none when empty
    # The first renderer version that draws this type (`engine.capability`); a client that
    # declares an older renderer gets `fallback` instead (another type; none: the component is
    # left out), re-checked by every rule.
    since: RendererVersion = "0.0.0"
    fallback: Ident | None = None
    # 长辈版 (issue 24). Pressure: elderly mode removes the component (MIIT 5.x; WCAG 2.2.1/2.2.2).
    popup: bool = False  # opens over the page by itself
    countdown: bool = False  # a live countdown (time pressure)
    auto_advance: bool = False  # a carousel that advances by itself
    induces: bool = False  # a button inducing a download or a payment
    confirm: bool = False  # payment or destructive: confirmed first in elderly mode (WCAG 3.3.4)
    help: bool = False  # a one-tap help entry (customer service, family): shown in elderly mode
    # Reflow, not zoom (WCAG 1.4.10): the prop that sets the column count, and the one that
    # sets the row count (grown so that fewer columns keep every item).
    column_prop: str | None = None
    row_prop: str | None = None


# --------------------------------------------------------------------------- templates


class Palette(StrictFrozen, frozen=True):
    """Colours of a theme; every text/background pair is contrast-checked."""

    text: HexColour
    background: HexColour
    primary: HexColour
    on_primary: HexColour
    muted: HexColour | None = None  # secondary text on `background`
    surface: HexColour | None = None  # card background under `text`


class ThemeSpec(StrictFrozen, frozen=True):
    font_px: Px = 16
    line_height: Annotated[float, Meta(ge=1.0, le=3.0)] = 1.5
    palette: Palette | None = None
    dark_palette: Palette | None = None
    high_contrast_palette: Palette | None = None


class ZoneSpec(StrictFrozen, frozen=True):
    """A named part of a page. Affinity reorders components only inside a `movable` zone, never
    across its edge: a page's core content (gallery, price, cart items) stays where designed."""

    name: Ident
    movable: bool = False
    description: str = ""


class ComponentSpec(StrictFrozen, frozen=True):
    """One component instance on a page template."""

    id: Ident
    type: Ident
    zone: Ident | None = None  # one of the template's `zones`; none: a fixed part of the page
    label: Label | None = None
    pinned: bool = False
    visible: bool = True  # base visibility; segment rules may show a hidden module
    category: str | None = None  # affinity key; defaults to the id
    placement: Placement = "flow"
    show_for_segments: list[str] = []
    hide_for_segments: list[str] = []
    # Scene rules: show (hide) the module when the launch's daypart or weather is one of these.
    show_for_scenes: list[Scene] = []
    hide_for_scenes: list[Scene] = []
    font_px: Px | None = None
    min_target_px: Px | None = None
    main: bool | None = None  # overrides the catalogue's `main`
    props: dict[str, Any] = {}


class VariantSpec(StrictFrozen, frozen=True):
    """An A/B variant: a different order, theme or props for a share of users."""

    name: Ident
    weight: Annotated[int, Meta(ge=0, le=10_000)] = 1
    order: list[str] | None = None
    theme: ThemeSpec | None = None
    props: dict[str, dict[str, Any]] = {}


class Template(StrictFrozen, frozen=True):
    """A designer's base layout of one page (a file in `layouts/`)."""

    page: Ident
    title: Label
    theme: ThemeSpec
    components: list[ComponentSpec]
    description: str = ""
    experiment: str | None = None
    variants: list[VariantSpec] = []
    # When empty, the whole flow is one movable zone (templates written before zones existed).
    zones: list[ZoneSpec] = []


# --------------------------------------------------------------------------- users


class Settings(Strict):
    """A user's own settings: exactly the object of `GET/PUT /v1/me/settings`."""

    elderly_mode: ElderlyMode = "auto"
    font_scale: Annotated[float, Meta(ge=1.0, le=2.0)] = 1.0
    high_contrast: bool = False
    reduce_motion: bool = False
    screen_reader: bool = False
    handedness: Handedness = "unknown"
    personalization: Annotated[float, Meta(ge=0.0, le=1.0)] = 1.0
    age_band: AgeBand = "unknown"
    # The one-time 长辈版 prompt: what the user answered (declined: the age band and care-mode
    # font no longer turn elderly mode on; accepted: elderly mode even without them). Additive:
    # a PUT without it keeps the stored answer.
    elderly_prompt: ElderlyPrompt = "unanswered"


class Marker(Struct, frozen=True, array_like=True):
    """A user's first exposure to one variant of an experiment (`Activity.markers`): when it
    was served (Unix seconds, the server's clock), the cohort the user was in then
    (`engine.activity.COHORTS`, "" for markers from before cohorts), and whether this user's
    conversion already counted for the variant."""

    at: float = 0.0  # 0: a marker from before times were kept (exposed since ever)
    cohort: str = ""
    converted: bool = False


class HeldConversion(Struct, frozen=True, array_like=True):
    """A recent convert event on an experiment's page, kept in the user's counters for
    `engine.activity.HOLD_S`: one that arrived before the user's exposure marker was written
    (another replica's recorder had not flushed yet) is counted or ignored by its time when
    the marker lands; one already counted still counts for a variant whose marker lands later
    but was served before it."""

    experiment: str
    ts: float  # when the conversion happened (the event's time, Unix seconds)
    value: float = 0.0
    received: float = 0.0  # server time it arrived: dropped `HOLD_S` later
    # Counted already (for the variants exposed before it): kept `HOLD_S` only so that a
    # variant whose marker lands later, served before the conversion, counts it too.
    counted: bool = False
    # The conversion's identity (its event id, else one made when it arrived): the same
    # conversion applied again (a resent transaction, a retried batch) is recognised.
    key: str = ""


class Activity(Struct, frozen=True):
    """Compact per-user activity counters (no raw event log); segments are computed from them
    at read time (`uiserver.engine.lifecycle`). Days are UTC day numbers (Unix seconds //
    86,400); folding is in `uiserver.engine.activity`.
    """

    first: int | None = None  # first day with a launch or an event
    last: int | None = None  # newest day with a launch or an event
    prev: int | None = None  # the active day before `last` (activity "before today")
    days: dict[int, int] = {}  # day -> launches counted, over the rolling window (0: events only)
    lapses: dict[int, int] = {}  # day a lapse ended -> its length in days (rolling window)
    last_convert: int | None = None  # day of the newest convert event
    converts: int = 0
    value: float = 0.0  # summed `value` of convert events
    exposed: dict[str, str] = {}  # before markers: experiment -> variant first served
    converted: list[str] = []  # before markers: experiments whose conversion counted
    # experiment -> variant -> its first exposure; every variant the user was served, in the
    # order first served (`engine.activity.expose`)
    markers: dict[str, dict[str, Marker]] = {}
    held: list[HeldConversion] = []  # conversions waiting for their exposure marker


class Profile(Struct, frozen=True):
    """What the engine knows about a user: the minimum, nothing it cannot use."""

    user_id: str = ""
    settings: Settings = msgspec.field(default_factory=Settings)
    affinities: dict[str, float] = {}  # category -> decayed score
    evidence: float = 0.0  # meaningful (click/convert) events, each decayed to evidence_updated
    evidence_updated: float | None = None  # Unix seconds `evidence` is as of; None: as of now
    segments: frozenset[str] = frozenset()
    last_order: dict[str, list[str]] = {}  # page -> order last served (stability)
    activity: Activity | None = None  # launch/event counters: computed segments
    # The store's erasure epoch of this user when the profile was read (`uiserver.store.base`):
    # a write based on this profile carries it, so it cannot land after an erase. Not an engine
    # input.
    epoch: int = 0


class Context(Struct, frozen=True, forbid_unknown_fields=True):
    """What the client says about this launch. Small on purpose: each field multiplies keys."""

    device: Device = "phone"
    width: Annotated[int, Meta(ge=0, le=10_000)] | None = None
    dark: bool = False
    low_power: bool = False
    font_px: Annotated[float, Meta(ge=8, le=64)] | None = None
    locale: Annotated[str, Meta(max_length=35)] = "zh-CN"
    daypart: Daypart | None = None  # the client's local time of day (scene rules)
    weather: Weather | None = None  # the weather where the user is (scene rules)


MAX_UNIX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
# An event id: 8-64 characters of the URL-safe base64 alphabet (a UUID, 22 base64url
# characters of 16 random bytes, a hex string...); unique per user (random 16 bytes suggested).
EventId = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z0-9_-]{8,64}" + _END,
        min_length=8,
        max_length=64,
        description="made when the event is tracked and kept across retries: the server "
        "remembers a user's event ids for 7 days (at most the last 1,000) and ignores an event "
        "whose id it has seen (`ignored_reasons.duplicate`); without an id an event cannot be "
        "deduplicated",
    ),
]
EVENT_TS_LEEWAY = 86_400  # seconds an event's `ts` may lie ahead of the server's clock


class Event(Strict):
    """One behaviour event from the client."""

    page: Annotated[str, Meta(min_length=1, max_length=64)]
    component: Annotated[str, Meta(min_length=1, max_length=64)]
    kind: EventKind
    # Unix seconds. A clock may run a little ahead, so up to EVENT_TS_LEEWAY past the server's
    # now is taken (and counted as now); the events route refuses anything later (a 422, not a
    # clamp: a client that sends 1e12 has a bug worth seeing).
    ts: Annotated[float, Meta(ge=0, le=MAX_UNIX_SECONDS)] | None = None
    # The order amount of a `convert` (>= 0, finite); summed into the user's RFM counters and
    # the experiment readout. Refused on other kinds.
    value: Annotated[float, Meta(ge=0, le=1e12)] | None = None
    # The event's id, made by the client when the event was tracked and kept across retries:
    # the server stores each id once per user within a window (`store.event_ids`), so a
    # resent batch never counts twice. Without one the event cannot be told from a resend.
    id: EventId | None = None
    # The template version the client drew (the layout's `template_version`) and its `mode`:
    # the keys of the telemetry counters (`engine.telemetry`). Without `version` the server
    # counts under the version it serves the user; without `mode`, under the mode the user's
    # settings force, else `unknown`.
    version: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,64}" + _END)] | None = None
    mode: Mode | None = None

    def __post_init__(self) -> None:
        if self.value is not None and self.kind != "convert":
            raise ValueError(f"`value` is only allowed on a convert event, not on {self.kind!r}")


class EventBatch(Strict):
    events: Annotated[list[Event], Meta(max_length=500)]


# --------------------------------------------------------------------------- layout (wire)


class LayoutPalette(Struct, frozen=True):
    text: str
    background: str
    primary: str
    on_primary: str
    muted: str
    surface: str


class LayoutTheme(Struct, frozen=True, omit_defaults=True):
    """Only the fields added with a default are left out when unset (`dark`, `direction` are
    always sent)."""

    font_px: float
    line_height: float
    motion: Motion
    high_contrast: bool
    palette: LayoutPalette
    dark: bool
    direction: Direction  # from the context's locale (schema 1, additive)
    # Elderly: the gap between paragraphs, as a multiple of the line spacing (MIIT 1.2).
    paragraph_spacing: float | None = None


class LayoutComponent(Struct, omit_defaults=True):
    """The fields added with a default (elderly mode, issue 24) are sent only when set."""

    id: str
    type: str
    role: str
    label: str
    font_px: float
    min_target_px: float
    placement: str
    pinned: bool
    props: dict[str, Any]
    reasons: list[str]
    # What a screen reader or TTS speaks (label and text props; WCAG 1.1.1, 4.1.2).
    speech: str | None = None
    # The gap between this text's paragraphs in px: >= 1.3x its line spacing (MIIT 1.2).
    paragraph_px: float | None = None
    # The free space kept around this tap target in px, against mis-taps.
    gap_px: float | None = None
    # Behind the page's one "更多 More" entry (fewer choices on the elderly home page).
    folded: bool = False


class ElderlyInfo(Struct, omit_defaults=True):
    """What an elderly layout adds at page level (issue 24): the needs applied (never counted
    against the personalization cap, each listed), the More entry, the one-time prompt."""

    needs: list[str]
    max_columns: int  # no component of the page lays out more columns (reflow)
    max_entries: int  # entries shown before "更多 More" (plus what the user opened lately)
    more_label: str | None = None  # set when some components are folded behind it
    help: str | None = None  # the kind of the page's one-tap help entry, when it has one
    prompt: str | None = None  # "elderly_mode": offer 长辈版 once (an inline card, no pop-up)


class Change(Struct, frozen=True):
    component: str
    change: ChangeKind
    reason: str


class PersonalizationInfo(Struct):
    """Ratios are rounded to `engine.plan.RATIO_DIGITS` decimals; anonymous callers get no
    personalization (strength 0, cap 0)."""

    strength: float
    cap: float
    changed_ratio: float
    capped: bool
    changes: list[Change]


class Layout(Struct, omit_defaults=True):
    """The response of `GET /v1/layouts/{page}` (schema 1). Only the fields added with a
    default (`elderly`) are left out when unset."""

    schema: int
    page: str
    template_version: str
    variant: str | None
    mode: Mode
    theme: LayoutTheme
    components: list[LayoutComponent]
    personalization: PersonalizationInfo
    reasons: list[str]  # page-level reasons: palette repairs, elderly removals, motion
    elderly: ElderlyInfo | None = None  # elderly mode only (issue 24; sent only then)


# --------------------------------------------------------------------------- errors


class ErrorDetail(Struct, omit_defaults=True):
    code: str
    message: str
    field: str | None = None


class ErrorBody(Struct):
    error: ErrorDetail


class Problem(Struct):
    """A lint or schema problem: `field` is a dotted path into the document."""

    field: str
    message: str

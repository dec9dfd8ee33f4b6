"""Server settings, read once from CLI options and `UISERVER_*` environment variables."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = Path(".uiserver")
# `uiserver serve --server`: the HTTP servers it runs, and the default (granian's RSGI interface,
# the faster for layout GETs in docs/BENCHMARKS.md); `uiserver bench --server` defaults to it too.
SERVERS = ("granian", "uvicorn")
DEFAULT_SERVER = "granian"
AUDIT_RETENTION = 186 * 86_400.0  # seconds (`Config.audit_retention`)


def _env_set(name: str) -> str | None:
    """The variable `name` without surrounding blanks; None when it is unset or blank."""
    raw = os.environ.get(name, "").strip()
    return raw or None


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    """The variable `name` as a whole number of at least `minimum`; `default` when it is unset
    or blank. ValueError naming the variable otherwise (`serve` checks them all before it
    starts: a bad value was a traceback in every worker)."""
    raw = _env_set(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {_shown(raw)}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return value


def _env_float(name: str, default: float, minimum: float = 0.0) -> float:
    """The variable `name` as a finite number of at least `minimum`; `default` when it is unset
    or blank. ValueError naming the variable otherwise."""
    raw = _env_set(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {_shown(raw)}") from None
    if not math.isfinite(value) or value < minimum:
        shown = _shown(raw)
        raise ValueError(f"{name} must be a finite number of at least {minimum:g}, not {shown}")
    return value


def _shown(raw: str) -> str:
    """A value for an error message: quoted, at most 40 characters of it."""
    return repr(raw if len(raw) <= 40 else raw[:40] + "...")


def check_environment() -> None:
    """Read every `UISERVER_*` setting `Config` reads, as a worker will: ValueError naming the
    first one that is malformed or out of range (`uiserver serve` calls it before starting)."""
    Config()


DURATION_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}


def parse_duration(text: str) -> float:
    """Seconds from `900`, `90s`, `15m`, `12h` or `30d`; ValueError for anything else (zero,
    negative, not finite, an unknown unit)."""
    value = text.strip().lower()
    unit = DURATION_UNITS.get(value[-1:], 0)
    number = value[:-1] if unit else value
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        raise ValueError(
            f"{_shown(text)} is not a duration: seconds, or a number with s, m, h or d (e.g. 12h)"
        ) from None
    if not 0 < seconds < 10**10:
        raise ValueError(f"{_shown(text)}: a duration must be positive (and under 300 years)")
    return seconds


# `uiserver serve` options that travel to every worker as these variables (durations).
DURATION_OPTIONS = (
    ("--token-max-lifetime", "UISERVER_TOKEN_MAX_LIFETIME", "30d", "user tokens"),
    (
        "--designer-token-max-lifetime",
        "UISERVER_DESIGNER_TOKEN_MAX_LIFETIME",
        "12h",
        "designer and admin tokens",
    ),
    ("--session-idle", "UISERVER_SESSION_IDLE", "30m", "console session idle timeout"),
    ("--session-max", "UISERVER_SESSION_MAX", "12h", "console session absolute lifetime"),
)


def _env_duration(name: str, default: float) -> float:
    """The variable `name` as a duration (`parse_duration`: seconds, or with a unit); `default`
    when it is unset or blank. ValueError naming the variable otherwise."""
    raw = _env_set(name)
    if raw is None:
        return default
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def default_dir(name: str) -> Path:
    """`layouts/` or `components/` of the working directory, else the ones shipped beside it."""
    here = Path.cwd() / name
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / name


def default_layouts() -> Path:
    """`UISERVER_LAYOUTS`, else `default_dir("layouts")`."""
    return Path(os.environ.get("UISERVER_LAYOUTS", str(default_dir("layouts"))))


def default_components() -> Path:
    """`UISERVER_COMPONENTS`, else `default_dir("components")`."""
    return Path(os.environ.get("UISERVER_COMPONENTS", str(default_dir("components"))))


def resolve_data_dir(value: Path | None) -> Path:
    """`--data-dir`, else `UISERVER_DATA_DIR`, else `./.uiserver`."""
    return value or Path(os.environ.get("UISERVER_DATA_DIR", str(DEFAULT_DATA_DIR)))


@dataclass(frozen=True)
class Config:
    """Everything the app needs to start; defaults are the README's."""

    data_dir: Path = DEFAULT_DATA_DIR
    layouts_dir: Path = Path("layouts")
    components_dir: Path = Path("components")
    store_url: str = ""  # "" = SQLite in data_dir; redis://host:port/db = shared Redis
    jwt_secret: str = ""
    policy_path: Path | None = None
    # `text` (the default: logging as uvicorn sets it up) or `json`: one JSON object a line,
    # with request ids and an access line per request (`http.logs`); at `log_level`.
    log_format: str = field(default_factory=lambda: os.environ.get("UISERVER_LOG_FORMAT", "text"))
    log_level: str = field(default_factory=lambda: os.environ.get("UISERVER_LOG_LEVEL", "info"))
    # Cache-Control for layouts: the client shows its stored layout at once, revalidates in the
    # background for a day, and keeps it for a week when the server is unreachable.
    max_age: int = field(default_factory=lambda: _env_int("UISERVER_MAX_AGE", 60))
    stale_while_revalidate: int = field(default_factory=lambda: _env_int("UISERVER_SWR", 86_400))
    stale_if_error: int = field(default_factory=lambda: _env_int("UISERVER_SIE", 604_800))
    # The default bounds keep the server (granian's supervisor and one worker) under 300 MB
    # after 1,000,000 distinct users (DESIGN section 7; docs/BENCHMARKS.md, "Memory at
    # 1,000,000 users, met"); docs/DEPLOY.md sizes them per entry for more memory.
    # Encoded bodies users share (~16 KB each for `home` with its prepared headers; a body
    # planned for one user enters on its second user, `serving.cache.LayoutCache`).
    layout_cache_size: int = field(
        default_factory=lambda: _env_int("UISERVER_LAYOUT_CACHE", 3_000, 1)
    )
    request_cache_size: int = field(
        default_factory=lambda: _env_int("UISERVER_REQUEST_CACHE", 100_000, 1)
    )
    # Profiles (~2.4-3.2 KB each with their memo entry; a returning user beyond it is one store
    # read, and their memo entries go with their profile).
    profile_cache_size: int = field(
        default_factory=lambda: _env_int("UISERVER_PROFILE_CACHE", 30_000, 1)
    )
    # Request-memo entries whose body was planned for that user alone (affinities moved
    # modules): ~13 KB each, kept alive by nothing else (`serving.cache.RequestMemo`).
    personal_memo_size: int = field(
        default_factory=lambda: _env_int("UISERVER_PERSONAL_MEMO", 5_000, 1)
    )
    # Verified tokens (~350 B each): more than the profiles, for users holding two tokens.
    token_cache_size: int = field(
        default_factory=lambda: _env_int("UISERVER_TOKEN_CACHE", 50_000, 1)
    )
    # Clock skew (seconds) allowed on a token's `exp`, `nbf` and `iat`: the operator's backend
    # mints tokens on another machine's clock (RFC 7519 4.1.4: "a small leeway").
    jwt_leeway: float = field(default_factory=lambda: _env_float("UISERVER_JWT_LEEWAY", 60.0))
    # The longest a token may be valid (`exp - iat`, or `exp - now` without `iat`), by role:
    # users 30 days, designers and admins 12 hours (`auth.tokens.Lifetimes`, NIST SP 800-63B
    # 4.1.3 and 4.2.3 reauthentication bounds).
    token_max_lifetime: float = field(
        default_factory=lambda: _env_duration("UISERVER_TOKEN_MAX_LIFETIME", 30 * 86_400)
    )
    designer_token_max_lifetime: float = field(
        default_factory=lambda: _env_duration("UISERVER_DESIGNER_TOKEN_MAX_LIFETIME", 12 * 3_600)
    )
    # Designer console sessions (`auth.sessions`): ended after `session_idle` seconds without a
    # request, `session_max` after sign-in (never after the token's `exp`), and given a new id
    # every `session_rotate` seconds. NIST SP 800-63B 4.2.3 (AAL2): reauthenticate after 30
    # minutes of inactivity and at least every 12 hours; OWASP Session Management Cheat Sheet:
    # renew the id periodically.
    session_idle: float = field(
        default_factory=lambda: _env_duration("UISERVER_SESSION_IDLE", 1_800)
    )
    session_max: float = field(
        default_factory=lambda: _env_duration("UISERVER_SESSION_MAX", 12 * 3_600)
    )
    session_rotate: float = field(
        default_factory=lambda: _env_duration("UISERVER_SESSION_ROTATE", 900)
    )
    # The audit log (`uiserver.audit`) keeps entries this long (seconds), then prunes them:
    # six months by default, the least the PRC Cybersecurity Law (网络安全法, article 21 (3))
    # asks network operators to keep logs for (6 x 31 days).
    audit_retention: float = field(
        default_factory=lambda: _env_duration("UISERVER_AUDIT_RETENTION", AUDIT_RETENTION)
    )
    # Webhooks (`uiserver.audit.webhooks`): receivers on private addresses (loopback, RFC 1918,
    # link-local) are refused unless this is set (`UISERVER_WEBHOOK_ALLOW_PRIVATE=1`), and each
    # attempt may take this many seconds (`UISERVER_WEBHOOK_TIMEOUT`).
    webhook_allow_private: bool = field(
        default_factory=lambda: os.environ.get("UISERVER_WEBHOOK_ALLOW_PRIVATE", "") == "1"
    )
    webhook_timeout: float = field(
        default_factory=lambda: _env_duration("UISERVER_WEBHOOK_TIMEOUT", 10.0)
    )
    publish_layouts_on_start: bool = True
    # Launch counters and experiment exposures are written in the background, batched: how long
    # (seconds) a batch collects before its one write (0: at once, after the response).
    activity_flush_s: float = field(
        default_factory=lambda: _env_float("UISERVER_ACTIVITY_FLUSH", 1.0)
    )
    # SQLite: how often (seconds) a worker checks for writes made by other processes (other
    # `--workers`, `uiserver publish`). `PRAGMA data_version` costs ~3.5 us, a third of a warm
    # GET's budget; once a millisecond bounds cross-process staleness to 1 ms. Writes through
    # this process are seen by its very next request regardless.
    poll_interval: float = field(
        default_factory=lambda: _env_float("UISERVER_POLL_INTERVAL", 0.001)
    )
    # How often (seconds) this process looks at the rollout schedules (`publishing.rollouts`);
    # 0: never in the background (a test calls `Scheduler.tick` itself).
    schedule_interval_s: float = field(
        default_factory=lambda: _env_float("UISERVER_SCHEDULE_INTERVAL", 5.0)
    )

    @property
    def cache_control(self) -> str:
        return (
            f"private, max-age={self.max_age}, "
            f"stale-while-revalidate={self.stale_while_revalidate}, "
            f"stale-if-error={self.stale_if_error}"
        )

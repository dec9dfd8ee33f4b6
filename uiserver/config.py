"""Server settings, read once from CLI options and `UISERVER_*` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = Path(".uiserver")


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


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
    # Cache-Control for layouts: the client shows its stored layout at once, revalidates in the
    # background for a day, and keeps it for a week when the server is unreachable.
    max_age: int = field(default_factory=lambda: _env_int("UISERVER_MAX_AGE", 60))
    stale_while_revalidate: int = field(default_factory=lambda: _env_int("UISERVER_SWR", 86_400))
    stale_if_error: int = field(default_factory=lambda: _env_int("UISERVER_SIE", 604_800))
    # Encoded bodies (~13.6 KB each for `home` with its gzip): 5,000 keeps one process under
    # 300 MB after 1,000,000 distinct users (docs/BENCHMARKS.md; 20,000 reached 417).
    layout_cache_size: int = field(default_factory=lambda: _env_int("UISERVER_LAYOUT_CACHE", 5_000))
    request_cache_size: int = field(
        default_factory=lambda: _env_int("UISERVER_REQUEST_CACHE", 100_000)
    )
    profile_cache_size: int = field(
        default_factory=lambda: _env_int("UISERVER_PROFILE_CACHE", 50_000)
    )
    token_cache_size: int = field(default_factory=lambda: _env_int("UISERVER_TOKEN_CACHE", 100_000))
    # Clock skew (seconds) allowed on a token's `exp`, `nbf` and `iat`: the operator's backend
    # mints tokens on another machine's clock (RFC 7519 4.1.4: "a small leeway").
    jwt_leeway: float = field(
        default_factory=lambda: float(os.environ.get("UISERVER_JWT_LEEWAY", "60"))
    )
    publish_layouts_on_start: bool = True
    # Launch counters and experiment exposures are written in the background, batched: how long
    # (seconds) a batch collects before its one write (0: at once, after the response).
    activity_flush_s: float = field(
        default_factory=lambda: float(os.environ.get("UISERVER_ACTIVITY_FLUSH", "1.0"))
    )
    # SQLite: how often (seconds) a worker checks for writes made by other processes (other
    # `--workers`, `uiserver publish`). `PRAGMA data_version` costs ~3.5 us, a third of a warm
    # GET's budget; once a millisecond bounds cross-process staleness to 1 ms. Writes through
    # this process are seen by its very next request regardless.
    poll_interval: float = field(
        default_factory=lambda: float(os.environ.get("UISERVER_POLL_INTERVAL", "0.001"))
    )

    @property
    def cache_control(self) -> str:
        return (
            f"private, max-age={self.max_age}, "
            f"stale-while-revalidate={self.stale_while_revalidate}, "
            f"stale-if-error={self.stale_if_error}"
        )

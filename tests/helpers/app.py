"""Shared helpers for API tests: an app on the shipped files with a temporary store."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import httpx
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from uiserver.auth import mint_token
from uiserver.config import Config
from uiserver.http.app import create_app

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret-0123456789-abcdefghijklmnop"
# The whole settings object (PUT) of a user who switched elderly mode on, all else default.
ELDERLY = {
    "elderly_mode": "on",
    "font_scale": 1.0,
    "high_contrast": False,
    "reduce_motion": False,
    "screen_reader": False,
    "handedness": "unknown",
    "personalization": 1.0,
    "age_band": "unknown",
}


def make_config(data_dir: Path, **overrides: object) -> Config:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "layouts_dir": ROOT / "layouts",
        "components_dir": ROOT / "components",
        "jwt_secret": SECRET,
    }
    values.update(overrides)
    return Config(**values)  # type: ignore[arg-type]


def make_app(data_dir: Path, **overrides: object) -> ASGIApp:
    return create_app(make_config(data_dir, **overrides))


def token(user: str, role: str = "user", ttl: int = 3600, secret: str = SECRET) -> str:
    return mint_token(secret, user, role, ttl)


def bearer(user: str, role: str = "user") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user, role)}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 20.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the form"
    return match.group(1)


def log_in(client: TestClient, user: str = "dora", role: str = "designer") -> httpx.Response:
    form = client.get("/designer/login")
    response: httpx.Response = client.post(
        "/designer/login", data={"csrf_token": csrf_of(form.text), "token": token(user, role)}
    )
    return response

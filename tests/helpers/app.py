"""Shared helpers for API tests: an app on the shipped files with a temporary store."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from uiserver.auth import mint_token
from uiserver.config import Config
from uiserver.http.app import create_app

T = TypeVar("T")
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


def on_the_apps_loop(client: TestClient, work: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    """Run `work` on the TestClient's event loop (its portal's, where the app's lifespan runs)
    with an httpx.AsyncClient that calls the same app directly (httpx.ASGITransport): the same
    app, store and state, for loops of thousands of requests. A TestClient request crosses
    threads about eight times; on two busy cores those hand-overs were most of its 13 ms (a
    2,000-user simulated experiment took 30 s on SQLite and 110 s on Redis)."""

    async def run() -> T:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await work(http)

    assert client.portal is not None, "use the TestClient as a context manager"
    return client.portal.call(run)

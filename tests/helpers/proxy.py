"""A real `uiserver serve` behind a TLS proxy on another host: the "proxy" is a client bound to
another loopback address (127.0.0.2), which uvicorn's default (trust 127.0.0.1 only) does not
trust."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.helpers.app import ROOT, SECRET, free_port, token, wait_http
from tests.helpers.processes import stop_process

UISERVER = [sys.executable, "-m", "uiserver.cli"]
PROXY, STRANGER = "127.0.0.2", "127.0.0.3"
HTTPS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}


@contextmanager
def serve(tmp_path: Path, *args: str, **env_extra: str) -> Iterator[str]:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("UISERVER_") and k != "FORWARDED_ALLOW_IPS"
    }
    env["UISERVER_JWT_SECRET"] = SECRET
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(env_extra)
    data = tmp_path / f"data-{port}"
    log = (tmp_path / f"serve-{port}.log").open("wb")
    proc = subprocess.Popen(
        [
            *UISERVER,
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--log-level",
            "warning",
            *args,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz")
        yield url
    finally:
        stop_process(proc, log)


def _client(url: str, source: str) -> httpx.Client:
    return httpx.Client(base_url=url, transport=httpx.HTTPTransport(local_address=source))


def _set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def login_cookies(url: str, source: str) -> list[str]:
    """Set-Cookie headers of the sign-in form and of a designer's sign-in, as a browser
    behind the proxy gets them (the proxy adds X-Forwarded-Proto: https)."""
    with _client(url, source) as client:
        form = client.get("/designer/login", headers=HTTPS)
        assert form.status_code == 200, form.text
        match = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert match
        # httpx keeps a Secure cookie from plain http: hand the pre-login cookie over by hand.
        nonce = form.headers["set-cookie"].split(";")[0]
        client.cookies.clear()
        signed_in = client.post(
            "/designer/login",
            headers={**HTTPS, "Cookie": nonce},
            follow_redirects=False,
            data={"csrf_token": match.group(1), "token": token("dora", "designer")},
        )
        assert signed_in.status_code == 303, signed_in.text
        return _set_cookies(form) + _set_cookies(signed_in)


def secure_cookies(cookies: list[str]) -> bool:
    assert cookies
    flags = ["secure" in [part.strip().lower() for part in c.split(";")] for c in cookies]
    assert len(set(flags)) == 1, cookies  # all or none
    return flags[0]

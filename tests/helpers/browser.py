"""A real `uiserver serve` process and Debian's Chromium for the browser tests.

The browser is the system's /usr/bin/chromium (installed by the test set-up), never one that
Playwright downloads; a missing browser fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright

from tests.helpers.app import ROOT, free_port, wait_http

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
UISERVER = str(Path(sys.executable).with_name("uiserver"))


@dataclass(frozen=True)
class Server:
    url: str
    data_dir: Path
    designer_token: str


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("UISERVER_")}


def mint(data_dir: Path, user: str, role: str = "user") -> str:
    """A token from the CLI, exactly as an operator mints one."""
    return subprocess.run(
        [UISERVER, "token", user, "--role", role, "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@contextmanager
def running_server(data_dir: Path) -> Iterator[Server]:
    """`uiserver serve` on a free port with its own data dir (shipped layouts published)."""
    port = free_port()
    log = (data_dir.parent / f"server-{port}.log").open("wb")
    proc = subprocess.Popen(
        [
            UISERVER,
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/readyz")
        yield Server(url, data_dir, mint(data_dir, "dora", "designer"))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def launch(playwright: Playwright) -> Browser:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (scripts/install); "
            "the browser tests are not skipped"
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def log_in(context: BrowserContext, server: Server, token: str | None = None) -> Page:
    """Sign in through the login form, as a designer does; returns the page on the list."""
    page = context.new_page()
    page.goto(server.url + "/designer/")
    page.get_by_label("Token").fill(token or server.designer_token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url + "/designer/")
    return page

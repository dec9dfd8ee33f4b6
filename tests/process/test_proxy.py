"""Behind a TLS proxy on another host: `uiserver serve
--forwarded-allow-ips` (or `UISERVER_FORWARDED_ALLOW_IPS`) decides whose X-Forwarded-Proto is
believed, and so whether the console's cookies carry `Secure`.

A real `uiserver serve` process; the "proxy on another host" is a client bound to another
loopback address (127.0.0.2), which uvicorn's default (trust 127.0.0.1 only) does not trust.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.proxy import PROXY, STRANGER, login_cookies, secure_cookies, serve

pytestmark = pytest.mark.slow


def test_forwarded_allow_ips_option_trusts_the_proxy(tmp_path: Path) -> None:
    with serve(tmp_path, "--forwarded-allow-ips", f"{PROXY},10.0.0.0/8") as url:
        assert secure_cookies(login_cookies(url, PROXY))
        assert not secure_cookies(login_cookies(url, STRANGER))  # not a listed proxy: not believed


def test_forwarded_allow_ips_from_the_environment(tmp_path: Path) -> None:
    with serve(tmp_path, UISERVER_FORWARDED_ALLOW_IPS=PROXY) as url:
        assert secure_cookies(login_cookies(url, PROXY))


def test_by_default_only_a_local_proxy_is_trusted(tmp_path: Path) -> None:
    """The issue's report: nginx on another host, `Secure` lost."""
    with serve(tmp_path) as url:
        assert not secure_cookies(login_cookies(url, PROXY))
        assert secure_cookies(login_cookies(url, "127.0.0.1"))

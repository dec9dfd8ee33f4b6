"""`ConnectionLimits`: the defaults, the `UISERVER_*` variables, values refused, and the cap kept
below the open-files limit (issue 27, section 1)."""

from __future__ import annotations

import resource

import pytest

from uiserver.http import limits
from uiserver.http.limits import ConnectionLimits

NAMES = (
    "UISERVER_MAX_HEADER_BYTES",
    "UISERVER_MAX_HEADERS",
    "UISERVER_HEADER_TIMEOUT",
    "UISERVER_BODY_TIMEOUT",
    "UISERVER_KEEPALIVE_TIMEOUT",
    "UISERVER_MAX_CONNECTIONS",
    "UISERVER_BACKLOG",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


def _files(monkeypatch: pytest.MonkeyPatch, soft: int) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _: (soft, soft))


def test_defaults() -> None:
    assert ConnectionLimits.from_env() == ConnectionLimits()
    assert ConnectionLimits().max_header_bytes == 16 * 1024
    assert ConnectionLimits().header_timeout == 10.0


def test_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UISERVER_HEADER_TIMEOUT", "2.5")
    monkeypatch.setenv("UISERVER_MAX_CONNECTIONS", "50")
    got = ConnectionLimits.from_env()
    assert got.header_timeout == 2.5 and got.max_connections == 50


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("UISERVER_MAX_HEADER_BYTES", "100", id="header-bytes-too-small"),
        pytest.param("UISERVER_MAX_HEADERS", "0", id="no-headers"),
        pytest.param("UISERVER_HEADER_TIMEOUT", "0", id="zero-header-timeout"),
        pytest.param("UISERVER_BODY_TIMEOUT", "-1", id="negative-body-timeout"),
        pytest.param("UISERVER_KEEPALIVE_TIMEOUT", "0", id="zero-keepalive"),
        pytest.param("UISERVER_MAX_CONNECTIONS", "-5", id="negative-connections"),
        pytest.param("UISERVER_BACKLOG", "nope", id="not-a-number"),
    ],
)
def test_values_out_of_range_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError):
        ConnectionLimits.from_env()


@pytest.mark.parametrize(
    ("soft", "configured", "expected"),
    [
        pytest.param(1024, 0, 960, id="default-capped-by-1024-files"),
        pytest.param(20_000, 0, 16_384, id="default-bound"),
        pytest.param(20_000, 500, 500, id="configured"),
        pytest.param(256, 500, 192, id="configured-above-the-files"),
        pytest.param(10, 0, 1, id="tiny-limit-still-one"),
    ],
)
def test_the_cap_stays_below_the_open_files_limit(
    monkeypatch: pytest.MonkeyPatch, soft: int, configured: int, expected: int
) -> None:
    _files(monkeypatch, soft)
    assert ConnectionLimits(max_connections=configured).connections() == expected


def test_the_soft_limit_is_raised_to_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        before, after = limits.raise_open_files_limit()
        assert before == min(256, hard)
        # An unlimited hard limit cannot be the soft one: then nothing changes.
        expected = before if hard == resource.RLIM_INFINITY else hard
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == after == expected
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

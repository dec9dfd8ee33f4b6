"""`uiserver.config`: every `UISERVER_*` number a worker reads is checked, and a bad one named
(`check_environment`, which `uiserver serve` calls before it starts)."""

from __future__ import annotations

import pytest

from uiserver.config import Config, check_environment


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("UISERVER_PROFILE_CACHE", "lots", "whole number"),
        ("UISERVER_PROFILE_CACHE", "0", "at least 1"),
        ("UISERVER_TOKEN_CACHE", "-5", "at least 1"),
        ("UISERVER_LAYOUT_CACHE", "2.5", "whole number"),
        ("UISERVER_REQUEST_CACHE", "9" * 5000, "whole number"),  # past int()'s digit limit
        ("UISERVER_PERSONAL_MEMO", "0", "at least 1"),
        ("UISERVER_MAX_AGE", "-1", "at least 0"),
        ("UISERVER_ACTIVITY_FLUSH", "nan", "finite"),
        ("UISERVER_POLL_INTERVAL", "fast", "a number"),
        ("UISERVER_SCHEDULE_INTERVAL", "-1", "at least 0"),
        ("UISERVER_JWT_LEEWAY", "inf", "finite"),
        ("UISERVER_ACTIVITY_FLUSH", "-" + "9" * 5000, "finite"),  # a number, but out of range
        ("UISERVER_SESSION_ROTATE", "9" * 5000 + "x", ""),
        ("UISERVER_SESSION_ROTATE", "soon", ""),
    ],
)
def test_a_bad_value_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, said: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError) as raised:
        check_environment()
    assert variable in str(raised.value) and said in str(raised.value)
    assert len(str(raised.value)) < 200  # a long value is cut, not echoed whole


def test_good_and_blank_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UISERVER_PROFILE_CACHE", " 1200 ")
    monkeypatch.setenv("UISERVER_TOKEN_CACHE", "")  # blank: the default, as for durations
    monkeypatch.setenv("UISERVER_POLL_INTERVAL", "0")
    monkeypatch.setenv("UISERVER_JWT_LEEWAY", "30")
    check_environment()
    config = Config()
    assert config.profile_cache_size == 1200
    assert config.token_cache_size == 50_000
    assert config.poll_interval == 0.0 and config.jwt_leeway == 30.0

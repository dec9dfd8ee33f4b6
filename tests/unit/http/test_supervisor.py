"""`uiserver.http.supervisor`: the settings `serve` passes are checked before granian starts,
and the supervisor module imports nothing of the app."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.helpers.app import ROOT
from uiserver.http import supervisor

GOOD: dict[str, Any] = {
    "target": "uiserver.commands.serve:granian_rsgi_app",
    "address": "127.0.0.1",
    "port": 8000,
    "workers": 1,
    "log_level": "info",
    "log_dictconfig": None,
    "backlog": 2048,
    "backpressure": 900,
    "header_read_timeout_ms": 10000,
    "max_buffer_size": 16384,
}


def test_good_settings_parse_as_they_are() -> None:
    assert supervisor.parse(json.dumps(GOOD)) == GOOD
    configured = {**GOOD, "log_dictconfig": {"formatters": {"generic": {"()": "x.Y"}}}}
    assert supervisor.parse(json.dumps(configured)) == configured


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("{", "not JSON"),
        ("[]", "JSON object"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "port"}), "missing ['port']"),
        (json.dumps({**GOOD, "threads": 2}), "unknown ['threads']"),
        (json.dumps({**GOOD, "port": "8000"}), "port has the wrong type"),
        (json.dumps({**GOOD, "workers": True}), "workers has the wrong type"),
        (json.dumps({**GOOD, "log_dictconfig": []}), "log_dictconfig has the wrong type"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(text: str, said: str) -> None:
    with pytest.raises(ValueError) as raised:
        supervisor.parse(text)
    assert said in str(raised.value)


def test_main_says_what_is_wrong_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert supervisor.main(["supervisor"]) == 2
    assert "usage" in capsys.readouterr().err
    assert supervisor.main(["supervisor", "{"]) == 2
    assert "not JSON" in capsys.readouterr().err


def test_the_supervisor_imports_granian_and_nothing_of_the_app() -> None:
    probe = (
        "import sys, uiserver.http.supervisor as s; s.parse('{}') if False else None; "
        "from granian.server import Server; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('msgspec', 'starlette', 'httpx', 'jwt', 'prometheus_client') "
        "or m.startswith('uiserver.') and m not in ('uiserver.http', 'uiserver.http.supervisor'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""

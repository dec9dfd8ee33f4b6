"""`http.jsonlog`: the JSON log formatter granian's supervisor uses, importable without the app,
writing the same lines as the workers' msgspec one (`http.logs.JsonFormatter`)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from tests.helpers.app import ROOT
from uiserver.http import jsonlog, logs


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("_granian", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(_record("Starting granian (main PID: %d)", 12), id="plain"),
        pytest.param(_record('quote " back \\ nl \n tab \t bell \x07 del \x7f'), id="escapes"),
        pytest.param(_record("données 数据 \u2028 \U0001f600"), id="unicode"),
        pytest.param(
            _record("GET x", method="GET", route="/v1/x", status=200, duration_ms=0.041),
            id="access",
        ),
        pytest.param(_record("slow", duration_ms=1234.5, status=None), id="floats-and-null"),
    ],
)
def test_both_formatters_write_the_same_line(record: logging.LogRecord) -> None:
    token = jsonlog.current_id.set("rid-1")
    try:
        light = jsonlog.JsonFormatter().format(record)
        fast = logs.JsonFormatter().format(record)
    finally:
        jsonlog.current_id.reset(token)
    assert light == fast
    assert "\n" not in light
    assert json.loads(light)["request_id"] == "rid-1"


def test_the_request_id_variable_is_the_one_the_app_sets() -> None:
    assert logs.request_id is jsonlog.current_id


def test_jsonlog_imports_nothing_of_the_app() -> None:
    """granian's supervisor imports it for `--log-format json` (`serve.JSON_FORMATTER`)."""
    probe = (
        "import sys, logging.config; "
        "logging.config.dictConfig({'version': 1, 'formatters': {'j': "
        "{'()': 'uiserver.http.jsonlog.JsonFormatter'}}}); "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('msgspec', 'starlette', 'httpx', 'jwt', 'prometheus_client') "
        "or m.startswith('uiserver.') and m not in ('uiserver.http', 'uiserver.http.jsonlog'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_serve_names_the_light_formatter_for_granian() -> None:
    from uiserver.commands import serve

    assert serve.JSON_FORMATTER == {"()": "uiserver.http.jsonlog.JsonFormatter"}

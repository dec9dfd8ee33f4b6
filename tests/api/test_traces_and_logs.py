"""OpenTelemetry traces (the SDK's in-memory exporter) and JSON logs with request ids."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app
from uiserver import tracing
from uiserver.http import logs
from uiserver.http.layouts import LayoutApp
from uiserver.http.logs import JsonFormatter, RequestLog, incoming_id
from uiserver.http.tracing import Traced

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        yield exporter
    finally:
        tracing.use(None)


def test_tracing_is_off_and_not_installed_by_default(tmp_path: Path) -> None:
    assert not tracing.enabled()
    app = make_app(tmp_path)
    assert isinstance(app, LayoutApp)  # no middleware in front of the warm path
    with tracing.span("anything") as nothing:
        assert nothing is None


def test_a_layout_miss_is_a_request_span_with_store_plan_and_render_children(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    app = make_app(tmp_path)
    assert isinstance(app, Traced)
    with TestClient(app) as client:
        spans.clear()
        answer = client.get(
            "/v1/layouts/home", headers={**bearer("ann"), "traceparent": TRACEPARENT}
        )
        assert answer.status_code == 200
    finished = {span.name: span for span in spans.get_finished_spans()}
    request = finished["GET /v1/layouts/{page}"]
    assert request.kind == SpanKind.SERVER
    assert request.attributes is not None
    assert request.attributes["http.route"] == "/v1/layouts/{page}"
    assert request.attributes["http.response.status_code"] == 200
    # The caller's trace continues: same trace id, its span as the parent.
    assert f"{request.context.trace_id:032x}" == TRACEPARENT.split("-")[1]
    assert request.parent is not None and f"{request.parent.span_id:016x}" == "00f067aa0ba902b7"
    for child in ("store.profile", "engine.plan", "engine.render"):
        parent = finished[child].parent
        assert parent is not None and parent.span_id == request.context.span_id, child
    # Nothing about the user: no id, no token, no query in any attribute.
    for span in spans.get_finished_spans():
        assert "ann" not in json.dumps(dict(span.attributes or {})), span.name


def test_routes_name_their_spans_and_5xx_is_an_error(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    with TestClient(make_app(tmp_path)) as client:
        spans.clear()
        client.get("/v1/me/settings", headers=bearer("ann"))
        client.get("/no/such/path")
    names = [span.name for span in spans.get_finished_spans()]
    assert "GET /v1/me/settings" in names
    assert "GET other" in names
    assert all(span.status.status_code != StatusCode.ERROR for span in spans.get_finished_spans())


def test_a_503_from_a_locked_store_is_an_error_span(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    """A settings write while another process holds SQLite's write lock past busy_timeout:
    the client gets a 503 and the trace marks the request span as an error; nothing written."""
    with TestClient(make_app(tmp_path)) as client:
        store = client.app.app.service.store  # type: ignore[attr-defined]
        store.db.connection().execute("PRAGMA busy_timeout=20")  # give up fast
        other = sqlite3.connect(store.path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        spans.clear()
        try:
            answer = client.patch(
                "/v1/me/settings",
                content=b'{"font_scale": 1.3}',
                headers={**bearer("ann"), "Content-Type": "application/merge-patch+json"},
            )
        finally:
            other.execute("ROLLBACK")
            other.close()
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "store_unavailable"
    request = next(s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER)
    assert request.name == "PATCH /v1/me/settings"
    assert request.attributes is not None
    assert request.attributes["http.response.status_code"] == 503
    assert request.status.status_code == StatusCode.ERROR
    with TestClient(make_app(tmp_path)) as client:
        assert client.get("/v1/me/settings", headers=bearer("ann")).json()["font_scale"] == 1.0


def test_configure_from_env() -> None:
    assert tracing.configure_from_env({}) is False
    assert tracing.configure_from_env({"OTEL_TRACES_EXPORTER": "none"}) is False
    with pytest.raises(SystemExit, match="otlp, console or none"):
        tracing.configure_from_env({"OTEL_TRACES_EXPORTER": "zipkin"})
    try:
        assert tracing.configure_from_env({"OTEL_TRACES_EXPORTER": "otlp"}) is True
        assert tracing.enabled()
        assert tracing.configure_from_env({"OTEL_SDK_DISABLED": "true"}) is False
        assert not tracing.enabled()
    finally:
        tracing.use(None)


@pytest.fixture
def json_logs(tmp_path: Path) -> Iterator[tuple[TestClient, io.StringIO]]:
    stream = io.StringIO()
    ours = logging.getLogger("uiserver")
    saved = (ours.handlers, ours.level, ours.propagate)
    app = make_app(tmp_path, log_format="json")
    assert isinstance(app, RequestLog)
    ours.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    try:
        with TestClient(app) as client:
            yield client, stream
    finally:
        ours.handlers, ours.level, ours.propagate = saved[0], saved[1], saved[2]


def test_json_logs_carry_request_ids_and_access_lines(
    json_logs: tuple[TestClient, io.StringIO],
) -> None:
    client, stream = json_logs
    mine = client.get("/v1/layouts/home", headers={**bearer("ann"), "X-Request-Id": "edge-42"})
    assert mine.headers["x-request-id"] == "edge-42"  # a proxy's id carries through
    made = client.get("/v1/layouts/home?device=ipad", headers={"X-Request-Id": "bad id\x7f"})
    assert made.status_code == 400
    assert made.headers["x-request-id"] != "bad id\x7f" and len(made.headers["x-request-id"]) == 16
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "uiserver.access"]
    assert {"request_id": "edge-42", "status": 200, "route": "/v1/layouts/{page}"}.items() <= (
        access[0].items()
    )
    assert access[1]["request_id"] == made.headers["x-request-id"]
    assert access[1]["status"] == 400 and access[1]["method"] == "GET"
    assert access[0]["time"].endswith("Z") and access[0]["level"] == "INFO"
    assert "ann" not in stream.getvalue()  # never the user id (or the token) in the log
    assert "ipad" not in stream.getvalue()  # the route template, never the query


def test_incoming_ids_are_bounded() -> None:
    assert incoming_id([(b"x-request-id", b"a" * 128)]) == "a" * 128
    assert incoming_id([(b"x-request-id", b"a" * 129)]) != "a" * 129
    assert incoming_id([(b"x-request-id", b"")]) != ""
    assert incoming_id([]) != incoming_id([])


def test_json_formatter_includes_the_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "uiserver", logging.ERROR, __file__, 1, "failed %s", ("x",), None
        )
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed x" and "ValueError: boom" in line["exception"]


def test_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text, json"):
        logs.configure("xml")


def test_a_token_sent_as_the_request_id_is_never_logged(
    json_logs: tuple[TestClient, io.StringIO],
) -> None:
    """A client that put its bearer token in X-Request-Id (a JWT fits 128 characters of
    `[A-Za-z0-9._-]` when short) had it written in every access line at INFO, its user id
    readable in the payload; it gets a fresh id instead. A proxy's id with ':' stays."""
    client, stream = json_logs
    jwt = bearer("zed")["Authorization"].removeprefix("Bearer ")[:128]
    answer = client.get("/v1/layouts/home", headers={"X-Request-Id": jwt})
    assert answer.headers["x-request-id"] != jwt and len(answer.headers["x-request-id"]) == 16
    assert jwt[:40] not in stream.getvalue()
    proxied = client.get("/v1/layouts/home", headers={"X-Request-Id": "lb-1:" + "a" * 100})
    assert proxied.headers["x-request-id"] == "lb-1:" + "a" * 100


@pytest.mark.parametrize(
    "value", [b"edge:42", b"a" * 100, b"a b", b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ6ZWQifQ.c2ln"]
)
def test_one_reading_of_the_request_id(value: bytes) -> None:
    """The access line's id (`incoming_id`) and a 500's (`failures.request_id`) are the same
    for the same header: before, `edge:42` or a 100-character id was kept by one and replaced
    by the other, so the id a user quoted from a 500 was in no access line."""
    from uiserver.http.failures import request_id

    headers = [(b"x-request-id", value)]
    kept = incoming_id(headers) == value.decode()
    assert kept == (request_id(headers) == value.decode())
    assert kept == (value in (b"edge:42", b"a" * 100))

"""One failure must not become two (issue 27, section 7), against real `uiserver serve`
processes of both servers, with `UISERVER_FAULTS=1` (`uiserver/http/faults.py`) making a
request fail on purpose.

Before: Starlette sent its plain-text 500 without `Connection: close` and re-raised; uvicorn
then closed the socket, so the client's next request on that keep-alive connection was reset.
Now: a JSON 500 that says `Connection: close` (the server then closes), a request id, one log
line, and a count in `/metrics`; a failure after the response leaves the connection usable; a
failure mid-stream aborts the connection so the truncated body is never taken as whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers.app import token
from tests.helpers.processes import ServeProcess
from tests.helpers.rawhttp import closed_within, connect, read_response, send_request

pytestmark = pytest.mark.slow

SERVERS = ("uvicorn", "granian")
FAULT = "X-Uiserver-Fault"
# (path, fault kind): a bug in the layout fast path, in middleware before a Starlette route,
# in a route that needs a token, and on the console's login page.
BEFORE = [
    pytest.param("GET", "/v1/layouts/home", b"", id="layout-fast-path"),
    pytest.param("HEAD", "/v1/layouts/home", b"", id="layout-head"),
    pytest.param("GET", "/v1/me/settings", b"", id="middleware-before-route"),
    pytest.param("GET", "/healthz", b"", id="health"),
    pytest.param("GET", "/designer/login", b"", id="console"),
    # A body the failed request never read: the connection must not carry on mid-body.
    pytest.param("POST", "/v1/me/events", b'{"events": []}' + b" " * 50_000, id="unread-body"),
]


@pytest.fixture(scope="module", params=SERVERS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    name = str(request.param)
    process = ServeProcess(
        tmp_path_factory.mktemp(f"faults-{name}"),
        "",
        args=["--server", name],
        env={"UISERVER_FAULTS": "1"},
    ).start()
    process.wait_ready()
    try:
        yield process
    finally:
        process.stop()


def _errors(server: ServeProcess) -> dict[str, float]:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    found = re.findall(r'^uiserver_unexpected_errors_total\{stage="(\w+)"\} (\S+)$', text, re.M)
    return {stage: float(value) for stage, value in found}


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {token('fault-user')}"}


@pytest.mark.parametrize(("method", "path", "body"), BEFORE)
def test_a_bug_answers_a_500_that_closes_and_the_next_request_works(
    server: ServeProcess, method: str, path: str, body: bytes
) -> None:
    before = _errors(server).get("before_response", 0)
    sock = connect(server.port)
    try:
        headers = {**_auth(), FAULT: "raise"}
        if body:
            headers.update({"Content-Type": "application/json", "Content-Length": str(len(body))})
        send_request(sock, method, path, headers)
        sock.sendall(body)
        response = read_response(sock, no_body=method == "HEAD")
        assert response is not None and response.complete
        assert response.status == 500
        console = path.startswith("/designer")  # the console's own 500 page (issue 23)
        expected = "text/html; charset=utf-8" if console else "application/json"
        assert response.headers["content-type"] == expected
        assert response.headers.get("connection", "").lower() == "close", response.headers
        rid = response.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{16}", rid)
        if method != "HEAD" and console:
            assert f"request id {rid}".encode() in response.body
        elif method != "HEAD":
            error = httpx.Response(500, content=response.body).json()["error"]
            assert error["code"] == "internal" and rid in error["message"]
        # The server keeps its word: it closes, so the client never reuses this socket.
        assert closed_within(sock, 10)
    finally:
        sock.close()
    # The client's next request (a fresh connection, as `Connection: close` told it) works.
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/v1/layouts/home", headers=_auth()).status_code == 200
    assert _errors(server)["before_response"] == before + 1


def test_a_failure_after_the_response_keeps_the_connection_usable(server: ServeProcess) -> None:
    before = _errors(server).get("after_response", 0)
    sock = connect(server.port)
    try:
        send_request(sock, "GET", "/healthz", {FAULT: "after"})
        first = read_response(sock)
        assert first is not None and first.status == 200 and first.complete
        send_request(sock, "GET", "/v1/layouts/home", _auth())
        second = read_response(sock)
        assert second is not None and second.status == 200 and second.complete
        assert second.body.startswith(b"{")
    finally:
        sock.close()
    assert _errors(server)["after_response"] == before + 1


def test_a_failure_mid_stream_aborts_the_connection_never_a_short_whole_body(
    server: ServeProcess,
) -> None:
    before = _errors(server).get("during_response", 0)
    sock = connect(server.port)
    try:
        send_request(sock, "GET", "/healthz", {FAULT: "stream"})
        response = read_response(sock)
        assert response is not None and response.status == 200
        assert not response.complete, "a cut body must not look whole"
        assert closed_within(sock, 10)
    finally:
        sock.close()
    assert _errors(server)["during_response"] == before + 1


def test_logged_once_with_the_request_id_and_without_the_message(server: ServeProcess) -> None:
    rid = "req-27.7_once"
    sock = connect(server.port)
    try:
        send_request(
            sock,
            "GET",
            "/v1/me/settings?probe=quoted-by-the-bug",
            {**_auth(), FAULT: "raise", "X-Request-Id": rid},
        )
        response = read_response(sock)
        assert response is not None and response.status == 500
        assert response.headers["x-request-id"] == rid
    finally:
        sock.close()
    # A request id from the client that is not a short token is replaced, not echoed.
    sock = connect(server.port)
    try:
        send_request(sock, "GET", "/healthz", {FAULT: "raise", "X-Request-Id": "a b\tc"})
        response = read_response(sock)
        assert response is not None and response.headers["x-request-id"] != "a b\tc"
    finally:
        sock.close()
    httpx.get(server.url + "/healthz", timeout=10)  # the log line is written by now
    log = server.log.read_text(errors="replace")
    assert log.count(f"request id {rid}") == 1, log[-3000:]
    assert "quoted-by-the-bug" not in log  # the exception's message is DEBUG only
    assert "Exception in ASGI application" not in log  # the server logged nothing more
    assert "fault-user" not in log

"""The layout route on granian's RSGI interface answers exactly as the ASGI one (issue 26).

`uiserver serve --server granian` answers `GET`/`HEAD /v1/layouts/{page}` and
`POST /v1/me/events` natively in RSGI (`uiserver/http/rsgi.py`) and bridges everything else to
the ASGI app; `--server uvicorn` runs
the ASGI app. The same raw requests go to both (same JWT secret, same layouts): status, every
header but the ones each server adds itself (`date`, granian's `server`), and body must be
byte-identical, for good requests, 304s and every kind of bad input.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers.app import ELDERLY, token
from tests.helpers.processes import ServeProcess
from tests.helpers.rawhttp import RawResponse, read_response

pytestmark = pytest.mark.slow

SERVER_HEADERS = {"date", "server"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    base = tmp_path_factory.mktemp("rsgi")
    asgi = ServeProcess(base / "uvicorn", "", args=["--server", "uvicorn"])
    rsgi = ServeProcess(base / "granian", "", args=["--server", "granian"])
    try:
        for server in (asgi.start(), rsgi.start()):
            server.wait_ready()
        yield asgi.port, rsgi.port
    finally:
        asgi.stop()
        rsgi.stop()


def _ask(port: int, head: bytes) -> tuple[int, list[tuple[str, str]], bytes, bool]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        response = read_response(sock, no_body=head.startswith(b"HEAD "))
    assert isinstance(response, RawResponse), head
    raw = [(k, v) for k, v in response.headers.items() if k not in SERVER_HEADERS]
    return response.status, sorted(raw), response.body, response.complete


def _request(method: str, target: str | bytes, *headers: tuple[str, str | bytes]) -> bytes:
    raw = target if isinstance(target, bytes) else target.encode()
    lines = [method.encode() + b" " + raw + b" HTTP/1.1", b"Host: 127.0.0.1"]
    for name, value in headers:
        lines.append(
            name.encode() + b": " + (value if isinstance(value, bytes) else value.encode())
        )
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _etags(port: int) -> tuple[str, str]:
    url = f"http://127.0.0.1:{port}/v1/layouts/home"
    plain = httpx.get(url, headers={"Accept-Encoding": "identity"}).headers["etag"]
    gz = httpx.get(url, headers={"Accept-Encoding": "gzip"}).headers["etag"]
    return plain, gz


def _matrix(etag: str, etag_gz: str) -> list[bytes]:
    good = f"Bearer {token('rsgi-user')}"
    expired = f"Bearer {token('rsgi-user', ttl=-120)}"
    home = "/v1/layouts/home"
    return [
        _request("GET", home),
        _request("GET", home, ("Accept-Encoding", "gzip")),
        _request("GET", home, ("Accept-Encoding", "br;q=1, gzip;q=0.5")),
        _request("GET", home, ("Accept-Encoding", "gzip;q=0, identity;q=0")),  # 406
        _request("GET", home, ("Accept-Encoding", "*;q=0")),  # 406
        _request("GET", home, ("Authorization", good)),
        _request("GET", home, ("Authorization", good), ("Accept-Encoding", "gzip")),
        _request("GET", home, ("Authorization", "Bearer not-a-token")),  # 401
        _request("GET", home, ("Authorization", "Basic dXNlcjpwYXNz")),  # 401
        _request("GET", home, ("Authorization", expired)),  # 401
        _request("GET", home, ("Authorization", good), ("Authorization", "Bearer x")),
        _request("GET", home, ("If-None-Match", etag)),  # 304
        _request("GET", home, ("If-None-Match", f"W/{etag}")),  # 304 (weak comparison)
        _request("GET", home, ("If-None-Match", etag_gz), ("Accept-Encoding", "gzip")),
        _request("GET", home, ("If-None-Match", "*")),
        _request("GET", home, ("If-None-Match", '"something-else"')),
        _request("GET", home, ("If-None-Match", b"\xff\xfe")),
        _request("GET", f"{home}?device=tablet&dark=1&font_px=22"),
        _request("GET", f"{home}?dark=true&device=tablet&utm=x"),
        _request("GET", f"{home}?dark=2"),  # 400
        _request("GET", f"{home}?font_px=big"),  # 400
        _request("GET", f"{home}?device=fridge"),  # 400
        _request("GET", f"{home}?pad={'x' * 3000}"),
        _request("GET", "/v1/layouts/ho%6De"),
        _request("GET", "/v1/layouts/nope"),  # 404
        _request("GET", "/v1/layouts/home/"),  # 404
        _request("GET", "/v1/layouts/"),  # 404
        _request("HEAD", home),
        _request("HEAD", home, ("Accept-Encoding", "gzip")),
        _request("HEAD", home, ("If-None-Match", etag)),
        _request("POST", home),  # 405, through the bridge
        _request("GET", "/v1/me/settings", ("Authorization", good)),  # the bridge
        _request("GET", "/v1/me/settings"),  # 401 through the bridge
        _request("GET", "/nowhere"),  # 404 through the bridge
        # A raw UTF-8 query (not percent-encoded, as some clients send it): granian reads the
        # query as UTF-8 text; the bridge re-encoded it as latin-1 and answered a bare 500.
        _request("GET", "/v1/layouts/home?locale=中".encode()),
        _request("GET", "/v1/layouts/home?locale=zh-中文&device=phone".encode()),
        _request("GET", "/v1/me/settings?note=草稿".encode(), ("Authorization", good)),
        _request("GET", "/nowhere?q=草稿".encode()),
        # X-UI-Capabilities twice: the same value is served, two different ones are a 400.
        _request("GET", home, ("X-UI-Capabilities", "r=2.0.0"), ("X-UI-Capabilities", "r=2.0.0")),
        _request("GET", home, ("X-UI-Capabilities", "r=2.0.0"), ("X-UI-Capabilities", "r=1.0.0")),
        _request("GET", f"{home}?caps=r%3D2.0.0&caps=r%3D1.0.0"),
    ]


def test_rsgi_answers_byte_identically_to_asgi(servers: tuple[int, int]) -> None:
    asgi, rsgi = servers
    etags = _etags(asgi)
    assert _etags(rsgi) == etags, "the two servers serve different layouts"
    differ = []
    statuses = set()
    for head in _matrix(*etags):
        a, r = _ask(asgi, head), _ask(rsgi, head)
        statuses.add(a[0])
        if a != r:
            differ.append(
                f"{head[:80]!r}:\n  asgi {a[:2]} {a[2][:120]!r}\n  rsgi {r[:2]} {r[2][:120]!r}"
            )
    assert not differ, "\n".join(differ)
    assert {200, 304, 400, 401, 404, 405, 406} <= statuses, statuses


def test_a_put_through_the_bridge_reaches_the_store(servers: tuple[int, int]) -> None:
    """A request body crosses the RSGI -> ASGI bridge: the settings saved are read back."""
    _, rsgi = servers
    headers = {"Authorization": f"Bearer {token('rsgi-writer')}"}
    url = f"http://127.0.0.1:{rsgi}/v1/me/settings"
    settings = httpx.get(url, headers=headers).json()
    settings["high_contrast"] = True
    assert httpx.put(url, json=settings, headers=headers).status_code == 200
    deadline = time.monotonic() + 5
    while httpx.get(url, headers=headers).json()["high_contrast"] is not True:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    layout = httpx.get(f"http://127.0.0.1:{rsgi}/v1/layouts/home", headers=headers).json()
    assert layout["theme"]["high_contrast"] is True


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("r=2.1.0;t=草稿".encode(), "'草稿' is not 8 lowercase hex digits"),
        ("r=版本".encode(), "renderer version '版本' is not"),
        (b"r=caf\xe9", "renderer version 'café' is not"),  # not UTF-8: read as latin-1
    ],
)
def test_a_non_ascii_capabilities_value_is_shown_readably(
    servers: tuple[int, int], value: bytes, shown: str
) -> None:
    """A 400 `bad_capabilities` on both paths. ASGI names the value as sent: UTF-8 read as
    UTF-8 (before, read as latin-1 and written back as UTF-8: `草稿` came out as mojibake), a
    value that is not UTF-8 as latin-1. Granian's RSGI headers do not pass such a value on:
    the answer says it is not visible ASCII (before, the layout was served as if no header
    had been sent)."""
    asgi, rsgi = servers
    for port, expected in ((asgi, shown), (rsgi, "not visible ASCII text")):
        status, _, body, _ = _ask(
            port, _request("GET", "/v1/layouts/home", ("X-UI-Capabilities", value))
        )
        assert b"error" in body, (port, status, body[:200])
        error = json.loads(body)["error"]
        assert (status, error["code"], error["field"]) == (
            400,
            "bad_capabilities",
            "X-UI-Capabilities",
        ), (port, body)
        assert expected in error["message"], (port, error["message"])


def _post(
    target: str, body: bytes, *headers: tuple[str, str | bytes], chunked: bool = False
) -> bytes:
    """A raw POST: Content-Length (or chunked Transfer-Encoding) and `body` after the head."""
    if chunked:
        framed = b"".join(
            b"%x\r\n%s\r\n" % (len(part), part)
            for part in (body[i : i + 65536] for i in range(0, len(body), 65536))
        )
        head = _request("POST", target, *headers, ("Transfer-Encoding", "chunked"))
        return head + framed + b"0\r\n\r\n"
    return _request("POST", target, *headers, ("Content-Length", str(len(body)))) + body


def test_events_answer_byte_identically_on_both(servers: tuple[int, int]) -> None:
    """`POST /v1/me/events` is answered natively on RSGI too (`RSGIApp._events`, the code the
    ASGI route runs): the same statuses, headers and bodies for a stored batch, its resend
    (ids already seen), and every kind of bad request, limits and errors included."""
    asgi, rsgi = servers
    good = ("Authorization", f"Bearer {token('rsgi-events')}")
    ts = time.time() - 5
    views = [
        {"page": "home", "component": "search", "kind": "view", "ts": ts, "id": f"rsgi-ev-{i}"}
        for i in range(6)
    ]
    click = {"page": "home", "component": "search", "kind": "click", "ts": ts, "id": "rsgi-ev-c"}
    batch = json.dumps({"events": [*views, click]}).encode()
    json_type = ("Content-Type", "application/json")
    events = "/v1/me/events"
    matrix = [
        _post(events, batch, good, json_type),  # 202, stored
        _post(events, batch, good, json_type),  # 202, the same ids: nothing stored again
        _post(events, batch, good, ("Content-Type", "text/plain")),  # no type check: 202
        _post(events, batch, good, json_type, chunked=True),
        _post(events, batch, json_type),  # 401 unauthenticated
        _post(events, batch, ("Authorization", "Bearer not-a-token")),  # 401
        _post(events, batch, good, ("Authorization", "Bearer x")),  # the first one counts
        _post(events, b"{", good),  # 400 bad_json
        _post(events, b"", good),  # 400 bad_json
        _post(events, b'{"events": [{"page": "home", "kind": "hover"}]}', good),  # 422
        _post(
            events,
            json.dumps({"events": [{**click, "id": "x", "ts": ts + 3 * 86_400}]}).encode(),
            good,
        ),  # 422, a timestamp days ahead
        _post(events, b"[" + b" " * 300_000 + b"]", good),  # 413 by Content-Length
        _post(events, b"[" + b" " * 300_000 + b"]", good, chunked=True),  # 413 as read
        _request("POST", events, good, ("Content-Length", "300000")),  # 413 before the body
        _request("GET", events, good),  # 405 through the bridge
        _post(events + "/", batch, good),  # 404 through the bridge
    ]
    differ = []
    statuses = []
    for head in matrix:
        a, r = _ask(asgi, head), _ask(rsgi, head)
        statuses.append(a[0])
        if r[0] == 413:  # granian (hyper) says it closes a connection whose body went unread
            r = (r[0], [h for h in r[1] if h != ("connection", "close")], *r[2:])
        if a != r:
            differ.append(
                f"{head[:80]!r}:\n  asgi {a[:2]} {a[2][:120]!r}\n  rsgi {r[:2]} {r[2][:120]!r}"
            )
    assert not differ, "\n".join(differ)
    assert statuses == [202] * 4 + [401] * 2 + [202, 400, 400, 422, 422, 413, 413, 413, 405, 404]
    # An Authorization value that is not text: granian's RSGI headers leave it out, so the
    # events route reads it as a bad token, as the layout route does (`http/rsgi.py`); both
    # are a 401 `bad_token`, the messages differ (ASGI can quote what it could not parse).
    for port in servers:
        status, _, body, _ = _ask(port, _post(events, batch, ("Authorization", b"Bearer \xff")))
        assert (status, json.loads(body)["error"]["code"]) == (401, "bad_token"), (port, body)
    # The bridged routes too: granian's bridge passed no Authorization at all, so the caller
    # was anonymous (a 201 registering types, README: "a bad token is still 401"; on /v1/me
    # "a bearer token is required").
    unreadable = ("Authorization", b"Bearer \xff")
    types = b'{"renderer": "1.0.0", "types": ["search_bar"]}'
    for port in servers:
        for head in (
            _post("/v1/capabilities", types, unreadable),
            _request("GET", "/v1/me/settings", unreadable),
        ):
            status, _, body, _ = _ask(port, head)
            assert (status, json.loads(body)["error"]["code"]) == (401, "bad_token"), (port, body)


def test_a_body_cut_short_is_never_processed(servers: tuple[int, int]) -> None:
    """A valid JSON body sent with a Content-Length 20 bytes longer, then the client half-closes:
    the message is incomplete, so nothing is stored on either server, on the events route
    (native on RSGI) or a bridged one (settings). granian's RSGI body stream ends quietly at
    the close, and its first bytes were taken for the whole body (202, 200: stored)."""
    settings = json.dumps(ELDERLY).encode()
    batch = b'{"events": [{"page": "home", "component": "search", "kind": "click"}]}'
    before = {port: _failures(port) for port in servers}
    for port in servers:
        user = f"cut-short-{port}"
        good = ("Authorization", f"Bearer {token(user)}")
        for method, target, body in (
            ("POST", "/v1/me/events", batch),
            ("PUT", "/v1/me/settings", settings),
        ):
            head = _request(method, target, good, ("Content-Length", str(len(body) + 20)))
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(head + body)
                sock.shutdown(socket.SHUT_WR)
                response = read_response(sock)
            # uvicorn answers nothing (the client is gone); granian now a 400 that says why
            assert response is None or response.status == 400, (port, target, response)
        headers = {good[0]: good[1]}
        url = f"http://127.0.0.1:{port}"
        data = httpx.get(f"{url}/v1/me/data", headers=headers).json()["data"]
        assert data["affinities"] == {}, (port, data)
        stored = httpx.get(f"{url}/v1/me/settings", headers=headers).json()
        assert stored["elderly_mode"] == "auto", (port, stored)
        # The client's doing, not a bug: uvicorn's ClientDisconnect was a 500 logged with a
        # traceback and counted in uiserver_unexpected_errors_total (alert on any increase).
        assert _failures(port) == before[port], (port, before[port], _failures(port))


def _failures(port: int) -> tuple[float, float]:
    """(`uiserver_unexpected_errors_total{stage="before_response"}`, 5xx answers) of a server."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text

    def value(prefix: str) -> float:
        lines = [line for line in text.splitlines() if line.startswith(prefix)]
        return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0

    return (
        value('uiserver_unexpected_errors_total{stage="before_response"}'),
        value('uiserver_http_errors_total{status_class="5xx"}'),
    )

"""Response header values that are not visible ASCII leave the RSGI bridge as the app sent
them, as they leave an ASGI server (uvicorn): a real granian and a real uvicorn serve the same
ASGI app (`tests/helpers/header_bytes.py`), and the bytes on the wire are compared.

Before the fix the bridge read every value as latin-1 and granian wrote that text as UTF-8: a
UTF-8 filename went out double-encoded (`é` as C3 83 C2 A9).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.helpers.app import ROOT, free_port, wait_http
from tests.helpers.header_bytes import HEADERS
from tests.helpers.rawhttp import RawResponse, read_response

pytestmark = pytest.mark.slow


def _serve(command: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/")
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process


@pytest.fixture(scope="module")
def ports() -> Iterator[tuple[int, int]]:
    uvicorn_port, granian_port = free_port(), free_port()
    uvicorn = _serve(
        [
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--port",
            str(uvicorn_port),
            "--log-level",
            "warning",
            "tests.helpers.header_bytes:asgi",
        ],
        uvicorn_port,
    )
    try:
        granian = _serve(
            [
                "granian",
                "--interface",
                "rsgi",
                "--host",
                "127.0.0.1",
                "--port",
                str(granian_port),
                "--workers",
                "1",
                "tests.helpers.header_bytes:rsgi",
            ],
            granian_port,
        )
        try:
            yield uvicorn_port, granian_port
        finally:
            granian.terminate()
            granian.wait(timeout=30)
    finally:
        uvicorn.terminate()
        uvicorn.wait(timeout=30)


def _headers(port: int) -> dict[str, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /export HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        response = read_response(sock)
    assert isinstance(response, RawResponse) and response.status == 200
    assert response.body == b"{}"
    return {name: value.encode("latin-1") for name, value in response.headers.items()}


@pytest.mark.parametrize("name", [name.decode() for name, _ in HEADERS[:3]])
def test_utf8_values_leave_both_servers_byte_identical(ports: tuple[int, int], name: str) -> None:
    sent = dict(HEADERS)[name.encode()]
    uvicorn, granian = (_headers(port) for port in ports)
    assert uvicorn[name] == sent
    assert granian[name] == sent


def test_a_latin_1_value_leaves_granian_as_the_same_characters_in_utf8(
    ports: tuple[int, int],
) -> None:
    """The documented difference (`uiserver/http/rsgi.py`): granian's RSGI writes text as
    UTF-8, and no text writes back the lone byte E9; the value is neither dropped nor a 500."""
    uvicorn, granian = (_headers(port) for port in ports)
    assert uvicorn["x-latin-1"] == b"caf\xe9"
    assert granian["x-latin-1"] == "café".encode()

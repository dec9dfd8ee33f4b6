"""The nginx block of docs/DEPLOY.md, run in a real nginx in front of a real granian
`uiserver serve` with only 256 open files: what the server cannot do alone, nginx does.

granian cannot evict an idle connection to make room (it stops accepting at its cap), so past
its open-files limit idle connections made clients wait. Behind nginx it never sees them: nginx
reads a request's whole head before it opens (or reuses) an upstream connection, cuts slow heads
at `client_header_timeout`, refuses oversized ones, and `limit_conn` bounds the requests one
address has in progress. The attacker connects from 127.0.0.2, the normal client from
127.0.0.1, as two machines would.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.app import ROOT, free_port, token, wait_http
from tests.helpers.processes import ServeProcess
from tests.helpers.rawhttp import closed_within, read_response

pytestmark = pytest.mark.slow

ATTACKER = "127.0.0.2"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MAIN = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
worker_rlimit_nofile 8192;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{block}
}}
"""


def deploy_block(upstream: str, port: int) -> str:
    """The first nginx block after "## nginx in front" in docs/DEPLOY.md, pointed at one local
    replica and port, with the header timeout shortened to 2 s for the test."""
    text = (ROOT / "docs" / "DEPLOY.md").read_text()
    section = text[text.index("## nginx in front") :]
    match = re.search(r"```nginx\n(.*?)```", section, re.S)
    assert match, "docs/DEPLOY.md has no nginx block under 'nginx in front'"
    block = match.group(1)
    servers = re.findall(r"^\s*server 10\.0\.0\.\d+:8000[^;]*;", block, re.M)
    assert servers, "the upstream lists no replica"
    block = block.replace(servers[0], f"    server {upstream};")
    for line in servers[1:]:
        block = block.replace(line, "")
    block = block.replace("listen 80;", f"listen 127.0.0.1:{port};")
    assert "client_header_timeout 10s;" in block
    return block.replace("client_header_timeout 10s;", "client_header_timeout 2s;")


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ServeProcess]]:
    replica = ServeProcess(
        tmp_path_factory.mktemp("front-granian"),
        "",
        args=["--server", "granian", "--header-timeout", "60"],
        nofile=256,
    ).start()
    replica.wait_ready()
    tmp = Path(tempfile.mkdtemp(prefix="uiserver-front-"))
    tmp.chmod(0o755)  # nginx started as root runs its workers as nobody
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(MAIN.format(tmp=tmp, block=deploy_block(f"127.0.0.1:{replica.port}", port)))
    with (tmp / "nginx.out").open("wb") as out:
        nginx = subprocess.Popen(
            [NGINX, "-p", str(tmp), "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/v1/layouts/home", timeout=20)
        yield url, replica
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        replica.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _attack(url: str, count: int, partial: bytes = b"") -> list[socket.socket]:
    held = []
    for _ in range(count):
        sock = socket.create_connection(
            ("127.0.0.1", _port(url)), timeout=20, source_address=(ATTACKER, 0)
        )
        if partial:
            sock.sendall(partial)
        held.append(sock)
    return held


def _served(url: str) -> int:
    auth = {"Authorization": f"Bearer {token('front-user')}"}
    with httpx.Client(base_url=url, timeout=20.0) as http:
        return http.get("/v1/layouts/home", headers=auth).status_code


def test_idle_and_slow_connections_past_the_replicas_file_limit_never_reach_it(
    front: tuple[str, ServeProcess],
) -> None:
    url, replica = front
    held: list[socket.socket] = []
    try:
        held = _attack(url, 400) + _attack(url, 200, b"GET /v1/layouts/home HTTP/1.1\r\n")
        assert _served(url) == 200
        assert _served(replica.url) == 200  # the replica itself was never flooded
    finally:
        for sock in held:
            sock.close()


def test_nginx_cuts_a_slow_head_at_its_header_timeout(front: tuple[str, ServeProcess]) -> None:
    url, _ = front
    (sock,) = _attack(url, 1, b"GET /v1/layouts/home HTTP/1.1\r\n")
    try:
        cut, deadline = False, time.monotonic() + 15
        while not cut and time.monotonic() < deadline:
            try:
                sock.sendall(b"X-Slow: v\r\n")
            except OSError:
                cut = True
                break
            cut = closed_within(sock, 0.5)
        assert cut, "nginx kept a head that never ends"
    finally:
        sock.close()


def test_nginx_refuses_an_oversized_head(front: tuple[str, ServeProcess]) -> None:
    url, _ = front
    (sock,) = _attack(url, 1)
    try:
        sock.sendall(
            b"GET /v1/layouts/home HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 20_000 + b"\r\n\r\n"
        )
        response = read_response(sock)
        assert response is not None and response.status == 400
    finally:
        sock.close()


def test_limit_conn_bounds_the_requests_one_address_has_in_progress(
    front: tuple[str, ServeProcess],
) -> None:
    """70 events POSTs whose bodies never finish, from one address: past 64, nginx answers 503
    at once; another address is still served."""
    url, _ = front
    head = (
        b"POST /v1/me/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{"
    )
    held = _attack(url, 70, head)
    try:
        refused = 0
        for sock in held:
            sock.settimeout(0.2)
            with contextlib.suppress(TimeoutError):
                try:
                    refused += sock.recv(64).startswith(b"HTTP/1.1 503")
                except ConnectionResetError:
                    refused += 1  # the 503, then a reset for the body left unread
        # At least the 6 past the limit; never all of them (those within it wait for bodies).
        assert 6 <= refused < len(held), refused
        assert _served(url) == 200
    finally:
        for sock in held:
            sock.close()

"""`serve.ensure_free`: a port something listens on, an unknown host, and port 0."""

from __future__ import annotations

import socket

import pytest

from uiserver.commands.serve import ensure_free


def test_a_port_a_reuseport_listener_holds_is_refused() -> None:
    with socket.socket() as held:  # as granian listens
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(SystemExit) as refused:
            ensure_free("127.0.0.1", port)
    assert f"cannot listen on 127.0.0.1:{port}" in str(refused.value)
    assert "another server" in str(refused.value)
    ensure_free("127.0.0.1", port)  # closed: free again


def test_an_unknown_host_is_refused_and_port_0_always_passes() -> None:
    with pytest.raises(SystemExit, match=r"cannot listen on no-such-host\.invalid:8000"):
        ensure_free("no-such-host.invalid", 8000)
    ensure_free("no-such-host.invalid", 0)


def test_an_ipv6_address_is_shown_in_brackets() -> None:
    with socket.socket(socket.AF_INET6) as held:
        held.bind(("::1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(SystemExit, match=rf"\[::1\]:{port}"):
            ensure_free("::1", port)

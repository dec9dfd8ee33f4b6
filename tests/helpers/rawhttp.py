"""HTTP/1.1 over a plain socket, for tests about the connection itself (keep-alive after an
error, slow or idle clients): what an HTTP client library would hide, such as whether the server
closed the socket or left it usable, stays visible here."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # names lowercased, last one wins
    body: bytes = b""
    complete: bool = True  # False: the connection ended before the body did


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def send_request(
    sock: socket.socket, method: str, path: str, headers: dict[str, str] | None = None
) -> None:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


class _Reader:
    """Reads from `sock`; with no socket, `buffer` is all there is."""

    def __init__(self, sock: socket.socket | None, buffer: bytes = b"") -> None:
        self.sock = sock
        self.buffer = buffer
        self.eof = sock is None

    def fill(self) -> bool:
        if self.sock is None:
            return False
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
        self.buffer += chunk
        return bool(chunk)

    def until(self, marker: bytes) -> bytes | None:
        while marker not in self.buffer:
            if not self.fill():
                return None
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def exactly(self, size: int) -> bytes | None:
        while len(self.buffer) < size:
            if not self.fill():
                return None
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


def read_response(sock: socket.socket, no_body: bool = False) -> RawResponse | None:
    """One response (Content-Length or chunked body; none when `no_body`: a HEAD's answer);
    None if the connection ended before its status line. A body cut short comes back with
    `complete=False`."""
    reader = _Reader(sock)
    head = reader.until(b"\r\n\r\n")
    if head is None:
        return None
    status_line, *lines = head.decode("latin-1").split("\r\n")
    response = RawResponse(int(status_line.split()[1]))
    for line in lines:
        name, _, value = line.partition(":")
        response.headers[name.strip().lower()] = value.strip()
    if no_body:
        return response
    if "content-length" in response.headers:
        body = reader.exactly(int(response.headers["content-length"]))
        response.body, response.complete = (body, True) if body is not None else (b"", False)
    elif response.headers.get("transfer-encoding", "").lower() == "chunked":
        _read_chunks(reader, response)
    return response


def _read_chunks(reader: _Reader, response: RawResponse) -> None:
    while True:
        size_line = reader.until(b"\r\n")
        if size_line is None:
            response.complete = False
            return
        size = int(size_line.split(b";")[0], 16)
        chunk = reader.exactly(size + 2)
        if chunk is None:
            response.complete = False
            return
        if size == 0:
            return
        response.body += chunk[:-2]


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True when the peer closes (EOF or reset) within `seconds`; bytes it sends meanwhile
    (a 408 or 431 before closing) are read and dropped."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (the socket's timeout bounds
    each wait; a timeout ends the read with what came)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return received


def split_answers(data: bytes, methods: list[str]) -> list[tuple[int, bytes]]:
    """The (status, body) of each answer in `data`, answers to requests with `methods` in
    order: a HEAD's answer, a 1xx, 204 or 304 has no body (RFC 9112 section 6.3), others a
    Content-Length or chunked one. Fewer entries than `methods` when the data ends first."""
    reader = _Reader(None, data)
    answers: list[tuple[int, bytes]] = []
    for method in methods:
        head = reader.until(b"\r\n\r\n")
        if head is None:
            break
        status_line, *lines = head.decode("latin-1").split("\r\n")
        response = RawResponse(int(status_line.split()[1]))
        for line in lines:
            name, _, value = line.partition(":")
            response.headers[name.strip().lower()] = value.strip()
        if method != "HEAD" and response.status not in (204, 304):
            if "content-length" in response.headers:
                response.body = reader.exactly(int(response.headers["content-length"])) or b""
            elif response.headers.get("transfer-encoding", "").lower() == "chunked":
                _read_chunks(reader, response)
        answers.append((response.status, response.body))
    return answers

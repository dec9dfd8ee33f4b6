"""`uiserver.files`: bounded reads that refuse special files without blocking, and writes that
replace a file whole or not at all and never follow a symbolic link.

The full disk is real: a child process with a file-size limit (`RLIMIT_FSIZE`, SIGXFSZ ignored,
so a write past it fails with EFBIG, as ENOSPC on a full disk), no root needed. So is the crash:
a child killed with SIGKILL between the write and the rename.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.app import ROOT
from uiserver.auth import SECRET_FILE, resolve_secret
from uiserver.files import FileRefused, read_limited, write_atomic
from uiserver.policy import PolicyError, load_policy

OLD = "# my comments: keep them\npage: home\n"
LIMIT = 1024


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# What starts coverage in a child Python (coverage's subprocess patch, `[tool.coverage.run]`).
COVERAGE_CHILD = ("COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG")


def run_child(code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a child Python, not measured by coverage: under the file-size limit the
    child's coverage data file was cut at the limit too (`.coverage.<host>.pid...`, 1,024
    bytes), and the suite's combine warned "Couldn't use data file ...: database disk image is
    malformed". A child killed with SIGKILL writes no data anyway."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in COVERAGE_CHILD},
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


def finishes(action: Callable[[], object]) -> BaseException | None:
    """Run `action` in a thread; the exception it raised (None: it returned). A hang guard,
    not a timing assertion: an `open` that blocks on a FIFO never returns at all."""
    caught: list[BaseException] = []

    def target() -> None:
        try:
            action()
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "blocked (a FIFO opened without O_NONBLOCK?)"
    return caught[0] if caught else None


def counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every byte count `os.read` is asked for, from now on."""
    reads: list[int] = []
    real_read = os.read

    def read(fd: int, size: int) -> bytes:
        reads.append(size)
        return real_read(fd, size)

    monkeypatch.setattr(os, "read", read)
    return reads


# --------------------------------------------------------------------------- reading


def test_an_oversized_file_is_refused_before_a_byte_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "home.yaml"
    with big.open("wb") as handle:
        handle.truncate(1 << 30)  # 1 GiB, sparse: no disk, no memory
    reads = counting_reads(monkeypatch)
    with pytest.raises(FileRefused, match="1073741824 bytes, over the limit of 1024 bytes"):
        read_limited(big, LIMIT)
    assert reads == []


def test_a_file_growing_while_read_is_cut_at_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grows = tmp_path / "home.yaml"
    grows.write_bytes(b"x" * (10 * LIMIT))
    real_stat, real_fstat = os.stat, os.fstat

    def small(info: os.stat_result) -> os.stat_result:  # the size it had when looked at
        fields = list(info)
        fields[stat.ST_SIZE] = 10
        return os.stat_result(fields)

    monkeypatch.setattr(os, "stat", lambda path: small(real_stat(path)))
    monkeypatch.setattr(os, "fstat", lambda fd: small(real_fstat(fd)))
    reads = counting_reads(monkeypatch)
    with pytest.raises(FileRefused, match="grew past the limit"):
        read_limited(grows, LIMIT)
    assert sum(reads) <= LIMIT + 1


def test_a_kernel_file_that_says_it_is_empty_is_still_bounded() -> None:
    """`/proc` files are regular files whose size reads 0 however much they hold: the read
    itself stops at the limit."""
    assert os.stat("/proc/self/maps").st_size == 0
    with pytest.raises(FileRefused, match="grew past the limit of 64 bytes"):
        read_limited("/proc/self/maps", 64)
    assert read_limited("/proc/self/stat", LIMIT).startswith(str(os.getpid()).encode())


def test_a_file_within_the_limit_is_read_whole(tmp_path: Path) -> None:
    exact = tmp_path / "home.yaml"
    exact.write_bytes(b"y" * LIMIT)
    assert read_limited(exact, LIMIT) == b"y" * LIMIT
    link = tmp_path / "link.yaml"
    link.symlink_to(exact)  # reading follows a link (a layouts/ entry may be one)
    assert read_limited(link, LIMIT) == b"y" * LIMIT


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "home.yaml"
    os.mkfifo(fifo)
    error = finishes(lambda: read_limited(fifo, LIMIT))
    assert isinstance(error, FileRefused) and error.reason == "not a regular file (a FIFO)"


def test_a_fifo_that_replaces_a_file_after_the_look_is_refused_without_blocking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked before opening, and what was opened checked again: a swap in between is seen,
    and opening it does not block (O_NONBLOCK)."""
    regular = tmp_path / "regular.yaml"
    regular.write_text(OLD)
    fifo = tmp_path / "home.yaml"
    os.mkfifo(fifo)
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda path, **kw: real_stat(regular))
    error = finishes(lambda: read_limited(fifo, LIMIT))
    assert isinstance(error, FileRefused) and "a FIFO" in error.reason


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        pytest.param("/dev/zero", "a character device", id="dev-zero"),
        pytest.param("/dev/null", "a character device", id="dev-null"),
        pytest.param("/dev/urandom", "a character device", id="dev-urandom"),
    ],
)
def test_devices_are_refused(path: str, kind: str) -> None:
    error = finishes(lambda: read_limited(path, LIMIT))
    assert isinstance(error, FileRefused) and error.reason == f"not a regular file ({kind})"


def test_a_directory_and_a_socket_named_like_documents_are_refused(tmp_path: Path) -> None:
    directory = tmp_path / "home.yaml"
    directory.mkdir()
    with pytest.raises(FileRefused, match=r"not a regular file \(a directory\)"):
        read_limited(directory, LIMIT)
    sock_path = tmp_path / "cart.yaml"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(sock_path))
        with pytest.raises(FileRefused, match=r"not a regular file \(a socket\)"):
            read_limited(sock_path, LIMIT)


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_limited(tmp_path / "nope.yaml", LIMIT)


# --------------------------------------------------------------------------- writing


def test_a_new_file_is_written_and_an_old_one_replaced_keeping_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "home.yaml"
    write_atomic(target, "page: home\n")
    assert target.read_text() == "page: home\n"
    assert stat.S_IMODE(target.stat().st_mode) & 0o600 == 0o600
    target.chmod(0o640)
    write_atomic(target, b"page: home2\n")
    assert target.read_bytes() == b"page: home2\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert leftovers(tmp_path) == []


def test_a_symbolic_link_is_never_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    directory = tmp_path / "layouts"
    directory.mkdir()
    link = directory / "home.yaml"
    link.symlink_to(outside)
    with pytest.raises(FileRefused, match=r"home\.yaml: is a symbolic link"):
        write_atomic(link, "page: home\n")
    assert outside.read_text() == "precious\n"
    assert link.is_symlink()
    assert leftovers(directory) == []


def test_a_dangling_symbolic_link_creates_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "layouts"
    directory.mkdir()
    (directory / "home.yaml").symlink_to(tmp_path / "made-outside.txt")
    with pytest.raises(FileRefused, match="symbolic link"):
        write_atomic(directory / "home.yaml", "page: home\n")
    assert not (tmp_path / "made-outside.txt").exists()


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_special_file_is_not_replaced(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "home.yaml"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()
    error = finishes(lambda: write_atomic(target, "page: home\n"))
    assert isinstance(error, FileRefused) and "not a regular file" in error.reason
    assert leftovers(tmp_path) == []


def test_a_failed_fsync_keeps_the_old_file_and_removes_the_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "home.yaml"
    target.write_text(OLD)

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError, match="Input/output error"):
        write_atomic(target, "page: home\n" * 100)
    assert target.read_text() == OLD
    assert leftovers(tmp_path) == []


FULL_DISK = """
import resource, signal
from pathlib import Path
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit: EFBIG, as ENOSPC when full
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
target = Path({target!r})
new = "page: home\\n" + "# a long new version\\n" * 400
{write}
"""


def test_a_full_disk_leaves_the_old_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "home.yaml"
    target.write_text(OLD)
    write = "from uiserver.files import write_atomic\nwrite_atomic(target, new)"
    done = run_child(FULL_DISK.format(limit=LIMIT, target=str(target), write=write))
    assert done.returncode == 1 and "File too large" in done.stderr, done.stderr
    assert target.read_text() == OLD
    assert leftovers(tmp_path) == []


def test_the_full_disk_check_is_real_the_old_way_truncates(tmp_path: Path) -> None:
    """What `export` did before (`Path.write_text`): the same limit leaves a half-written file,
    so the test above measures the kernel's refusal, not a simulation."""
    target = tmp_path / "home.yaml"
    target.write_text(OLD)
    done = run_child(
        FULL_DISK.format(limit=LIMIT, target=str(target), write="target.write_text(new)")
    )
    assert done.returncode == 1
    assert target.stat().st_size == LIMIT and target.read_text() != OLD


def test_a_crash_between_write_and_rename_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "home.yaml"
    target.write_text(OLD)
    crash = f"""
import os, signal
from uiserver import files
os.replace = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
files.write_atomic({str(target)!r}, "page: home\\n" * 50)
"""
    done = run_child(crash)
    assert done.returncode == -signal.SIGKILL
    assert target.read_text() == OLD
    # The orphan is hidden and not a document name: no loader reads it.
    [orphan] = leftovers(tmp_path)
    assert orphan.startswith(".home.yaml.")


# --------------------------------------------------------------------------- other readers


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "oversized"])
def test_a_policy_file_that_is_not_a_small_regular_file_is_a_policy_error(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "policy.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "oversized":
        with path.open("wb") as handle:
            handle.truncate(1 << 30)
    else:
        path = Path("/dev/zero")
    error = finishes(lambda: load_policy(path))
    assert isinstance(error, PolicyError), error
    assert "not a regular file" in str(error) or "over the limit" in str(error)


def test_a_jwt_secret_file_that_is_a_fifo_is_refused_without_blocking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UISERVER_JWT_SECRET", raising=False)
    os.mkfifo(tmp_path / SECRET_FILE)
    error = finishes(lambda: resolve_secret(tmp_path, create=True))
    assert isinstance(error, FileRefused) and error.reason == "not a regular file (a FIFO)"
    (tmp_path / SECRET_FILE).unlink()
    secret, created = resolve_secret(tmp_path, create=True)
    assert created and resolve_secret(tmp_path, create=False) == (secret, False)

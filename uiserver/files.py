"""Reading and writing the files people edit (`layouts/`, `components/`, a policy file), safely.

Every file a command or the server reads or writes goes through here:

- `read_limited(path, max_bytes)` reads a regular file of at most `max_bytes` bytes. The size is
  checked before anything is read (`stat`, then `fstat` of the opened descriptor), and at most
  `max_bytes + 1` bytes are read, so a file that grows meanwhile is refused too: a 1 GiB file costs
  no memory. A FIFO, a device (`/dev/zero`), a socket or a directory named `home.yaml` is
  refused without blocking: it is checked before it is opened, and opened with `O_NONBLOCK`
  (a FIFO with no writer would otherwise block `open` forever) and `O_NOCTTY`.
- `write_atomic(path, data)` replaces a file whole or not at all: the bytes go to a temporary file
  in the same directory, which is flushed and `fsync`ed, renamed over the target
  (`os.replace`, atomic on POSIX), and the directory is `fsync`ed so the rename survives a
  crash. On any failure (a full disk: ENOSPC, or EFBIG past a file-size limit) the temporary
  file is removed and the old file is untouched. The last path component must not be a
  symbolic link (refused: writing through it would change a file outside the directory, and
  replacing it would silently turn the link into a file); the directory itself may be one
  (the caller named it). The rename never follows a link that appears after the check.

Both raise `FileRefused` (an `OSError`, so callers that handle I/O errors handle it) naming the
file and the reason; other `OSError`s (permission denied, ENOSPC) pass through.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

# What `stat` says a path is, for the refusal message.
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISLNK, "a symbolic link"),
)
_CHUNK = 64 * 1024
_NEW_FILE_MODE = 0o644


class FileRefused(OSError):
    """A file that is not read or written: `reason` says why (not a regular file, too large,
    a symbolic link to write through). `str()` is "path: reason"."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def kind_of(mode: int) -> str:
    """What a `st_mode` names, for messages: "a FIFO", "a directory", ... or "a regular file"."""
    return next((name for test, name in _KINDS if test(mode)), "a regular file")


def _check(path: Path | str, info: os.stat_result, max_bytes: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(path, f"not a regular file ({kind_of(info.st_mode)})")
    if info.st_size > max_bytes:
        raise FileRefused(path, f"{info.st_size} bytes, over the limit of {max_bytes} bytes")


def read_limited(path: Path | str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes` bytes (symbolic links followed).

    Raises FileRefused for anything else (a special file, a larger or growing file), without
    reading more than `max_bytes + 1` bytes or blocking; OSError when it cannot be opened.
    """
    _check(path, os.stat(path), max_bytes)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        _check(path, os.fstat(fd), max_bytes)  # what was opened, not what was looked at
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > max_bytes:
        raise FileRefused(path, f"grew past the limit of {max_bytes} bytes while being read")
    return b"".join(chunks)


def resolved(path: Path) -> Path:
    """`path.resolve()`, or `path.absolute()` when a symbolic link loop (`a -> b -> a`, ELOOP)
    stops the resolution: Python raises RuntimeError for it before 3.13, OSError after. For
    comparing and showing paths; opening the path is what reports the loop."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return path.absolute()


def _target_mode(directory: int, name: str) -> int:
    """The permission bits the new file gets: the old file's, or 0o644 for a new one."""
    try:
        info = os.stat(name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        return _NEW_FILE_MODE
    if stat.S_ISLNK(info.st_mode):
        raise FileRefused(name, "is a symbolic link: not written through (replace it with a file)")
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(name, f"not a regular file ({kind_of(info.st_mode)}): not replaced")
    return stat.S_IMODE(info.st_mode)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_atomic(path: Path | str, data: bytes | str) -> None:
    """Replace `path` with `data` (str: UTF-8) whole or not at all (see the module docstring).

    Raises FileRefused when `path` is a symbolic link or not a regular file, and OSError when
    writing fails (the old file is kept, the temporary file removed).
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
    directory = os.open(target.parent, flags)
    try:
        try:
            mode = _target_mode(directory, target.name)
        except FileRefused as exc:
            raise FileRefused(target, exc.reason) from None
        temp = f".{target.name}.{secrets.token_hex(6)}.tmp"
        create = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(temp, create, mode, dir_fd=directory)
        try:
            try:
                os.fchmod(fd, mode)  # the umask narrowed the bits open() set
                _write_all(fd, payload)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, target.name, src_dir_fd=directory, dst_dir_fd=directory)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=directory)
            raise
        os.fsync(directory)  # the rename itself is durable
    finally:
        os.close(directory)

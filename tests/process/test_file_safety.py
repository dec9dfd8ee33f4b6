"""The files the commands and the server read and write (issue 27, section 3).

- `uiserver export` never writes through a symbolic link (the page is refused by name, the others
  written, exit 1), and on a full disk leaves the old file whole (a real file-size limit in a
  child process: EFBIG, as ENOSPC; the Redis store keeps the child's only writes the export's).
- `publish`, `validate` and server start check sizes before reading and refuse special files
  without blocking: a 1 GiB file or `/dev/zero` under a 1 GiB address-space limit is a refusal,
  not a MemoryError; a FIFO does not hang them; one bad file is reported and skipped.
"""

from __future__ import annotations

import logging
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import ROOT, SECRET, bearer, free_port, make_app, wait_http
from uiserver.cli import main

pytestmark = pytest.mark.slow

DESIGNER = bearer("dora", "designer")
OLD = "# my comments: keep them\n# (the designer's notes)\npage: home\n"
MEMORY_LIMIT = 1 << 30  # address space of a child: reading 1 GiB whole cannot fit
FILE_SIZE_LIMIT = 1024  # bytes a child may write to a file


def sparse(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)  # no disk, no memory
    return path


def cli(
    *argv: str, memory: int | None = None, file_size: int | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m uiserver.cli ARGV` in a child with optional limits (set before it starts)."""

    def limits() -> None:
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if file_size is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past it fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    env = {k: v for k, v in os.environ.items() if not k.startswith("UISERVER_")}
    env.update(PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    if file_size is not None:  # a child that cannot write files cannot save coverage data
        env.pop("COVERAGE_PROCESS_CONFIG", None)
        env.pop("COVERAGE_PROCESS_START", None)
    return subprocess.run(
        [sys.executable, "-m", "uiserver.cli", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limits,
        check=False,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A store with every shipped page published (the app publishes layouts/ at start)."""
    data = tmp_path / "data"
    with TestClient(make_app(data)):
        pass
    return data


def export(data: Path, target: Path, *pages: str) -> int:
    return main(["export", *pages, "--to", str(target), "--data-dir", str(data)])


# --------------------------------------------------------------------------- export


def test_export_never_writes_through_a_symbolic_link(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("precious, not a template\n")
    target = tmp_path / "layouts"
    target.mkdir()
    (target / "home.yaml").symlink_to(outside)
    assert export(data_dir, target) == 1
    err = capsys.readouterr().err
    assert f"{target / 'home.yaml'}: is a symbolic link" in err
    assert outside.read_text() == "precious, not a template\n"
    assert (target / "home.yaml").is_symlink()
    # The other pages are written.
    assert (target / "cart.yaml").is_file() and not (target / "cart.yaml").is_symlink()


def test_a_page_named_twice_is_exported_once(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "layouts"
    assert export(data_dir, target, "home", "cart", "home") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["home", "cart"], lines


def test_export_through_a_dangling_link_creates_nothing_outside(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "layouts"
    target.mkdir()
    (target / "home.yaml").symlink_to(tmp_path / "elsewhere" / "made.yaml")
    (tmp_path / "elsewhere").mkdir()
    assert export(data_dir, target, "home") == 1
    assert "symbolic link" in capsys.readouterr().err
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_export_refuses_a_link_found_under_another_name(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The file that holds a page is found by its content: a link `main.yml` whose target says
    `page: home` is the home page's file, and is not written through either."""
    outside = tmp_path / "outside.yaml"
    shutil.copy(ROOT / "layouts" / "home.yaml", outside)
    before = outside.read_bytes()
    target = tmp_path / "layouts"
    target.mkdir()
    (target / "main.yml").symlink_to(outside)
    assert export(data_dir, target, "home") == 1
    assert "main.yml: is a symbolic link" in capsys.readouterr().err
    assert outside.read_bytes() == before


def test_export_replaces_a_hard_link_without_writing_into_the_other_name(
    tmp_path: Path, data_dir: Path
) -> None:
    """The rename replaces the directory entry: a file hard-linked from elsewhere keeps its
    bytes (writing in place would have changed both names)."""
    outside = tmp_path / "outside.yaml"
    outside.write_text(OLD)
    target = tmp_path / "layouts"
    target.mkdir()
    os.link(outside, target / "home.yaml")
    assert export(data_dir, target, "home") == 0
    assert outside.read_text() == OLD
    assert "uiserver-base-version" in (target / "home.yaml").read_text()


def test_export_over_a_fifo_is_refused_without_blocking(tmp_path: Path, data_dir: Path) -> None:
    target = tmp_path / "layouts"
    target.mkdir()
    os.mkfifo(target / "home.yaml")
    done = cli("export", "home", "--to", str(target), "--data-dir", str(data_dir), timeout=60)
    assert done.returncode == 1
    assert "not a regular file (a FIFO)" in done.stderr and "Traceback" not in done.stderr


def test_export_into_a_linked_directory_is_allowed(tmp_path: Path, data_dir: Path) -> None:
    """`--to` names the directory; following a link there is what the caller asked for."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "linked").symlink_to(real)
    assert export(data_dir, tmp_path / "linked", "home") == 0
    assert (real / "home.yaml").is_file()


@pytest.mark.redis
def test_export_on_a_full_disk_leaves_the_old_file_whole(tmp_path: Path, redis_url: str) -> None:
    data = tmp_path / "data"
    published = cli(
        "publish", str(ROOT / "layouts" / "home.yaml"), "-m", "live", "--store", redis_url,
        "--data-dir", str(data),
    )  # fmt: skip
    assert published.returncode == 0, published.stderr
    target = tmp_path / "layouts"
    target.mkdir()
    (target / "home.yaml").write_text(OLD)
    done = cli(
        "export", "--to", str(target), "--store", redis_url, "--data-dir", str(data),
        file_size=FILE_SIZE_LIMIT,
    )  # fmt: skip
    assert done.returncode == 1
    assert "home: not written" in done.stderr and "File too large" in done.stderr
    assert "Traceback" not in done.stderr
    assert (target / "home.yaml").read_text() == OLD
    assert [p.name for p in target.iterdir()] == ["home.yaml"]  # no temporary file left


# --------------------------------------------------------------------------- publish


def test_publish_dev_zero_is_a_refusal_not_a_memory_error(tmp_path: Path) -> None:
    done = cli(
        "publish", "/dev/zero", "-m", "x", "--data-dir", str(tmp_path / "data"),
        memory=MEMORY_LIMIT,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr
    assert "/dev/zero: $: not a regular file (a character device)" in done.stdout


def test_publish_an_oversized_file_reads_none_of_it(tmp_path: Path) -> None:
    big = sparse(tmp_path / "home.yaml", 1 << 30)
    done = cli(
        "publish", str(big), "-m", "x", "--data-dir", str(tmp_path / "data"), memory=MEMORY_LIMIT
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "1073741824 bytes, over the limit of 1048576 bytes" in done.stdout


def test_publish_a_fifo_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "home.yaml"
    os.mkfifo(fifo)
    done = cli("publish", str(fifo), "-m", "x", "--data-dir", str(tmp_path / "data"), timeout=60)
    assert done.returncode == 1
    assert "not a regular file (a FIFO)" in done.stdout


def bad_directory(directory: Path) -> Path:
    """One good template beside an oversized file, a FIFO, a directory and a socket named as
    documents; returns the socket's listening object's path."""
    directory.mkdir()
    shutil.copy(ROOT / "layouts" / "cart.yaml", directory / "cart.yaml")
    sparse(directory / "home.yaml", 2 << 20)
    os.mkfifo(directory / "fifo.yaml")
    (directory / "folder.json").mkdir()
    return directory


def test_publish_a_directory_publishes_the_good_files_and_reports_the_bad(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = bad_directory(tmp_path / "layouts")
    data = tmp_path / "data"
    code = main(
        ["publish", str(directory), "-m", "batch", "--data-dir", str(data),
         "--components", str(ROOT / "components")]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 1
    assert out.count("cart: published") == 1
    assert f"{directory / 'home.yaml'}: $: 2097152 bytes, over the limit" in out
    assert f"{directory / 'fifo.yaml'}: $: not a regular file (a FIFO)" in out
    assert f"{directory / 'folder.json'}: $: not a regular file (a directory)" in out
    assert "4 file(s), 3 not published" in err
    with TestClient(make_app(data, publish_layouts_on_start=False)) as client:
        pages = client.get("/v1/admin/templates", headers=DESIGNER).json()
    assert [p["page"] for p in pages] == ["cart"]


def test_publish_skips_a_bad_component_file_and_publishes_what_does_not_need_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    components = tmp_path / "components"
    shutil.copytree(ROOT / "components", components)
    sparse(components / "huge.yaml", 2 << 20)
    code = main(
        ["publish", str(ROOT / "layouts" / "cart.yaml"), "-m", "x", "--data-dir",
         str(tmp_path / "data"), "--components", str(components)]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0 and "cart: published" in out
    assert f"{components / 'huge.yaml'}: $: 2097152 bytes, over the limit" in err


# --------------------------------------------------------------------------- validate


def test_validate_a_1_gib_file_reads_none_of_it(tmp_path: Path) -> None:
    big = sparse(tmp_path / "home.yaml", 1 << 30)
    done = cli("validate", str(big), memory=MEMORY_LIMIT)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{big}: $: 1073741824 bytes, over the limit of 1048576 bytes" in done.stdout


def test_validate_reports_every_special_file_and_exits_non_zero(tmp_path: Path) -> None:
    directory = bad_directory(tmp_path / "layouts")
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(directory / "sock.yaml"))
        done = cli("validate", str(directory), timeout=60)
    assert done.returncode == 1
    reported = {
        line.split(": ")[0].rpartition("/")[2]: line.split(": ", 2)[2]
        for line in done.stdout.splitlines()
    }
    assert reported == {
        "fifo.yaml": "not a regular file (a FIFO)",
        "folder.json": "not a regular file (a directory)",
        "home.yaml": "2097152 bytes, over the limit of 1048576 bytes",
        "sock.yaml": "not a regular file (a socket)",
    }
    assert "5 files checked, 4 problems" in done.stderr


def test_validate_a_fifo_named_directly_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "cart.yaml"
    os.mkfifo(fifo)
    done = cli("validate", str(fifo), timeout=60)
    assert done.returncode == 1 and "not a regular file (a FIFO)" in done.stdout


# --------------------------------------------------------------------------- server start


def broken_files(tmp_path: Path) -> tuple[Path, Path]:
    """Copies of the shipped layouts/ and components/, each with bad files among the good."""
    layouts = tmp_path / "layouts"
    components = tmp_path / "components"
    shutil.copytree(ROOT / "layouts", layouts)
    shutil.copytree(ROOT / "components", components)
    sparse(layouts / "zz-big.yaml", 1 << 30)
    os.mkfifo(layouts / "pipe.yaml")
    (layouts / "folder.yaml").mkdir()
    sparse(components / "huge.yaml", 2 << 20)
    os.mkfifo(components / "pipe.json")
    return layouts, components


def test_the_server_starts_without_its_bad_files_and_says_which(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    layouts, components = broken_files(tmp_path)
    app = make_app(tmp_path / "data", layouts_dir=layouts, components_dir=components)
    with caplog.at_level(logging.ERROR, logger="uiserver"), TestClient(app) as client:
        assert client.get("/v1/layouts/home").status_code == 200
        ready = client.get("/readyz")
    assert ready.status_code == 200
    errors = {Path(e["file"]).name: e["message"] for e in ready.json()["file_errors"]}
    assert errors == {
        "zz-big.yaml": "1073741824 bytes, over the limit of 1048576 bytes",
        "pipe.yaml": "not a regular file (a FIFO)",
        "folder.yaml": "not a regular file (a directory)",
        "huge.yaml": "2097152 bytes, over the limit of 1048576 bytes",
        "pipe.json": "not a regular file (a FIFO)",
    }
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert all(name in logged for name in errors)


@pytest.fixture
def serving_broken_files(tmp_path: Path) -> Iterator[str]:
    layouts, components = broken_files(tmp_path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UISERVER_")}
    env.update(UISERVER_JWT_SECRET=SECRET, PYTHONPATH=str(ROOT))
    log = (tmp_path / "serve.log").open("wb")
    # The whole server under the address-space limit: reading the 1 GiB file would not fit.
    proc = subprocess.Popen(
        [sys.executable, "-m", "uiserver.cli", "serve", "--port", str(port), "--data-dir",
         str(tmp_path / "data"), "--layouts", str(layouts), "--components", str(components)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30)),
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        assert "zz-big.yaml" in (tmp_path / "serve.log").read_text(errors="replace")


def test_a_real_server_serves_the_good_pages_beside_a_1_gib_file(serving_broken_files: str) -> None:
    import httpx

    with httpx.Client(base_url=serving_broken_files) as http:
        assert http.get("/v1/layouts/home").status_code == 200
        assert http.get("/v1/layouts/cart").status_code == 200
        ready = http.get("/readyz").json()
    assert ready["ready"] is True
    assert {Path(e["file"]).name for e in ready["file_errors"]} == {
        "zz-big.yaml",
        "pipe.yaml",
        "folder.yaml",
        "huge.yaml",
        "pipe.json",
    }

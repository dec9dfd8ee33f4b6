"""Files and console in sync: start-up never publishes a file over a console publish (a WARNING
and /readyz say so), `uiserver export` writes the console's version into the file keeping its
comments and order, and `uiserver publish FILE --force` overrides."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import ROOT, bearer, make_app
from uiserver.catalog import load_template_file, template_version
from uiserver.cli import main
from uiserver.publishing.filesync import FILE_AUTHOR

DESIGNER = bearer("dora", "designer")
CART = "/v1/admin/templates/cart"


@pytest.fixture
def layouts(tmp_path: Path) -> Path:
    directory = tmp_path / "layouts"
    shutil.copytree(ROOT / "layouts", directory)
    return directory


def start(tmp_path: Path, layouts: Path) -> TestClient:
    return TestClient(make_app(tmp_path / "data", layouts_dir=layouts))


def retitle(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def console_publish(client: TestClient, title: str) -> str:
    body = client.get(CART, headers=DESIGNER).json()
    template = {**body["template"], "title": title}
    response = client.post(
        f"{CART}/publish",
        headers=DESIGNER,
        json={"template": template, "message": "from the console"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["version"])


def live_version(client: TestClient) -> str:
    return str(client.get(CART, headers=DESIGNER).json()["live_version"])


def test_a_changed_file_never_overwrites_a_console_publish(
    tmp_path: Path, layouts: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cart = layouts / "cart.yaml"
    with start(tmp_path, layouts) as client:
        console = console_publish(client, "Cart (console)")
    retitle(cart, 'title: "购物车 Cart"', 'title: "购物车 Cart (git)"')
    file_version = template_version(load_template_file(cart))
    with caplog.at_level(logging.WARNING, logger="uiserver"), start(tmp_path, layouts) as client:
        assert live_version(client) == console
        ready = client.get("/readyz").json()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("cart" in m and console in m and file_version in m for m in warnings), warnings
    assert ready["ready"] is True
    assert [
        (c["page"], c["live_version"], c["file_version"], c["reason"])
        for c in ready["file_conflicts"]
    ] == [("cart", console, file_version, "console")]

    # The explicit override, from a shell.
    data = str(tmp_path / "data")
    assert main(["publish", str(cart), "-m", "git wins", "--data-dir", data]) == 1
    assert main(["publish", str(cart), "-m", "git wins", "--data-dir", data, "--force"]) == 0
    with start(tmp_path, layouts) as client:
        assert live_version(client) == file_version
        assert client.get("/readyz").json()["file_conflicts"] == []


def test_export_brings_the_console_version_into_the_file_and_later_edits_publish(
    tmp_path: Path, layouts: Path
) -> None:
    cart = layouts / "cart.yaml"
    before = cart.read_text(encoding="utf-8")
    with start(tmp_path, layouts) as client:
        console = console_publish(client, "购物车 Cart (console)")

    assert main(["export", "cart", "--to", str(layouts), "--data-dir", str(tmp_path / "data")]) == 0
    after = cart.read_text(encoding="utf-8")
    assert after.splitlines()[0].startswith(f"# uiserver-base-version: {console}")
    assert template_version(load_template_file(cart)) == console
    # Only the marker and the title changed: comments, order, quoting and flow style stay.
    changed = [
        (a, b) for a, b in zip(before.splitlines(), after.splitlines()[1:], strict=False) if a != b
    ]
    assert changed == [('title: "购物车 Cart"', 'title: "购物车 Cart (console)"')]
    assert len(after.splitlines()) == len(before.splitlines()) + 1

    retitle(cart, "(console)", "(console, then git)")
    edited = template_version(load_template_file(cart))
    with start(tmp_path, layouts) as client:  # the file descends from the live version
        assert live_version(client) == edited
        assert client.get("/readyz").json()["file_conflicts"] == []
        history = client.get(f"{CART}/history", headers=DESIGNER).json()["versions"]
        assert history[0]["author"] == FILE_AUTHOR

    retitle(cart, "then git", "then git again")  # the live version came from the files
    with start(tmp_path, layouts) as client:
        assert live_version(client) == template_version(load_template_file(cart))


def test_an_unchanged_file_keeps_the_console_version_quietly(tmp_path: Path, layouts: Path) -> None:
    with start(tmp_path, layouts) as client:
        console = console_publish(client, "Cart (console)")
    with start(tmp_path, layouts) as client:
        assert live_version(client) == console
        assert client.get("/readyz").json()["file_conflicts"] == []


def test_export_writes_a_new_file_for_a_page_without_one(tmp_path: Path, layouts: Path) -> None:
    with start(tmp_path, layouts) as client:
        version = live_version(client)
    target = tmp_path / "out"
    assert main(["export", "--to", str(target), "--data-dir", str(tmp_path / "data")]) == 0
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in layouts.iterdir())
    assert template_version(load_template_file(target / "cart.yaml")) == version
    assert (
        main(["export", "nowhere", "--to", str(target), "--data-dir", str(tmp_path / "data")]) == 1
    )


def test_export_refuses_a_data_dir_without_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It exported nothing from a new, empty store made at the mistyped --data-dir (exit 0);
    # a --store that is not a store URL was a traceback.
    typo = tmp_path / "dta"
    assert main(["export", "--to", str(tmp_path / "out"), "--data-dir", str(typo)]) == 2
    assert "no store in" in capsys.readouterr().err
    assert not (typo / "uiserver.db").exists()
    for store in ("bogus://x", "redis+sentinel://x"):
        assert main(["export", "--data-dir", str(tmp_path), "--store", store]) == 2
        assert store in capsys.readouterr().err

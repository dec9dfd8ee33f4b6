"""`uiserver publish FILE --message ...`: the same lint and history as the console's button."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import ROOT, bearer, make_app
from uiserver.cli import main

DESIGNER = bearer("dora", "designer")


def publish(tmp_path: Path, file: Path, message: str = "from the shell") -> int:
    return main(
        [
            "publish",
            str(file),
            "--message",
            message,
            "--author",
            "carol",
            "--data-dir",
            str(tmp_path / "data"),
            "--components",
            str(ROOT / "components"),
        ]
    )


def history(tmp_path: Path) -> list[dict[str, object]]:
    app = make_app(tmp_path / "data", publish_layouts_on_start=False)
    with TestClient(app) as client:
        response = client.get("/v1/admin/templates/cart/history", headers=DESIGNER)
        if response.status_code == 404:
            return []
        versions: list[dict[str, object]] = response.json()["versions"]
        return versions


def test_publish_prints_the_version_and_records_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert publish(tmp_path, ROOT / "layouts" / "cart.yaml") == 0
    first = capsys.readouterr().out
    assert first.startswith("cart: published ")
    changed = tmp_path / "cart.yaml"
    changed.write_text(
        (ROOT / "layouts" / "cart.yaml")
        .read_text(encoding="utf-8")
        .replace('label: "购物车 Cart"', 'label: "购物车 My cart"', 1),
        encoding="utf-8",
    )
    assert publish(tmp_path, changed, "rename the header") == 0
    out = capsys.readouterr().out
    versions = history(tmp_path)
    assert [v["message"] for v in versions] == ["rename the header", "from the shell"]
    assert versions[0]["author"] == "carol" and versions[0]["live"] is True
    assert str(versions[0]["version"]) in out and "#2" in out
    # Publishing the live content again is a no-op, not a new version.
    assert publish(tmp_path, changed) == 0
    assert "already live" in capsys.readouterr().out
    assert len(history(tmp_path)) == 2


def test_refused_file_prints_problems_and_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "cart.yaml"
    bad.write_text(
        (ROOT / "layouts" / "cart.yaml")
        .read_text(encoding="utf-8")
        .replace('text: "#1F1F1F"', 'text: "#BBBBBB"', 1),
        encoding="utf-8",
    )
    assert publish(tmp_path, bad) == 1
    captured = capsys.readouterr()
    assert f"{bad}: theme.palette.text: " in captured.out and "contrast" in captured.out
    assert "refused" in captured.err
    assert history(tmp_path) == []


def test_missing_file_and_empty_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert publish(tmp_path, tmp_path / "nope.yaml") == 1
    assert "nope.yaml" in capsys.readouterr().out
    assert publish(tmp_path, ROOT / "layouts" / "cart.yaml", "  ") == 2

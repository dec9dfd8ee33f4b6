"""`uiserver publish FILE --message ...`: the same lint and history as the console's button."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import ROOT, bearer, make_app
from uiserver.cli import main
from uiserver.store.base import TemplateStore

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


def test_a_page_defined_twice_in_a_directory_publishes_its_first_file_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cart.json` beside `cart.yaml`: the first by name is published, the second refused
    naming the first (as `serve` keeps the first and `validate` refuses the pair). Both were
    published in turn: two versions, the last file's live, and exit 0."""
    directory = tmp_path / "layouts"
    directory.mkdir()
    text = (ROOT / "layouts" / "cart.yaml").read_text(encoding="utf-8")
    (directory / "cart.yaml").write_text(text, encoding="utf-8")
    document = msgspec.yaml.decode(text.encode())
    document["title"] = "Cart, as JSON"
    (directory / "cart.json").write_bytes(msgspec.json.encode(document))
    assert publish(tmp_path, directory) == 1
    captured = capsys.readouterr()
    assert f"{directory / 'cart.yaml'}: page: page 'cart' is also defined in " in captured.out
    assert "2 file(s), 1 not published" in captured.err
    versions = history(tmp_path)
    assert len(versions) == 1 and versions[0]["live"] is True
    app = make_app(tmp_path / "data", publish_layouts_on_start=False)
    with TestClient(app) as client:
        live = client.get("/v1/admin/templates/cart", headers=DESIGNER).json()
    assert live["template"]["title"] == "Cart, as JSON"


def test_a_directory_without_templates_exits_2_and_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "notes.txt").write_text("not a template", encoding="utf-8")
    (wrong / ".hidden.yaml").write_text("page: cart", encoding="utf-8")
    for directory in (empty, wrong):
        assert publish(tmp_path, directory) == 2
        err = capsys.readouterr().err
        assert f"no template files (*.yaml, *.yml, *.json) in {directory}" in err
        assert "0 file(s)" not in err
    assert not (tmp_path / "data").exists()


def test_a_console_publish_landing_after_the_decision_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command publishes over the live version `decide` saw: a console publish from another
    replica that lands between the decision and the write is refused as a stale base (exit 1),
    never overwritten."""
    import uiserver.commands.publish as command
    from uiserver.catalog import load_template_file, template_to_json, template_version
    from uiserver.publishing.filesync import decide

    assert publish(tmp_path, ROOT / "layouts" / "cart.yaml") == 0
    shipped = load_template_file(ROOT / "layouts" / "cart.yaml")
    console = msgspec.structs.replace(shipped, title=shipped.title + " (console)")

    async def decide_then_console_publishes(templates: TemplateStore, *args: Any) -> Any:
        decision = await decide(templates, *args)
        document = template_to_json(console)
        await templates.publish("cart", template_version(console), document, "ann", "console", 2.0)
        return decision

    monkeypatch.setattr(command, "decide", decide_then_console_publishes)
    changed = tmp_path / "cart.yaml"
    changed.write_text(
        (ROOT / "layouts" / "cart.yaml")
        .read_text(encoding="utf-8")
        .replace('label: "购物车 Cart"', 'label: "购物车 My cart"', 1),
        encoding="utf-8",
    )
    assert publish(tmp_path, changed, "from git") == 1
    assert "uiserver publish:" in capsys.readouterr().err
    assert [v["message"] for v in history(tmp_path)] == ["console", "from the shell"]


def test_a_file_that_is_not_utf8_is_refused_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "home.yaml"
    broken.write_bytes(b"page: home\ntitle: \xff\xfe\n")
    assert publish(tmp_path, broken) == 1
    printed = capsys.readouterr()
    assert "not valid YAML" in printed.out and "refused" in printed.err
    assert history(tmp_path) == []


def test_the_component_catalogue_is_not_published_as_templates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `uiserver publish components -m ...` refused each of the 43 catalogue entries as a
    # template, exit 1, never saying it had been given the catalogue.
    for given in (ROOT / "components", ROOT / "components" / "search_bar.yaml"):
        catalogue = str(ROOT / "components")
        data = str(tmp_path / "data")
        code = main(
            ["publish", str(given), "-m", "x", "--components", catalogue, "--data-dir", data]
        )
        assert code == 2
        err = capsys.readouterr().err
        assert "is in the component catalogue" in err and "refused" not in err
    assert not (tmp_path / "data").exists()

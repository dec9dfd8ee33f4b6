"""`uiserver validate`: the shipped files pass, each broken file fails with its field path.

Broken files live in `tests/data/broken/`; each names the fields it must be reported at in
`# expect: FIELD` comment lines (a JSON file keeps them in a `.expect` file beside it), so a new
case is a new file, not new test code.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from uiserver.cli import main

REPO = Path(__file__).resolve().parents[2]
BROKEN = REPO / "tests" / "data" / "broken"
EXPECT = re.compile(r"^#\s*expect:\s*(\S+)\s*$", re.MULTILINE)
LINE = re.compile(r"^(?P<file>.+?): (?P<field>\S+): (?P<message>.+)$")


def _broken_files() -> list[Path]:
    files = [*BROKEN.glob("*.yaml"), *BROKEN.glob("*.json"), *BROKEN.glob("components/*.yaml")]
    return sorted(files)


def _expected_fields(path: Path) -> set[str]:
    sidecar = path.with_suffix(".expect")
    source = sidecar if sidecar.exists() else path
    fields = set(EXPECT.findall(source.read_text(encoding="utf-8")))
    assert fields, f"{path.name} says nowhere which field must be reported"
    return fields


def _reported(stdout: str) -> list[tuple[str, str, str]]:
    rows = []
    for line in stdout.splitlines():
        match = LINE.match(line)
        assert match, f"not a `file: field: message` line: {line!r}"
        rows.append((match["file"], match["field"], match["message"]))
    return rows


def _run(*argv: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("UISERVER_LAYOUTS", None)
    env.pop("UISERVER_COMPONENTS", None)
    return subprocess.run(
        [sys.executable, "-m", "uiserver.cli", "validate", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_shipped_files_validate_clean() -> None:
    result = _run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "0 problems" in result.stderr


def test_shipped_files_validate_clean_from_another_directory(tmp_path: Path) -> None:
    """Outside the repo, validate falls back to the catalogue and layouts shipped beside it."""
    result = _run(cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    checked = int(result.stderr.split()[0])
    shipped = len(list((REPO / "components").glob("*.yaml"))) + len(
        list((REPO / "layouts").glob("*.yaml"))
    )
    assert checked == shipped


@pytest.mark.parametrize(
    "path", [pytest.param(p, id=p.relative_to(BROKEN).as_posix()) for p in _broken_files()]
)
def test_broken_file_is_reported_at_its_field(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["validate", str(path)])
    out = capsys.readouterr().out
    rows = _reported(out)
    assert code == 1, out
    assert {field for _, field, _ in rows} == _expected_fields(path), out
    assert all(file.endswith(path.name) for file, _, _ in rows), out
    assert all(message.strip() for _, _, message in rows), out


def test_directory_of_broken_templates_fails_once_per_problem_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["validate", str(BROKEN)])
    rows = _reported(capsys.readouterr().out)
    assert code == 1
    reported = {Path(file).name for file, _, _ in rows}
    templates = {p.name for p in _broken_files() if p.parent == BROKEN}
    assert reported == templates


def test_subprocess_exit_code_and_output_for_a_broken_file() -> None:
    result = _run(str(BROKEN / "low_contrast.yaml"))
    assert result.returncode == 1
    (row,) = _reported(result.stdout)
    assert row[1] == "theme.palette.muted"
    assert "#777777" in row[2]
    assert "1 problem" in result.stderr


def test_layouts_directory_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no paths, `UISERVER_LAYOUTS` names the templates to check."""
    layouts = tmp_path / "layouts"
    layouts.mkdir()
    broken = (BROKEN / "missing_label.yaml").read_bytes()
    (layouts / "missing_label.yaml").write_bytes(broken)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UISERVER_LAYOUTS", str(layouts))
    monkeypatch.setenv("UISERVER_COMPONENTS", str(REPO / "components"))
    code = main(["validate"])
    rows = _reported(capsys.readouterr().out)
    assert code == 1
    assert [(Path(f).name, field) for f, field, _ in rows] == [
        ("missing_label.yaml", "components[1].label")
    ]


def test_a_broken_catalogue_is_reported_with_the_templates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A template that uses a type whose file is broken reports both, not a bare 'unknown'."""
    components = tmp_path / "components"
    components.mkdir()
    for name in ("search_bar", "voice_nav_entry"):
        (components / f"{name}.yaml").write_bytes(
            (REPO / "components" / f"{name}.yaml").read_bytes()
        )
    (components / "search_bar.yaml").write_text(
        (components / "search_bar.yaml").read_text() + "colour: red\n"
    )
    code = main(["validate", "--components", str(components), str(BROKEN / "blank_label.yaml")])
    rows = _reported(capsys.readouterr().out)
    assert code == 1
    assert ("search_bar.yaml", "colour") in {(Path(f).name, field) for f, field, _ in rows}
    assert ("blank_label.yaml", "components[0].type") in {
        (Path(f).name, field) for f, field, _ in rows
    }


def test_missing_path_is_a_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", str(tmp_path / "nope.yaml")])
    assert code == 1
    assert "nope.yaml: $:" in capsys.readouterr().out


def test_a_file_named_twice_is_checked_once(capsys: pytest.CaptureFixture[str]) -> None:
    """Named twice, however spelt, or with its directory: one file, and not a page "also
    defined" in itself (it was 2 files checked, 1 problem, exit 1)."""
    home = REPO / "layouts" / "home.yaml"
    spellings = [str(home), os.path.relpath(home), str(home.parent / ".." / "layouts" / home.name)]
    assert main(["validate", *spellings, str(home.parent)]) == 0, capsys.readouterr().out
    captured = capsys.readouterr()
    assert captured.out == ""
    shipped = len(list(home.parent.glob("*.yaml")))
    assert f"{shipped} files checked, 0 problems" in captured.err


# Symbolic link loops (issue 27 section 3, a sibling): `Path.resolve()` raises RuntimeError on
# a loop (Python < 3.13), which `validate` called on every path; each is a reported problem.


def _loop(directory: Path, name: str) -> Path:
    """`name` -> `name.2` -> `name`: a two-link loop in `directory`."""
    (directory / f"{name}.2").symlink_to(name)
    (directory / name).symlink_to(f"{name}.2")
    return directory / name


def test_a_symbolic_link_loop_in_a_directory_is_a_problem_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layouts = tmp_path / "layouts"
    layouts.mkdir()
    (layouts / "home.yaml").write_bytes((REPO / "layouts" / "home.yaml").read_bytes())
    _loop(layouts, "cart.yaml")
    code = main(["validate", str(layouts)])
    out = capsys.readouterr().out
    assert code == 1
    assert {Path(f).name for f, _, _ in _reported(out)} == {"cart.yaml"}
    assert "symbolic link" in out


@pytest.mark.parametrize("name", ["loop.yaml", "loopdir"])
def test_a_symbolic_link_loop_named_directly_is_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    loop = _loop(tmp_path, name)
    code = main(["validate", str(loop)])
    assert code == 1
    assert f"{name}: $:" in capsys.readouterr().out


def test_a_directory_linked_to_itself_is_read_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layouts = tmp_path / "layouts"
    layouts.mkdir()
    (layouts / "self").symlink_to(".")
    (layouts / "self.yaml").symlink_to(".")  # a directory link named like a document
    code = main(["validate", str(layouts / "self" / "self"), str(layouts)])
    out = capsys.readouterr().out
    assert code == 1
    assert "not a regular file (a directory)" in out


def test_a_components_directory_that_is_a_loop_is_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    components = _loop(tmp_path, "components")
    code = main(["validate", "--components", str(components), str(REPO / "layouts" / "home.yaml")])
    assert code == 1
    assert "home.yaml: " in capsys.readouterr().out

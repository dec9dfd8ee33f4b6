"""`uiserver --help` describes the tool, every command and option has help text, and `serve`
says where the designer console is and how to get a token to sign in (issue 23)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from uiserver.cli import build_parser, main, revoke_parser
from uiserver.commands.serve import console_banner


def options(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.Action]]:
    """Every (command path, action) of the parser and its subcommands."""
    found: list[tuple[str, argparse.Action]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += [(f"{name} {p}".strip(), a) for p, a in options(child)]
        elif not isinstance(action, argparse._HelpAction):
            found.append(("", action))
    return found


def test_every_command_and_option_has_help() -> None:
    parser = build_parser()
    missing = [
        f"{where} {action.dest}"
        for where, action in options(parser) + options(revoke_parser())
        if not action.help or action.help == argparse.SUPPRESS
    ]
    assert missing == []
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in commands._choices_actions}
    assert set(helps) == set(commands.choices) and all(helps.values())


def test_top_level_help_describes_the_tool(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "the parser and the dispatch" not in out
    assert "adaptive, accessible page layouts" in out
    assert "/designer/" in out and "--role designer" in out
    for command in ("serve", "token", "validate", "publish", "export", "bench"):
        assert command in out


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000/designer/"),
        ("0.0.0.0", "http://localhost:8000/designer/"),
        ("::1", "http://[::1]:8000/designer/"),
    ],
)
def test_serve_banner_names_the_console_and_the_token_command(host: str, url: str) -> None:
    banner = console_banner(host, 8000, Path("/srv/ui"))
    assert url in banner
    assert "uiserver token YOUR_NAME --role designer --data-dir /srv/ui" in banner


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_serve_start_lines_follow_the_log_format(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    log_format: str,
) -> None:
    """README: with `--log-format json` every line on stderr is one JSON object, "the server's own
    lines too": the first run's "created a JWT secret" notice was plain text before."""
    for name in ("UISERVER_JWT_SECRET", "UISERVER_DATA_DIR", "UISERVER_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    for name in ("UISERVER_LAYOUTS", "UISERVER_COMPONENTS", "UISERVER_STORE", "UISERVER_LOG_LEVEL"):
        monkeypatch.setenv(name, "")  # serve exports these; monkeypatch restores them after
    monkeypatch.setattr("uiserver.commands.serve._run_uvicorn", lambda *_: None)
    monkeypatch.setattr("uiserver.commands.serve._run_granian", lambda *_: None)
    data_dir = tmp_path / "data"
    assert main(["serve", "--data-dir", str(data_dir), "--log-format", log_format]) == 0
    err = capsys.readouterr().err
    assert "created a JWT secret" in err
    if log_format == "json":
        records = [json.loads(line) for line in err.splitlines()]  # every line is JSON
        assert records[0]["logger"] == "uiserver" and records[0]["level"] == "INFO"
        assert str(data_dir / "jwt-secret") in records[0]["message"]
    else:
        assert err.startswith(f"uiserver: created a JWT secret in {data_dir / 'jwt-secret'}")
        assert "designer console at" in err


# `pip install -e .` (the README's quick start) installs no `bench` extras: a fresh interpreter
# where they cannot be imported (a None in sys.modules is how Python spells "not installed" to
# both `import` and `importlib.util.find_spec`).
WITHOUT_EXTRAS = (
    "import sys\n"
    "sys.modules['matplotlib'] = sys.modules['locust'] = None\n"
    "from uiserver.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def without_bench_extras(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_bench_help_works_without_the_bench_extras() -> None:
    # Was a traceback: loadtests/report.py imported matplotlib at import time.
    done = without_bench_extras("bench", "--help")
    assert done.returncode == 0, done.stderr
    assert "--users" in done.stdout and "--duration" in done.stdout
    assert done.stdout.startswith("usage: uiserver bench ")  # was "usage: loadtests/run.py"
    assert "Traceback" not in done.stderr


def test_a_bench_run_without_the_extras_says_what_to_install() -> None:
    done = without_bench_extras("bench", "--users", "2", "--duration", "1s")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "locust, matplotlib not installed" in done.stderr
    assert "pip install -e '.[bench]'" in done.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "--components", "{missing}"],
        ["publish", "layouts/home.yaml", "-m", "x", "--components", "{missing}"],
        ["assess", "home", "--components", "{missing}"],
        ["assess", "home", "--layouts", "{missing}"],
    ],
    ids=["validate", "publish", "assess-components", "assess-layouts"],
)
def test_a_missing_catalogue_or_layouts_directory_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    # validate read it as an empty catalogue: 111 "unknown component type" problems for the
    # shipped pages, never the mistyped path (publish the same; assess named the first type).
    missing = tmp_path / "componnets"
    args = [a.replace("{missing}", str(missing)) for a in argv]
    args += ["--data-dir", str(tmp_path / "data")] if argv[0] == "publish" else []
    assert main(args) == 2
    err = capsys.readouterr().err
    option = argv[argv.index("{missing}") - 1]
    assert f"uiserver {argv[0]}: {option} {missing}: no such directory" in err
    assert "unknown component type" not in err
    assert not (tmp_path / "data").exists()

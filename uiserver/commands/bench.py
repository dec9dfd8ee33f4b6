"""`uiserver bench ...`: the benchmark runner `loadtests.run`, with the same options.

The runner lives beside the package (it drives locust, wrk and nginx, none of which the server
needs), so this puts the source checkout that holds `loadtests/` on the import path and calls
`loadtests.run.main` with the arguments.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

import uiserver


def checkout_dir() -> Path:
    """The directory holding `uiserver/` and, in a source checkout, `loadtests/`."""
    return Path(uiserver.__file__).resolve().parent.parent


# What a run imports from the `bench` extras (pyproject.toml); httpx and granian are in the base
# install. `--help` needs none of them.
EXTRAS = ("locust", "matplotlib")
INSTALL = "pip install -e '.[bench]'"


def missing_extras() -> list[str]:
    """The `bench` extras' modules this interpreter cannot import, in `EXTRAS` order."""
    return [name for name in EXTRAS if importlib.util.find_spec(name) is None]


def run(args: argparse.Namespace) -> int:
    """The runner's exit code; 2 when `loadtests/` is not there (an installed wheel) or the
    `bench` extras are not installed (the message names the missing modules and the install
    command; `--help` works without them)."""
    root = checkout_dir()
    if not (root / "loadtests" / "run.py").exists():
        print(
            f"uiserver bench: {root / 'loadtests' / 'run.py'} not found; the benchmark ships "
            "with the source checkout (pip install -e .[bench])",
            file=sys.stderr,
        )
        return 2
    if str(root) not in sys.path[:1]:
        sys.path.insert(0, str(root))  # this checkout's loadtests (and uiserver) first
    bench_args = list(args.bench_args)
    if bench_args[:1] == ["--"]:
        bench_args = bench_args[1:]
    missing = [] if {"-h", "--help"} & set(bench_args) else missing_extras()
    if missing:
        print(
            f"uiserver bench: needs the bench extras ({', '.join(missing)} not installed): "
            f"{INSTALL} in {root}",
            file=sys.stderr,
        )
        return 2
    runner = importlib.import_module("loadtests.run")
    return int(runner.main(bench_args, prog="uiserver bench"))

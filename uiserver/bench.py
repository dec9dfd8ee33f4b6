"""`uiserver bench ...`: the benchmark runner in `loadtests/run.py`, with the same options.

The runner lives beside the package (it drives locust, wrk and nginx, none of which the server
needs), so this finds `loadtests/` next to the installed source and hands it the arguments.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import uiserver


def loadtests_dir() -> Path:
    return Path(uiserver.__file__).resolve().parent.parent / "loadtests"


def run_bench(args: argparse.Namespace) -> int:
    folder = loadtests_dir()
    if not (folder / "run.py").exists():
        print(f"uiserver bench: {folder / 'run.py'} not found; the benchmark ships with the "
              "source checkout (pip install -e .[bench])", file=sys.stderr)
        return 2
    for path in (folder.parent, folder):  # the checkout beside loadtests/, first
        if str(path) not in sys.path[:2]:
            sys.path.insert(0, str(path))
    runner = importlib.import_module("run")
    bench_args = list(args.bench_args)
    if bench_args[:1] == ["--"]:
        bench_args = bench_args[1:]
    return int(runner.main(bench_args))

"""The whole benchmark path in CI: `uiserver bench --smoke` (loadtests/run.py) as a process.

A few seconds of 20 simulated clients on a 200-user store, then the report. It checks what
must hold on any machine — no failed request, settings changes and publishes made under load
and reflected at once, the report files written — and no timing figure at all: CI machines
are too noisy for thresholds, which the report states as measurements instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loadtests.firstlaunch import pyspy_available
from tests.helpers.app import ROOT
from uiserver.config import DEFAULT_SERVER

pytestmark = pytest.mark.slow


def test_bench_extras_are_installed() -> None:
    """Looked up, not imported (importing locust monkey-patches this process with gevent); a
    missing extra fails here instead of silently skipping the smoke run."""
    missing = [
        m for m in ("locust", "matplotlib", "granian") if importlib.util.find_spec(m) is None
    ]
    missing += [
        tool
        for tool in ("wrk", "nginx", "redis-server")
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()
    ]
    if not pyspy_available():  # the runner's own look-up: beside sys.executable, else PATH
        missing.append("py-spy")
    assert not missing, f"install the bench extras (pip install -e .[bench]): {missing}"


Run = tuple[Path, dict[str, Any], str]  # (out dir, stats.json, the report)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("bench") / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UISERVER_", "LOADTEST_"))}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "uiserver.cli",
            "bench",
            "--users",
            "20",
            "--spawn-rate",
            "20",
            "--duration",
            "5s",
            "--population",
            "200",
            "--smoke",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    log = done.stdout[-4000:] + done.stderr[-4000:]
    assert done.returncode == 0, log
    return out, json.loads((out / "stats.json").read_text()), log


def test_no_request_failed(smoke_run: Run) -> None:
    _, stats, log = smoke_run
    aggregated = stats["locust"]["aggregated"]
    assert aggregated["requests"] > 0, log
    assert aggregated["failures"] == 0, stats["locust"]["failures"]


def test_settings_changes_reflected_in_next_layout(
    smoke_run: Run,
) -> None:
    checks = smoke_run[1]["checks"]
    assert checks.get("settings_changes", 0) > 0, checks
    assert checks.get("settings_verified", 0) > 0, checks
    assert checks.get("settings_mismatches", 0) == 0, checks


def test_publishes_served_at_once(smoke_run: Run) -> None:
    checks = smoke_run[1]["checks"]
    assert checks.get("publishes", 0) > 0, checks
    assert checks.get("publishes_verified", 0) > 0, checks
    assert checks.get("publish_mismatches", 0) == 0, checks


def test_launches_revalidate_with_stored_etag(smoke_run: Run) -> None:
    checks = smoke_run[1]["checks"]
    assert checks.get("launches", 0) > 0 and checks.get("not_modified", 0) > 0, checks


def test_report_files_written(smoke_run: Run) -> None:
    out, stats, _ = smoke_run
    report = (out / "report.md").read_text()
    assert "Headline" in report and stats["pinning"] in report
    # the server measured is the one `uiserver serve` runs by default, and the report says so
    assert stats["settings"]["server"] == DEFAULT_SERVER
    assert f"`uiserver serve --server {DEFAULT_SERVER}`" in report
    # the engine micro-benchmark ran beside the seeding (pinned), its figures kept
    assert "seeded the store" in stats["engine"]["when"] and stats["engine"]["result"]
    assert set(stats["phase_seconds"]) >= {"seeding", "baselines", "locust", "report"}
    assert list(out.glob("*.png")), "no plot written"
    assert stats["headline"], "no ratio or target line"


# Users seeded into each ladder store. The first-launch runs take never-seen users, sized at
# GUESS_RPS (8,000/s) until measured and scaled down to what the store holds (`fresh_scale`):
# 40,000 gives each 1 s first-launch run ~4,900 of them, twice the best first-launch rate
# measured (2,397/s, one quiet-machine round in docs/BENCHMARKS.md), so none repeats (a WARNING
# the test refuses), and the four profiles' slices still fit after; 80,000 seeded twice as many
# for nothing (~10 s of seeding on 2 busy cores).
LADDER_USERS = 40_000


@pytest.fixture(scope="module")
def ladder_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """`uiserver bench --ladder-only --smoke`: every rung for a second, on small stores."""
    out = tmp_path_factory.mktemp("ladder") / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UISERVER_", "LOADTEST_"))}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "uiserver.cli",
            "bench",
            "--ladder-only",
            "--smoke",
            "--ladder-users",
            str(LADDER_USERS),
            "--publish-pass-users",
            "300",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    log = done.stdout[-6000:] + done.stderr[-4000:]
    assert done.returncode == 0, log
    return out, json.loads((out / "stats.json").read_text()), log


RUNGS = [
    "nginx",
    "raw_rsgi_granian",
    "raw_asgi_granian",
    "raw_asgi_uvicorn",
    "bare_granian",
    "bare_uvicorn",
] + [
    f"ui_{server}_{store}_{kind}"
    for store in ("sqlite", "redis")
    for server in ("uvicorn", "granian")
    for kind in ("get", "304", "first")
]


def test_ladder_measures_every_rung(ladder_run: Run) -> None:
    """Every rung answered its probe (status and bytes) and wrk counted requests and no
    errors; first launches never reused a user."""
    _, stats, log = ladder_run
    perf = stats["perf"]
    measured = {row["name"]: row for row in perf["ladder"]}
    assert sorted(measured) == sorted(RUNGS), log
    assert all(row["rps"] > 0 and "vs_nginx" in row for row in measured.values())
    assert all("vs_warm_get" in measured[n] for n in RUNGS if n.endswith("_first"))
    assert not [c for c in perf["checks"] if "WARNING" in c or "errors" in c], perf["checks"]
    for store in ("sqlite", "redis"):
        assert perf["seeding"][store]["users"] == LADDER_USERS
        assert perf["seeding"][store]["checked_through_store"] > 0


def test_ladder_profiles_and_extras(ladder_run: Run) -> None:
    out, stats, _ = ladder_run
    perf = stats["perf"]
    assert len(perf["profiles"]) == 4
    for profile in perf["profiles"]:
        assert profile.get("breakdown"), profile
        assert profile["us_per_launch"] > 0
    assert all("redis_commands_per_launch" in p for p in perf["profiles"] if "redis" in p["label"])
    passes = perf["publish_pass"]
    for name in ("cold", "before", "after"):
        assert passes[name]["statuses"] == {"200": 300}, passes
    assert all(e["statuses"] == {"202": e["batches"]} for e in perf["events_cost"])
    hostile = perf["hostile"]
    assert hostile["requests"] > 0 and hostile["failed"] == 0
    assert hostile["rss_before_mb"] > 0 and "growth_mb" in hostile
    report = (out / "report.md").read_text()
    assert "## Ladder" in report and "Where a first launch goes" in report
    assert any(line["name"].startswith("ladder: ") for line in stats["headline"])

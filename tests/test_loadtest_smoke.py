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
import subprocess
import sys
from pathlib import Path

import pytest

from tests.apphelpers import ROOT

pytestmark = pytest.mark.slow


def test_bench_extras_are_installed() -> None:
    """Looked up, not imported (importing locust monkey-patches this process with gevent); a
    missing extra fails here instead of silently skipping the smoke run."""
    missing = [m for m in ("locust", "matplotlib") if importlib.util.find_spec(m) is None]
    assert not missing, f"install the bench extras (pip install -e .[bench]): {missing}"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    out = tmp_path_factory.mktemp("bench") / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UISERVER_", "LOADTEST_"))}
    done = subprocess.run(
        [sys.executable, "-m", "uiserver.cli", "bench", "--users", "20", "--spawn-rate", "20",
         "--duration", "5s", "--population", "200", "--smoke", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False,
    )
    log = done.stdout[-4000:] + done.stderr[-4000:]
    assert done.returncode == 0, log
    return out, json.loads((out / "stats.json").read_text()), log


def test_no_request_failed(smoke_run: tuple[Path, dict, str]) -> None:
    _, stats, log = smoke_run
    aggregated = stats["locust"]["aggregated"]
    assert aggregated["requests"] > 0, log
    assert aggregated["failures"] == 0, stats["locust"]["failures"]


def test_settings_changes_reflected_in_next_layout(smoke_run: tuple[Path, dict, str]) -> None:
    checks = smoke_run[1]["checks"]
    assert checks.get("settings_changes", 0) > 0, checks
    assert checks.get("settings_verified", 0) > 0, checks
    assert checks.get("settings_mismatches", 0) == 0, checks


def test_publishes_served_at_once(smoke_run: tuple[Path, dict, str]) -> None:
    checks = smoke_run[1]["checks"]
    assert checks.get("publishes", 0) > 0, checks
    assert checks.get("publishes_verified", 0) > 0, checks
    assert checks.get("publish_mismatches", 0) == 0, checks


def test_launches_revalidate_with_stored_etag(smoke_run: tuple[Path, dict, str]) -> None:
    checks = smoke_run[1]["checks"]
    assert checks.get("launches", 0) > 0 and checks.get("not_modified", 0) > 0, checks


def test_report_files_written(smoke_run: tuple[Path, dict, str]) -> None:
    out, stats, _ = smoke_run
    report = (out / "report.md").read_text()
    assert "Headline" in report and stats["pinning"] in report
    assert list(out.glob("*.png")), "no plot written"
    assert stats["headline"], "no ratio or target line"

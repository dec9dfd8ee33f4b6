"""`loadtests/first_launch_cost.py` runs as documented: first launches of never-seen users of a
seeded store through the real RSGI handler, every answer a 200, CPU per launch and by stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtests import first_launch_cost
from uiserver.auth.tokens import TokenVerifier


def test_a_small_run_measures_first_launches_and_their_stages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--users", "1400", "--data", str(tmp_path / "store"), "--warmup", "40"]
    args += ["--launches", "60", "--warm-gets", "60", "--stages", "--no-uvloop"]
    assert first_launch_cost.main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["first_launches"] == 60
    assert result["first_launch_cpu_us"] > 0 and result["warm_get_cpu_us"] > 0
    stages = result["stages_us"]
    assert set(stages) == {name for name, _ in first_launch_cost.STAGES} | {first_launch_cost.REST}
    # Every first launch verified a token and read its user: both stages took time.
    assert stages["JWT verify, token cache"] > 0
    assert stages["store read (get_profile)"] > 0
    # The timed stages are taken off again.
    assert TokenVerifier.verify.__qualname__ == "TokenVerifier.verify"
    # The seeded store is reused: a second run with the same population does not seed again.
    marker = tmp_path / "store" / "first_launch_cost.json"
    seeded_at = marker.stat().st_mtime_ns
    assert first_launch_cost.main([*args[:6], "--launches", "10", "--warm-gets", "0"]) == 0
    assert marker.stat().st_mtime_ns == seeded_at

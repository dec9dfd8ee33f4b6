"""`uiserver serve --gc-thresholds` (`http/collector.py`): each worker freezes what start-up
made and collects at the thresholds given, as `/metrics` reports them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.helpers.app import ROOT, SECRET, token
from tests.helpers.processes import UISERVER, ServeProcess


def _gauges(url: str) -> dict[str, float]:
    """`uiserver_gc_*` samples of /metrics, after one layout GET (the app is serving)."""
    auth = {"Authorization": f"Bearer {token('gc-user')}"}
    assert httpx.get(url + "/v1/layouts/home", headers=auth, timeout=10).status_code == 200
    found: dict[str, float] = {}
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith("uiserver_gc_"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


@pytest.mark.parametrize(
    ("args", "thresholds", "frozen"),
    [
        ((), (50_000, 50, 100), True),  # granian, the default server and thresholds
        (("--server", "uvicorn", "--gc-thresholds", "20000,5,7"), (20_000, 5, 7), True),
        (("--gc-thresholds", "off"), (700, 10, 10), False),  # Python's own
    ],
)
def test_workers_run_with_the_thresholds_given(
    tmp_path: Path, args: tuple[str, ...], thresholds: tuple[int, int, int], frozen: bool
) -> None:
    server = ServeProcess(tmp_path, "", args=args).start()
    try:
        server.wait_ready()
        gauges = _gauges(server.url)
    finally:
        server.stop()
    assert [gauges[f'uiserver_gc_threshold{{generation="{g}"}}'] for g in range(3)] == list(
        thresholds
    )
    assert (gauges["uiserver_gc_frozen_objects"] > 10_000) is frozen, gauges


def serve_with(tmp_path: Path, variable: str, value: str) -> subprocess.CompletedProcess[str]:
    """`uiserver serve` run with `variable` set to `value` (and no other UISERVER_* setting
    but the secret), until it exits (within 60 s)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UISERVER_")}
    env["UISERVER_JWT_SECRET"] = SECRET
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env[variable] = value
    return subprocess.run(
        [*UISERVER, "serve", "--port", "0", "--data-dir", str(tmp_path / "data")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("value", ["50000", "0,1,1", "fast"])
def test_a_bad_value_stops_serve_before_it_starts(tmp_path: Path, value: str) -> None:
    done = serve_with(tmp_path, "UISERVER_GC_THRESHOLDS", value)  # the variable, like the option
    assert done.returncode == 1
    assert "--gc-thresholds" in done.stderr and repr(value) in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [("UISERVER_PROFILE_CACHE", "0"), ("UISERVER_TOKEN_CACHE", "many"), ("UISERVER_SIE", "-3")],
)
def test_a_bad_cache_bound_stops_serve_before_it_starts(
    tmp_path: Path, variable: str, value: str
) -> None:
    """Like the collector's thresholds, every number the workers read is checked by `serve`
    itself: one message naming it and exit 1, not a traceback in each worker."""
    done = serve_with(tmp_path, variable, value)
    assert done.returncode == 1
    assert variable in done.stderr and "Traceback" not in done.stderr

"""schemathesis against a real `uiserver serve`: no generated request may cause a 5xx.

The OpenAPI document the server publishes drives the generation, so every route it declares is
fuzzed with valid and invalid inputs, as a user and as a designer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.helpers.app import ROOT, SECRET, free_port, token, wait_http
from tests.helpers.untraced import untraced

# 25 examples for each of the document's ~53 operations: about 5 minutes on a loaded 2-core
# machine when coverage traced the generation (see `untraced`), past the suite's 300 s default
# (it timed out once the phone preview's two routes were documented), so this test's limit grows
# with the routes.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

UISERVER = str(Path(sys.executable).with_name("uiserver"))


@pytest.fixture(scope="module", autouse=True)
def generation_untraced() -> Iterator[None]:
    """The examples are drawn in this process by hypothesis and schemathesis, which coverage
    does not measure but traced anyway (262 s with `--cov`, 54 s without); the server under
    test keeps its own coverage (its process), which is what this test adds to the total."""
    with untraced():
        yield


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UISERVER_")}
    env["UISERVER_JWT_SECRET"] = SECRET
    proc = subprocess.Popen(
        [UISERVER, "serve", "--port", str(port), "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/readyz")
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def api_schema(server_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{server_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case[Any], server_url: str) -> None:
    role = "designer" if case.path.startswith("/v1/admin") else "user"
    headers = {"Authorization": f"Bearer {token('fuzz-user', role)}"}
    if case.method.upper() == "DELETE":
        headers = {"Authorization": f"Bearer {token('fuzz-eraser')}"}
    case.call_and_validate(base_url=server_url, headers=headers, checks=[not_a_server_error])

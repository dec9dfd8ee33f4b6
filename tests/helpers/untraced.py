"""Coverage's tracer paused in the test process while it runs only test-side code.

Under `scripts/test` (pytest-cov) every Python call in the test process goes through
coverage's tracer, also calls into code it does not measure (hypothesis, schemathesis): the
schemathesis fuzz test spent 262 s under `--cov=uiserver` and 54 s without it, all of the
difference in the pytest process (its `uiserver serve` used 3 s of CPU either way). A real
server the test starts is measured in its own process (coverage's subprocess patch sets
`COVERAGE_PROCESS_CONFIG` once, at start; pausing keeps it), so pausing here loses only the
lines the test process itself runs in `uiserver` while paused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import coverage


@contextmanager
def untraced() -> Iterator[None]:
    """Pause the running `coverage.Coverage` (if any) for the block; resume it after.
    Without coverage running (a focused run without `--cov`), does nothing."""
    cov = coverage.Coverage.current()
    if cov is None:
        yield
        return
    cov.stop()
    try:
        yield
    finally:
        cov.start()

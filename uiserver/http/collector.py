"""The cyclic garbage collector set for a long-running server process (`uiserver serve`).

CPython's collector runs a young collection every 700 container allocations (`gc.get_threshold`
`(700, 10, 10)`) and a full one every 70,000, each full one walking every container object the
process holds. A server holds many (the bounded caches: profiles, tokens, the request memo, the
shared plans and bodies, up to hundreds of MB at 1M users, docs/CAPACITY.md) and allocates a
few hundred containers a request, so at those defaults a first launch paid ~80 us of its
~360 us of CPU inside the collector, and the full collections were most of that (issue 26;
`loadtests/first_launch_cost.py` with `gc.callbacks` timing every collection: 0.87 s of
collector time at the defaults, 0.12 s at `DEFAULT_THRESHOLDS`, over the same 9,000 first
launches and 20,000 warm GETs). Almost nothing the server makes is cyclic garbage, so
collecting less often frees no less memory, only later.

`settle` is run once the app has started (templates compiled, catalogue and policy loaded):
`gc.freeze()` moves everything made so far into the permanent generation (never walked again),
then the thresholds are set. A frozen object is still freed when its last reference goes; only
a reference cycle among frozen objects is never collected (say, the start-up templates' compiled
objects after a publish replaces them): at most what start-up made, once. Only
`uiserver serve`'s workers call it (`app.app_from_env`); an app built in a test process
keeps Python's defaults.

Thresholds come from `--gc-thresholds` (`UISERVER_GC_THRESHOLDS`), three integers as
`gc.set_threshold` takes them; `off` keeps Python's defaults and freezes nothing.
"""

from __future__ import annotations

import gc
import logging
import os

log = logging.getLogger("uiserver")

ENV = "UISERVER_GC_THRESHOLDS"
# Young collections every 50,000 container allocations (~100 first launches), the middle one
# every 50 of those, the full one every 100 of those (and then only when CPython's own rule
# finds 25% more long-lived objects than at the last one).
DEFAULT_THRESHOLDS = (50_000, 50, 100)
OFF = "off"
MAX_THRESHOLD = 10_000_000


def parse_thresholds(text: str) -> tuple[int, int, int] | None:
    """`"50000,50,100"` -> (50000, 50, 100); `"off"` -> None (Python's defaults). Each number a
    positive integer up to `MAX_THRESHOLD`. Raises ValueError naming the problem otherwise."""
    value = text.strip().lower()
    if value == OFF:
        return None
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 3 or not all(p.isdigit() and p.isascii() for p in parts):
        raise ValueError(f"{text!r} is not three positive integers like 50000,50,100 (or {OFF!r})")
    first, second, third = (int(p) for p in parts)
    if not all(0 < n <= MAX_THRESHOLD for n in (first, second, third)):
        raise ValueError(f"{text!r}: each threshold must be between 1 and {MAX_THRESHOLD:,}")
    return first, second, third


def thresholds_from_env() -> tuple[int, int, int] | None:
    """`UISERVER_GC_THRESHOLDS`, else `DEFAULT_THRESHOLDS`. Raises ValueError for a bad value."""
    raw = os.environ.get(ENV)
    if raw is None or not raw.strip():
        return DEFAULT_THRESHOLDS
    return parse_thresholds(raw)


def settle(thresholds: tuple[int, int, int] | None) -> None:
    """After start-up: freeze what exists (`gc.freeze`) and set `thresholds`. None: nothing
    (Python's defaults stay)."""
    if thresholds is None:
        return
    gc.collect()  # start-up's own garbage is freed now, not frozen with the rest
    gc.freeze()
    gc.set_threshold(*thresholds)
    log.debug("collector: %d objects frozen, thresholds %s", gc.get_freeze_count(), thresholds)


__all__ = ["DEFAULT_THRESHOLDS", "ENV", "OFF", "parse_thresholds", "settle", "thresholds_from_env"]

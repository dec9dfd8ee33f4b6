"""The store circuit breaker: when serving may ask a failing store again, on a fake clock."""

from __future__ import annotations

import logging
import types

import pytest

import uiserver.serving.breaker
from uiserver.serving.breaker import STORE_RETRY_SECONDS, StoreBreaker
from uiserver.store.base import StoreUnavailable

START = 1024.0  # binary fractions of it stay exact, so period boundaries are exact too
DOWN = StoreUnavailable("redis://127.0.0.1:6379 timed out")


class Clock:
    """`time.monotonic` as the breaker module sees it; never moves unless told to."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.reads = 0

    def monotonic(self) -> float:
        self.reads += 1
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(START)
    monkeypatch.setattr(
        uiserver.serving.breaker, "time", types.SimpleNamespace(monotonic=clock.monotonic)
    )
    return clock


@pytest.fixture
def failing(clock: Clock) -> StoreBreaker:
    """A breaker whose store just failed a serving-path read, at START."""
    breaker = StoreBreaker()
    breaker.failed(DOWN)
    return breaker


def records(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "uiserver"]


# --------------------------------------------------------------------------- healthy


def test_a_new_breaker_is_healthy_and_always_asks_without_reading_the_clock(
    clock: Clock,
) -> None:
    breaker = StoreBreaker()
    assert breaker.healthy
    assert all(breaker.may_ask() for _ in range(100))  # every launch asks the store
    assert clock.reads == 0  # the warm path pays no clock read while the store is fine


def test_answered_while_healthy_changes_nothing_and_logs_nothing(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    breaker = StoreBreaker()
    with caplog.at_level(logging.DEBUG, logger="uiserver"):
        breaker.answered()
    assert breaker.healthy and breaker.may_ask()
    assert records(caplog) == []


# --------------------------------------------------------------------------- failing


def test_a_failed_read_degrades_with_one_warning(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    breaker = StoreBreaker()
    with caplog.at_level(logging.DEBUG, logger="uiserver"):
        breaker.failed(DOWN)
    assert not breaker.healthy
    assert not breaker.may_ask()  # the next launch serves degraded, without asking
    assert records(caplog) == [
        (logging.WARNING, f"store unreachable, serving degraded layouts: {DOWN}")
    ]


def test_more_failures_while_degraded_log_nothing_more(
    failing: StoreBreaker, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="uiserver"):
        for _ in range(5):
            clock.advance(STORE_RETRY_SECONDS)
            assert failing.may_ask()
            failing.failed(DOWN)
    assert not failing.healthy
    assert records(caplog) == []  # one warning per outage, not one per probe


@pytest.mark.parametrize(
    ("after", "asks"),
    [
        pytest.param(0.0, False, id="at-the-failure"),
        pytest.param(STORE_RETRY_SECONDS / 2, False, id="half-a-period-later"),
        pytest.param(STORE_RETRY_SECONDS - 2**-20, False, id="just-before-the-period-ends"),
        pytest.param(STORE_RETRY_SECONDS, True, id="once-the-period-is-over"),
        pytest.param(STORE_RETRY_SECONDS * 60, True, id="long-after"),
    ],
)
def test_a_failing_store_is_asked_again_once_a_retry_period_has_passed(
    failing: StoreBreaker, clock: Clock, after: float, asks: bool
) -> None:
    clock.advance(after)
    assert failing.may_ask() is asks


def test_one_caller_per_period_gets_to_probe(failing: StoreBreaker, clock: Clock) -> None:
    clock.advance(STORE_RETRY_SECONDS)
    assert failing.may_ask()  # this launch probes the store
    assert [failing.may_ask() for _ in range(50)] == [False] * 50  # its peers serve degraded
    assert not failing.healthy  # a probe allowed is not a probe answered
    clock.advance(STORE_RETRY_SECONDS - 2**-20)
    assert not failing.may_ask()  # the probe moved the next one a whole period on
    clock.advance(2**-20)
    assert failing.may_ask()


def test_a_failed_probe_moves_the_next_probe_a_period_past_the_failure(
    failing: StoreBreaker, clock: Clock
) -> None:
    """A probe that times out (a black-holed Redis: 0.5 s) counts the period from its failure,
    not from when it started."""
    clock.advance(STORE_RETRY_SECONDS)
    assert failing.may_ask()
    clock.advance(0.5)  # the probe's timeout
    failing.failed(DOWN)
    clock.advance(STORE_RETRY_SECONDS - 2**-20)
    assert not failing.may_ask()
    clock.advance(2**-20)
    assert failing.may_ask()


def test_a_dead_store_costs_one_call_a_period_not_one_per_launch(
    failing: StoreBreaker, clock: Clock
) -> None:
    """Ten seconds of launches every 1/64 s against a store that never answers."""
    tick = 2**-6
    asked = 0
    for _ in range(int(10 * STORE_RETRY_SECONDS / tick)):
        clock.advance(tick)
        if failing.may_ask():
            asked += 1
            failing.failed(DOWN)
    assert asked == 10  # at 1 s, 2 s, ... 10 s after the first failure: one a period


def test_the_retry_period_is_read_when_used(
    failing: StoreBreaker, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STORE_RETRY_SECONDS is looked up on each failure and probe (tests and operators may set
    it), not frozen into the breaker."""
    monkeypatch.setattr(uiserver.serving.breaker, "STORE_RETRY_SECONDS", 3600.0)
    failing.failed(DOWN)
    clock.advance(STORE_RETRY_SECONDS * 60)
    assert not failing.may_ask()
    clock.advance(3600.0)
    assert failing.may_ask()
    clock.advance(3599.0)
    assert not failing.may_ask()


# --------------------------------------------------------------------------- recovery


def test_an_answer_ends_degraded_mode_at_once_with_one_info(
    failing: StoreBreaker, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """A successful read, or a fresh invalidation subscription: no waiting for the next
    probe."""
    assert not failing.may_ask()
    with caplog.at_level(logging.DEBUG, logger="uiserver"):
        failing.answered()
        failing.answered()  # a second answer: already healthy, nothing to say
    assert failing.healthy
    assert all(failing.may_ask() for _ in range(10))  # within the period, everyone asks again
    assert records(caplog) == [(logging.INFO, "store reachable again, degraded mode over")]


def test_a_probe_that_answers_ends_degraded_mode(failing: StoreBreaker, clock: Clock) -> None:
    clock.advance(STORE_RETRY_SECONDS)
    assert failing.may_ask()
    failing.answered()
    assert failing.healthy and failing.may_ask() and failing.may_ask()


def test_a_new_outage_after_recovery_degrades_and_warns_again(
    failing: StoreBreaker, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    failing.answered()
    clock.advance(STORE_RETRY_SECONDS / 4)
    with caplog.at_level(logging.DEBUG, logger="uiserver"):
        failing.failed(DOWN)
    assert not failing.healthy and not failing.may_ask()
    assert [level for level, _ in records(caplog)] == [logging.WARNING]
    clock.advance(STORE_RETRY_SECONDS)  # its own period, counted from this failure
    assert failing.may_ask()

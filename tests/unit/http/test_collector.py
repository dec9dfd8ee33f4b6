"""The garbage collector's settings for `uiserver serve` (`http/collector.py`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from uiserver.http import collector


@pytest.fixture
def restored() -> Iterator[None]:
    """Python's thresholds and an empty permanent generation again after the test."""
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("50000,50,100", (50_000, 50, 100)),
        (" 700, 10 ,10 ", (700, 10, 10)),
        ("off", None),
        ("OFF", None),
        ("1,1,1", (1, 1, 1)),
        ("10000000,1,1", (10_000_000, 1, 1)),
    ],
)
def test_thresholds_are_read(text: str, expected: tuple[int, int, int] | None) -> None:
    assert collector.parse_thresholds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "50000",
        "50000,50",
        "50000,50,100,5",
        "0,10,10",
        "-1,10,10",
        "10000001,1,1",
        "1.5,10,10",
        "a,b,c",
        "\u0661\u0662,10,10",  # Arabic-Indic digits: isdigit() but not what anyone means
        "1e3,10,10",
        "on",
    ],
)
def test_bad_thresholds_are_refused_with_the_reason(text: str) -> None:
    with pytest.raises(ValueError, match=r"threshold|integers"):
        collector.parse_thresholds(text)


def test_the_environment_gives_the_default_else_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(collector.ENV, raising=False)
    assert collector.thresholds_from_env() == collector.DEFAULT_THRESHOLDS
    monkeypatch.setenv(collector.ENV, "  ")
    assert collector.thresholds_from_env() == collector.DEFAULT_THRESHOLDS
    monkeypatch.setenv(collector.ENV, "off")
    assert collector.thresholds_from_env() is None
    monkeypatch.setenv(collector.ENV, "9000,9,9")
    assert collector.thresholds_from_env() == (9_000, 9, 9)
    monkeypatch.setenv(collector.ENV, "9000")
    with pytest.raises(ValueError):
        collector.thresholds_from_env()


@pytest.mark.usefixtures("restored")
def test_settle_freezes_what_exists_and_sets_the_thresholds() -> None:
    gc.unfreeze()
    kept = [[i] for i in range(1_000)]  # containers made "at start-up"
    collector.settle((12_345, 6, 7))
    assert gc.get_threshold() == (12_345, 6, 7)
    assert gc.get_freeze_count() >= len(kept)
    young = {id(o) for o in gc.get_objects(0)}  # by identity: equal lists are not the same
    assert not young & {id(k) for k in kept}  # frozen: in no generation the collector walks


@pytest.mark.usefixtures("restored")
def test_settle_with_none_changes_nothing() -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    collector.settle(None)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0

"""The experiment bucketing's costs (issue 20 section 1), in one run:

- per launch: a user's variant under scheme 3 (`engine.variant.choose_variant`: one keyed hash
  of (experiment, user) and one byte of the stored allocation) against scheme 2 (the previous
  release's weighted rendezvous: the same hash, then a splitmix draw and a log per variant;
  its code is copied here as the baseline), for 2 and 5 variants;
- per publish: the initial allocation of a new experiment, an edit of a live one (50/50 ->
  50/60), encoding and decoding a stored allocation (what a publish's transaction and a
  template reload add).

    python loadtests/bench_variant.py            # table
    python loadtests/bench_variant.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import time
from collections.abc import Callable
from functools import lru_cache
from hashlib import blake2b
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from uiserver.engine.allocation import Allocation, allocate  # noqa: E402
from uiserver.engine.variant import choose_variant  # noqa: E402

_MASK = (1 << 64) - 1


def _digest(key: str, person: bytes) -> int:
    return int.from_bytes(blake2b(key.encode(), digest_size=8, person=person).digest(), "big")


@lru_cache(maxsize=4096)
def _seed_v2(name: str) -> int:
    return _digest(name, b"variant-v2")


def _uniform_v2(seed: int, point: int) -> float:
    z = (seed + (point + 1) * 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    z ^= z >> 31
    return (z + 0.5) / 2.0**64


def scheme_2(user_id: str, experiment: str, variants: tuple[tuple[str, int], ...]) -> str | None:
    """The previous release's `choose_variant` (weighted rendezvous over the bucket)."""
    point = _digest(f"{experiment}\x1f{user_id}", b"bucket-v2") % 10_000
    best: str | None = None
    best_score = -math.inf
    for name, weight in variants:
        if weight > 0:
            score = math.log(_uniform_v2(_seed_v2(name), point)) / weight
            if score > best_score:
                best, best_score = name, score
    return best


def best_of(call: Callable[[], object], rounds: int) -> float:
    """The fastest of `rounds` timings of `call`, in seconds."""
    best = math.inf
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def _launches_v2(ids: list[str], variants: tuple[tuple[str, int], ...]) -> None:
    for user in ids:
        scheme_2(user, "exp", variants)


def _launches(ids: list[str], allocation: Allocation) -> None:
    for user in ids:
        choose_variant(user, allocation)


def run(users: int, rounds: int) -> dict[str, Any]:
    ids = [f"user-{i}" for i in range(users)]
    out: dict[str, Any] = {"users": users, "rounds": rounds, "launch_us": {}, "publish_ms": {}}
    for k in (2, 5):
        variants = tuple((f"v{i}", 1) for i in range(k))
        allocation = allocate("exp", variants, None)
        old = best_of(functools.partial(_launches_v2, ids, variants), rounds)
        new = best_of(functools.partial(_launches, ids, allocation), rounds)
        out["launch_us"][f"{k} variants"] = {
            "scheme_2": round(old / users * 1e6, 2),
            "scheme_3": round(new / users * 1e6, 2),
        }
    pairs = [("control", 50), ("deals_first", 50)]
    first = allocate("exp", pairs, None)
    grown = [("control", 50), ("deals_first", 60)]
    five = [(f"v{i}", i + 1) for i in range(5)]
    most = [(f"v{i}", 1) for i in range(255)]  # the most a table holds (lint's limit)
    encoded = first.encode()
    for name, call in (
        ("initial, 2 variants", lambda: allocate("exp", pairs, None)),
        ("initial, 5 variants", lambda: allocate("exp", five, None)),
        ("initial, 255 variants", lambda: allocate("exp", most, None)),
        ("edit 50/50 -> 50/60", lambda: allocate("exp", grown, first)),
        ("encode", first.encode),
        ("decode", lambda: Allocation.decode(encoded)),
    ):
        out["publish_ms"][name] = round(best_of(call, rounds) * 1e3, 3)
    out["encoded_bytes"] = len(encoded)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.users, args.rounds)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"variant per launch (best of {args.rounds} x {args.users} users), us")
    for name, row in result["launch_us"].items():
        print(f"  {name:<12} scheme 2 {row['scheme_2']:>6.2f}   scheme 3 {row['scheme_3']:>6.2f}")
    print("allocation per publish or reload, ms")
    for name, ms in result["publish_ms"].items():
        print(f"  {name:<22} {ms:>8.3f}")
    print(f"  stored allocation (50/50): {result['encoded_bytes']} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

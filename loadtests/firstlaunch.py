"""Where a first launch's time goes, and what a publish does to the next pass of users.

`profile_first_launch`: while wrk drives first launches of never-seen users at a running
uiserver, `py-spy record` samples the server (`--nonblocking`, so the server is not paused,
`--subprocesses` for granian's worker) and writes collapsed stacks. Each sample is put in the
first category of `CATEGORIES` whose pattern one of its frames matches (so the JWT check that
runs inside the layout handler counts as JWT, not as handler). The server's CPU seconds over
the same window divided by the requests wrk counted give microseconds per launch, read per
thread from /proc (`servers.thread_cpu`): the main threads' CPU (where the Python code runs)
is shared out by the categories' shares of the samples that have a Python frame, and the
other threads' CPU (granian's Rust threads) is its own row, `SERVER_THREADS`.

Samples without a Python frame are left out of the shares: py-spy counts granian's thread
that hands requests to the event loop (it holds a Python thread state) as active while it
waits, so those samples are not CPU. Issue 26 (docs/BENCHMARKS.md): 554 of 1,251 samples of a
first-launch profile had no Python frame and were reported as 264 us a launch "outside
uiserver", while that thread used 5-15 us a launch by /proc and granian's threads together
60-90 us.

`publish_pass`: N never-seen users launch once (cold), then again (the pass before a publish),
then a designer publishes `home` and the same N launch a third time: every memo entry of that
page is now stale. Reported: each pass's rate, and after/before.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from loadtests.baselines import Row
from loadtests.memcheck import launch_all
from loadtests.servers import Pinning, ThreadCPU, die_with_parent, thread_cpu
from loadtests.wrkbench import run_wrk, write_requests, write_script

# (category, regex over one frame "function (file:line)"). A sample belongs to the specific
# category (all but the last two) of its deepest frame that matches one, so time in stdlib, C
# or library code (base64, hmac, sqlite3, redis-py's socket writes, msgspec) counts for the
# uiserver step that called it; only samples under no such step go to the HTTP server/event
# loop or, failing that, to the handler's own glue.
OTHER = "HTTP server, event loop, asyncio (outside uiserver)"
GLUE = "layout handler, service glue, metrics"
CATEGORIES: list[tuple[str, str]] = [
    ("JWT verify (PyJWT: split, base64, JSON, HMAC, claims)", r"\(jwt/|auth\.py"),
    ("remember order (set_last_order write, background)", r"set_last_order|_remember_order"),
    # redis-py resumed after an await shows no caller: its frames count here (they are mostly
    # get_profile's; the background order write's one HSET is in them too).
    (
        "store read (get_profile: transaction, queries or round trip, decode, Profile)",
        r"get_profile|_read_user|user_row|sqlite/users|_segments \(|_orders \(|build_profile|"
        r"Coalescer|serving/profiles|\(redis/",
    ),
    ("store poll / sync (data_version, template check)", r"\.poll \(|sync \(.*serving/pages"),
    ("engine plan", r"engine/(plan|rules|stability|proposals|variant|cap|personas|hashing)"),
    (
        "render + check + encode + fingerprint (body cache miss)",
        r"engine/(render|check|theme|contrast)|encode_layout|BodyEntry|plan_fingerprint|"
        r"_render \(.*serving/layouts",
    ),
    (
        "caches (BoundedDict/LRU insert, evict, lookups)",
        r"serving/cache\.py|datastructures\.py|cachetools",
    ),
    ("query parsing (parse_context)", r"parse_context|parse_qsl|serving/context"),
    (
        OTHER,
        r"uvicorn/|granian|asyncio/|uvloop|httptools|h11|selectors|starlette/|"
        r"^process \d+:",
    ),
    (GLUE, r"uiserver/"),
]
_COMPILED = [(name, re.compile(pattern)) for name, pattern in CATEGORIES]


SERVER_THREADS = "HTTP server's own threads (granian's Rust I/O runtime and scheduler; /proc)"
# A Python frame in py-spy's raw output: `function (file:line)`. The `process N:"cmdline"`
# entries that start each stack are not frames, and a command line may itself hold `;` (granian's
# supervisor runs `python -c "import sys; ..."`), so pieces are told by this, not by position.
_FRAME = re.compile(r" \([^()]*:\d+\)$")


def frames(stack: str) -> list[str]:
    """The Python frames of a py-spy raw stack (`;`-separated), outermost first."""
    return [piece for piece in stack.split(";") if _FRAME.search(piece)]


def has_python_frame(stack: str) -> bool:
    """Whether a py-spy raw stack has a Python frame at all: without one the sample is a thread
    that holds a Python thread state but runs no Python (granian's scheduling thread), active
    or not."""
    return bool(frames(stack))


def breakdown(
    samples: Counter[str], cpu: ThreadCPU, requests: int
) -> tuple[list[dict[str, Any]], int]:
    """Per-category us per launch from `samples` (raw stack -> count) and the server's CPU
    over the same requests: the main threads' CPU split by the shares of the samples with a
    Python frame, plus `SERVER_THREADS` for the other threads' CPU (left out when 0). Returns
    (rows, most first, and the samples without a Python frame, left out)."""
    counts: Counter[str] = Counter()
    frameless = 0
    for stack, n in samples.items():
        if has_python_frame(stack):
            counts[classify(stack)] += n
        else:
            frameless += n
    total = sum(counts.values())
    main_us = 1e6 * cpu.main / requests if requests else 0.0
    other_us = 1e6 * cpu.other / requests if requests else 0.0
    launch_us = main_us + other_us
    rows: list[dict[str, Any]] = [
        {
            "category": name,
            "share": round(main_us * n / total / launch_us, 3) if launch_us else 0.0,
            "us_per_launch": round(main_us * n / total, 1),
        }
        for name, n in counts.items()
    ]
    if other_us > 0:
        rows.append(
            {
                "category": SERVER_THREADS,
                "share": round(other_us / launch_us, 3),
                "us_per_launch": round(other_us, 1),
            }
        )
    rows.sort(key=lambda row: -row["us_per_launch"])
    return rows, frameless


def classify(stack: str) -> str:
    found = frames(stack) or [stack]
    for frame in reversed(found):
        for name, regex in _COMPILED[:-2]:
            if regex.search(frame):
                return name
    for frame in reversed(found):
        for name, regex in _COMPILED[-2:]:
            if regex.search(frame):
                return name
    return OTHER


def pyspy_binary() -> str | None:
    """The py-spy of the environment running this (the `py-spy` beside `sys.executable`, where
    `pip install -e .[bench]` puts it, whether or not that venv's bin is on PATH), else the
    one on PATH; None when neither exists."""
    beside = Path(sys.executable).parent / "py-spy"  # not resolved: a venv's python is a link
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("py-spy")


def pyspy_available() -> bool:
    return pyspy_binary() is not None


def profile_first_launch(
    out: Path,
    pin: Pinning,
    base_url: str,
    server_pid: int,
    rows: list[Row],
    seconds: float,
    connections: int,
    progress: Callable[[str], None],
    label: str,
) -> dict[str, Any]:
    """py-spy over a wrk run of first launches; the breakdown in us per launch."""
    folder = out / "profile"
    folder.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"\W+", "-", label)
    requests = folder / f"{slug}.tsv"
    write_requests(requests, rows)
    script = write_script(folder / f"{slug}.lua", requests)
    stacks = folder / f"{slug}.folded"
    spy = subprocess.Popen(
        pin.load(
            [
                pyspy_binary() or "py-spy",
                "record",
                "--pid",
                str(server_pid),
                "--subprocesses",
                "--nonblocking",
                "--rate",
                "200",
                "--duration",
                str(int(seconds) + 2),
                "--format",
                "raw",
                "--output",
                str(stacks),
            ]
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=die_with_parent(),
    )
    try:
        time.sleep(1.0)  # py-spy attached
        cpu_before = thread_cpu(server_pid)
        result = run_wrk(
            f"profile {label}",
            base_url,
            script,
            threads=1,
            connections=connections,
            duration=f"{seconds:g}s",
            pin=pin,
            log=folder / "wrk.log",
        )
        cpu = thread_cpu(server_pid) - cpu_before
    finally:
        output, _ = spy.communicate(timeout=60)
    if result.requests > len(rows):
        progress(f"  WARNING: profile {label}: users repeated ({result.requests} > {len(rows)})")
    if not stacks.exists():
        return {"label": label, "error": f"py-spy wrote nothing: {output[-500:]}"}
    samples: Counter[str] = Counter()
    for line in stacks.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            samples[stack] += int(count)
    per_launch_us = 1e6 * cpu.total / result.requests if result.requests else 0.0
    table, frameless = breakdown(samples, cpu, result.requests)
    total = sum(samples.values()) or 1
    progress(
        f"  profile {label}: {result.rps:,.0f} launches/s, server CPU "
        f"{per_launch_us:,.0f} us per launch, {total:,} samples ({frameless:,} without a "
        "Python frame, left out)"
    )
    for row in table:
        progress(
            f"    {row['us_per_launch']:7.1f} us  {100 * row['share']:5.1f}%  {row['category']}"
        )
    return {
        "label": label,
        "rps": round(result.rps),
        "requests": result.requests,
        "server_cpu_s": round(cpu.total, 2),
        "us_per_launch": round(per_launch_us, 1),
        "main_thread_us_per_launch": round(1e6 * cpu.main / result.requests, 1)
        if result.requests
        else 0.0,
        "samples": total,
        "samples_without_python_frame": frameless,
        "breakdown": table,
        "folded": str(stacks),
    }


def _drive_once(base_url: str, rows: list[Row], connections: int) -> dict[str, Any]:
    """Every row exactly once, over `connections` keep-alive connections (memcheck's client:
    wrk cannot stop after exactly N requests). The client is Python on the load core, so a
    pass's rate is bounded by it too; both passes share that bound."""
    port = int(base_url.rsplit(":", 1)[1])
    started = time.monotonic()
    statuses = asyncio.run(launch_all(port, [(p, t) for p, t, _ in rows], connections))
    elapsed = time.monotonic() - started
    return {
        "requests": sum(statuses.values()),
        "seconds": round(elapsed, 2),
        "rps": round(len(rows) / elapsed) if elapsed else 0,
        "statuses": {str(k): v for k, v in statuses.items()},
    }


def publish(base_url: str, designer_token: str, page: str = "home") -> str:
    """Publish `page` with a changed title through the admin API; the new version."""
    auth = {"Authorization": f"Bearer {designer_token}"}
    current = httpx.get(f"{base_url}/v1/admin/templates/{page}", headers=auth, timeout=30)
    current.raise_for_status()
    template = current.json()["template"]
    template["title"] = f"{template['title'].split(' · pass ')[0]} · pass {time.time():.0f}"
    response = httpx.post(
        f"{base_url}/v1/admin/templates/{page}/publish",
        headers=auth,
        json={"template": template, "message": "ladder publish pass"},
        timeout=30,
    )
    if response.status_code != 201:
        raise RuntimeError(f"publish answered {response.status_code}: {response.text[:300]}")
    return str(response.json()["version"])


def publish_pass(
    out: Path,
    pin: Pinning,
    base_url: str,
    rows: list[Row],
    designer_token: str,
    connections: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Cold pass, the pass before a publish, the first pass after it (same users)."""
    cold = _drive_once(base_url, rows, connections)
    progress(f"  publish pass: {len(rows):,} never-seen users, cold {cold['rps']:,}/s")
    before = _drive_once(base_url, rows, connections)
    progress(f"  publish pass: the pass before a publish {before['rps']:,}/s")
    version = publish(base_url, designer_token)
    after = _drive_once(base_url, rows, connections)
    ratio = after["seconds"] / before["seconds"] if before["seconds"] else 0.0
    progress(
        f"  publish pass: first pass after publishing {version}: {after['rps']:,}/s, "
        f"{ratio:.2f}x the time of the pass before (target <= 2x)"
    )
    return {
        "users": len(rows),
        "cold": cold,
        "before": before,
        "after": after,
        "version": version,
        "after_over_before_time": round(ratio, 2),
        "target": 2.0,
        "met": ratio <= 2.0,
    }

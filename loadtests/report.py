"""Turn a run's numbers into `report.md` and PNG plots a reader can take in at a glance.

Ratios come first (they survive a change of machine); absolute numbers follow, with the machine,
the versions and the settings they were measured on.
"""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path
from types import ModuleType
from typing import Any

from loadtests.perfreport import perf_section

PERCENTILES = ("50%", "95%", "99%")


# --------------------------------------------------------------------------- locust CSVs


def _number(value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def request_rows(stats_csv: Path) -> list[dict[str, Any]]:
    """One row per request type (and `Aggregated`), in the units locust reports (ms)."""
    rows = []
    for row in read_csv(stats_csv):
        rows.append(
            {
                "method": row["Type"],
                "name": row["Name"],
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": _number(row["Requests/s"]),
                "avg_ms": _number(row["Average Response Time"]),
                "p50_ms": _number(row["50%"]),
                "p95_ms": _number(row["95%"]),
                "p99_ms": _number(row["99%"]),
                "p999_ms": _number(row["99.9%"]),
                "max_ms": _number(row["Max Response Time"]),
                "avg_bytes": _number(row["Average Content Size"]),
            }
        )
    return rows


def history(history_csv: Path) -> list[dict[str, float]]:
    """The `Aggregated` rows of `_stats_history.csv`: one per second, percentiles over a
    sliding window of the last seconds (locust's "current" percentiles)."""
    points = []
    for row in read_csv(history_csv):
        if row.get("Name") != "Aggregated":
            continue
        point = {
            "t": _number(row["Timestamp"]),
            "users": _number(row["User Count"]),
            "rps": _number(row["Requests/s"]),
            "fps": _number(row["Failures/s"]),
        }
        point.update({p: _number(row[p]) for p in PERCENTILES})
        points.append(point)
    return points


# --------------------------------------------------------------------------- plots


def _pyplot() -> ModuleType:
    """matplotlib's pyplot on the Agg backend, imported when a plot is drawn: `uiserver bench
    --help` must work without the `bench` extras (matplotlib is one of them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def plot_latency(points: list[dict[str, float]], path: Path, target_ms: float) -> Path | None:
    if not points:
        return None
    t0 = points[0]["t"]
    fig, ax = _pyplot().subplots(figsize=(8, 4))
    for p in PERCENTILES:
        ax.plot([x["t"] - t0 for x in points], [x[p] for x in points], label=f"p{p[:-1]}")
    ax.axhline(
        target_ms, color="red", linestyle="--", linewidth=1, label=f"p99 target {target_ms:g} ms"
    )
    ax.set(
        xlabel="seconds",
        ylabel="response time (ms)",
        title="locust: response-time percentiles over time (all requests)",
    )
    ax.set_ylim(bottom=0)
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_throughput(points: list[dict[str, float]], path: Path) -> Path | None:
    if not points:
        return None
    t0 = points[0]["t"]
    xs = [x["t"] - t0 for x in points]
    fig, ax = _pyplot().subplots(figsize=(8, 4))
    ax.plot(xs, [x["rps"] for x in points], label="requests/s")
    ax.plot(xs, [x["fps"] for x in points], label="failures/s", color="red")
    ax.set(xlabel="seconds", ylabel="per second", title="locust: throughput over time")
    ax.set_ylim(bottom=0)
    users = ax.twinx()
    users.plot(xs, [x["users"] for x in points], color="grey", linestyle=":", label="users")
    users.set_ylabel("simulated users")
    users.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()
    more = users.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower right")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_cache(
    samples: list[dict[str, float]], path: Path, window: tuple[float, float] | None = None
) -> Path | None:
    """Hit rate per scrape interval, and 304s per second, from the /metrics samples; on the
    locust plots' time axis when `window` (first, last history timestamp) is given."""
    if window is not None:
        samples = [s for s in samples if window[0] - 1 <= s["t"] <= window[1] + 1]
    if len(samples) < 2:
        return None
    t0 = window[0] if window is not None else samples[0]["t"]
    xs, rates, not_modified = [], [], []
    for before, after in itertools.pairwise(samples):
        seconds = after["t"] - before["t"]
        lookups = (after["hits"] - before["hits"]) + (after["misses"] - before["misses"])
        if seconds <= 0 or lookups < 0:
            continue
        xs.append(after["t"] - t0)
        rates.append(100 * (after["hits"] - before["hits"]) / lookups if lookups else math.nan)
        not_modified.append((after["not_modified"] - before["not_modified"]) / seconds)
    fig, ax = _pyplot().subplots(figsize=(8, 4))
    ax.plot(xs, rates, label="layout cache hit rate (%)")
    ax.set(
        xlabel="seconds",
        ylabel="hit rate (%)",
        ylim=(0, 105),
        title="server: layout cache hit rate and 304s (from /metrics)",
    )
    right = ax.twinx()
    right.plot(xs, not_modified, color="green", linestyle="--", label="304 answers/s")
    right.set_ylabel("304/s")
    right.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower right")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_baselines(baselines: dict[str, dict[str, Any]], path: Path) -> Path | None:
    """Requests/s of every wrk target, side by side: a bar at the median round, and a dot for
    every round (rounds can differ several-fold on a shared machine; the bar alone hides it)."""
    order = [
        k
        for k in ("nginx_get", "nginx_304", "bare_get", "bare_304", "uiserver_get", "uiserver_304")
        if k in baselines
    ]
    if not order:
        return None
    fig, ax = _pyplot().subplots(figsize=(8, 4))
    colours = {"nginx": "#888888", "bare": "#4C72B0", "uiserver": "#C4320A"}
    bars = ax.bar(
        order,
        [baselines[k]["rps"] for k in order],
        color=[colours[k.split("_")[0]] for k in order],
        alpha=0.6,
        label="median round",
    )
    for number, (bar, key) in enumerate(zip(bars, order, strict=True)):
        rounds = baselines[key].get("rounds_rps") or [baselines[key]["rps"]]
        ax.scatter(
            [number] * len(rounds),
            rounds,
            color="black",
            s=14,
            zorder=3,
            label="each round" if number == 0 else None,
        )
        ax.annotate(
            f"{baselines[key]['rps']:,.0f}",
            (bar.get_x() + bar.get_width() / 2, max(rounds)),
            ha="center",
            va="bottom",
            fontsize=9,
        )
    ax.set(ylabel="requests/s", title="wrk: same requests, same tool, server pinned to one core")
    ax.tick_params(axis="x", labelrotation=15)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path)


def plot_memory(memory: dict[str, Any], path: Path) -> Path | None:
    points = memory.get("checkpoints") or []
    if len(points) < 2:
        return None
    fig, ax = _pyplot().subplots(figsize=(8, 4))
    ax.plot([p["distinct_users"] for p in points], [p["rss_mb"] for p in points], marker="o")
    ax.set(
        xlabel="distinct users served",
        ylabel="server RSS (MB)",
        ylim=(0, None),
        title="uiserver RSS as distinct users grow (one launch each)",
    )
    ax.grid(alpha=0.3)
    return _save(fig, path)


def make_plots(
    out: Path,
    stats: dict[str, Any],
    points: list[dict[str, float]],
    samples: list[dict[str, float]],
) -> list[Path]:
    made = [
        plot_latency(points, out / "latency.png", stats["targets"]["p99_ms"]),
        plot_throughput(points, out / "throughput.png"),
        plot_cache(
            samples,
            out / "cache_hit_rate.png",
            (points[0]["t"], points[-1]["t"]) if points else None,
        ),
        plot_baselines(stats.get("baselines", {}), out / "baselines.png"),
        plot_memory(stats.get("memory") or {}, out / "memory.png"),
    ]
    return [p for p in made if p is not None]


# --------------------------------------------------------------------------- report.md


def _fmt(value: Any, digits: int = 1) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return lines


def headline_rows(stats: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for line in stats["headline"]:
        verdict = {True: "met", False: "**not met**", None: "info"}[line["ok"]]
        rows.append([line["name"], line["shown"], line.get("target") or "", verdict])
    return rows


def write_report(out: Path, stats: dict[str, Any], plots: list[Path]) -> Path:
    s = stats["settings"]
    lines = [
        "# uiserver benchmark report",
        "",
        f"Run {stats['started']} on {stats['machine']['cpu_model']} "
        f"({stats['machine']['cores']} cores, {_fmt(stats['machine']['ram_gb'])} GB RAM). "
        f"**The load generator and the server share this machine's cores:** "
        f"{stats['pinning']}. Measured: `uiserver serve --server {served_by(stats)}`."
        f"{' Smoke run: figures are not meaningful.' if s['smoke'] else ''}",
        "",
        _background(stats),
        "",
        "## Headline (ratios first: they carry over between machines)",
        "",
        *_table(["measure", "value", "target", "verdict"], headline_rows(stats)),
        "",
    ]
    warmup = stats.get("warmup") or {}
    if warmup:
        lines += [
            f"Warm-up: {_fmt(warmup['launches'])} launches of the daily-active users and "
            "of wrk's clients before measuring (their clients keep the ETag they got).",
            *[f"- {note}" for note in warmup["notes"]],
            "",
        ]
    lines += _locust_section(stats)
    lines += _baseline_section(stats)
    lines += _engine_section(stats)
    lines += _memory_section(stats)
    lines += perf_section(stats)
    lines += ["## Plots", ""]
    lines += [f"![{p.stem}]({p.name})" for p in plots]
    lines += ["", *_settings_section(stats), *_time_section(stats)]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def served_by(stats: dict[str, Any]) -> str:
    """The HTTP server uiserver (and the bare route) ran on; runs before `--server` existed
    measured uvicorn."""
    return str(stats["settings"].get("server", "uvicorn"))


def _time_section(stats: dict[str, Any]) -> list[str]:
    """Where the run's wall time went, phase by phase (the report's own writing is not in it:
    see the console's last line)."""
    phases = stats.get("phase_seconds") or {}
    if not phases:
        return []
    rows = [[name, f"{value:.1f}"] for name, value in phases.items()]
    return [
        "",
        "## Where the run's time went",
        "",
        f"Wall time {stats.get('wall_s', 0):.0f} s up to the report, for "
        f"`--duration {stats['settings']['duration']}`; load average "
        f"{stats.get('loadavg_start', 0):.1f} at the start, {stats.get('loadavg_end', 0):.1f} "
        "at the end.",
        "",
        *_table(["phase", "seconds"], rows),
    ]


def _background(stats: dict[str, Any]) -> str:
    """Other work on the machine skews every figure; say how busy it was."""
    before, after = stats.get("busy_before"), stats.get("busy_after")
    if before is None or after is None:
        return ""
    text = (
        f"Before the run, with nothing of the run started, the machine was "
        f"{100 * before:.0f}% busy (all cores, 2 s sample); after it, {100 * after:.0f}%."
    )
    if max(before, after) > 0.05:
        text += (
            " **Other work was running on this machine: absolute figures are depressed "
            "and noisier (the interleaved, paired ratios less so).**"
        )
    return text


def _locust_section(stats: dict[str, Any]) -> list[str]:
    locust = stats.get("locust")
    if not locust:
        return []
    checks = stats.get("checks", {})
    cache = stats.get("cache", {})
    rows = [
        [
            r["method"],
            r["name"],
            r["requests"],
            r["failures"],
            r["rps"],
            r["p50_ms"],
            r["p95_ms"],
            r["p99_ms"],
            r["max_ms"],
        ]
        for r in locust["requests"]
    ]
    lines = [
        f"## Launch traffic (locust, {stats['settings']['users']} users, "
        f"{stats['settings']['duration']})",
        "",
        *_table(
            [
                "method",
                "request",
                "count",
                "failures",
                "req/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "max ms",
            ],
            rows,
        ),
        "",
        f"- Launches: {_fmt(checks.get('launches', 0))}; layout GETs answered 304: "
        f"{_fmt(checks.get('not_modified', 0))} ({_fmt(locust.get('not_modified_share_pct'))}%"
        " of layout GETs); events sent: " + _fmt(checks.get("events", 0)) + ".",
        f"- Settings changes: {_fmt(checks.get('settings_changes', 0))}, reflected in the next "
        f"layout: {_fmt(checks.get('settings_verified', 0))}, not reflected: "
        f"{_fmt(checks.get('settings_mismatches', 0))}.",
        f"- Publishes under load: {_fmt(checks.get('publishes', 0))}, new version served at "
        f"once: {_fmt(checks.get('publishes_verified', 0))}, old version served: "
        f"{_fmt(checks.get('publish_mismatches', 0))}.",
        _cpu_line(stats),
        f"- Server layout cache during the run: hit rate {_fmt(100 * cache.get('hit_rate', 0))}%"
        f" ({_fmt(int(cache.get('hits', 0)))} hits, {_fmt(int(cache.get('misses', 0)))} "
        f"misses), {_fmt(int(cache.get('not_modified', 0)))} 304s (from /metrics"
        f"{', one worker only' if stats['settings']['workers'] > 1 else ''}).",
        "- Server-side layout GET latency (the handler's own histogram, bucket upper bounds): "
        + ", ".join(
            f"{k} <= {_fmt(v, 2)} ms" for k, v in (stats.get("server_layout_ms") or {}).items()
        )
        + "; the rest of locust's figure is queueing, the network stack and the client.",
        "- Locust buckets response times (whole ms below 100 ms), so its percentiles are "
        "coarse and a p99 can read above the max.",
        "",
    ]
    if locust.get("failures"):
        lines += [
            "Failures:",
            "",
            *_table(
                ["method", "name", "error", "count"],
                [
                    [f["Method"], f["Name"], f["Error"], f["Occurrences"]]
                    for f in locust["failures"]
                ],
            ),
            "",
        ]
    return lines


def _cpu_line(stats: dict[str, Any]) -> str:
    cpu = stats.get("cpu_during_locust") or {}
    if not cpu:
        return "- CPU use during the run: not sampled."
    return (
        f"- CPU use while load flowed: server {100 * cpu['server']:.0f}% of a core, locust "
        f"{100 * cpu['locust']:.0f}% of a core (locust's own warning threshold is 90%)."
    )


BASELINE_MEANING = {
    "uiserver_get": "uiserver, warm layout GET (token and layout cached), 200 with body",
    "uiserver_304": "uiserver, the same GETs with the stored ETag: 304, no body",
    "bare_get": "bare Starlette route, same bytes, same server and settings: our ceiling",
    "bare_304": "bare Starlette route answering the same If-None-Match with 304",
    "nginx_get": "nginx serving the same JSON as a static file: the physical limit",
    "nginx_304": "nginx answering If-None-Match for that file with 304",
}


def _baseline_section(stats: dict[str, Any]) -> list[str]:
    baselines = stats.get("baselines") or {}
    if not baselines:
        return [f"## Baselines\n\nNot measured: {stats.get('baselines_note', 'skipped')}.", ""]
    w = next(iter(baselines.values()))["settings"]
    rounds = stats["settings"].get("wrk_rounds", 1)
    rows = [
        [
            key,
            BASELINE_MEANING.get(key, ""),
            b["rps"],
            " / ".join(f"{x:,.0f}" for x in b.get("rounds_rps", [])),
            b["p50_ms"],
            b["p99_ms"],
            b["failed"],
        ]
        for key, b in baselines.items()
    ]
    warmup = (
        ""
        if stats["settings"]["smoke"]
        else "; each server's first run follows a discarded 1 s warm-up"
    )
    return [
        "## Baselines (wrk, measured in this run)",
        "",
        f"wrk {w['threads']} thread, {w['connections']} connections, {rounds} interleaved "
        f"round(s) of {w['duration']} per target{warmup}, on the load core; every target "
        f"gets the same {stats['wrk_clients']:,} distinct clients' requests (path, token, "
        f"ETag); body {_fmt(stats.get('body_bytes'))} bytes, identical for all three servers; "
        f"uiserver and the bare route on {served_by(stats)}. "
        "Ratios in the headline are the median of per-round ratios; req/s below is the "
        "median round.",
        "",
        *_table(["target", "what", "req/s", "rounds req/s", "p50 ms", "p99 ms", "errors"], rows),
        "",
        *[f"- {note}" for note in stats.get("baseline_checks", [])],
        "",
    ]


def _engine_section(stats: dict[str, Any]) -> list[str]:
    engine = stats.get("engine") or {}
    if not engine:
        return []
    lines = ["## Engine micro-benchmark (loadtests/bench_engine.py)", ""]
    if engine.get("when"):
        lines += [f"In-process, pinned to the server core; run {engine['when']}.", ""]
    if engine.get("note"):
        return [*lines, engine["note"], ""]
    summary = engine.get("summary") or {}
    if summary:
        lines += _table(
            ["measure", "value"],
            [[k, v if isinstance(v, float) else str(v)] for k, v in summary.items()],
        )
    lines += ["", "Full output is in `stats.json` under `engine.result`.", ""]
    return lines


def _memory_section(stats: dict[str, Any]) -> list[str]:
    memory = stats.get("memory")
    if not memory:
        return []
    rows = [
        [p["distinct_users"], p["rss_mb"], p.get("requests", ""), p.get("rps", "")]
        for p in memory["checkpoints"]
    ]
    return [
        "## Memory as distinct users grow",
        "",
        memory["summary"],
        "",
        *_table(["distinct users served", "server RSS (MB)", "requests", "cold GET/s"], rows),
        "",
        *[f"- {note}" for note in memory.get("notes", [])],
        "",
    ]


def _settings_section(stats: dict[str, Any]) -> list[str]:
    s = stats["settings"]
    setting_rows = [[k, v] for k, v in s.items()]
    version_rows = [[k, v] for k, v in stats["versions"].items()]
    machine_rows = [[k, v] for k, v in stats["machine"].items()]
    population = stats.get("population", {})
    return [
        "## Settings",
        "",
        *_table(["setting", "value"], setting_rows),
        "",
        f"Pinning: {stats['pinning']}.",
        "",
        "Population personas (seeded): "
        + ", ".join(f"{k} {_fmt(v)}" for k, v in population.get("personas", {}).items())
        + ".",
        "",
        "## Machine",
        "",
        *_table(["", ""], machine_rows),
        "",
        "## Versions",
        "",
        *_table(["", ""], version_rows),
        "",
    ]

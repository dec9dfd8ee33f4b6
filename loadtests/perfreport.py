"""The ladder phase in the console headline and in report.md (targets from DESIGN section 7)."""

from __future__ import annotations

from typing import Any

from loadtests.ladder import ladder_lines

# Targets (issue 26): a warm GET >= 0.85x a raw RSGI app serving the same bytes on granian
# (nginx is 2-4x faster on a quiet machine than on a busy one, so its ratios do not carry over:
# the raw RSGI app is the honest ceiling for Python here), a first launch >= 0.3x its warm GET.
TARGETS = {"_get": ("vs_raw_rsgi", 0.85), "_first": ("vs_warm_get", 0.3)}
WHAT = {"vs_nginx": "nginx", "vs_raw_rsgi": "raw RSGI", "vs_warm_get": "warm GET"}


def _shown(row: dict[str, Any]) -> str:
    """A ladder row's figures: req/s and each paired ratio (by server CPU too, where known)."""
    nginx = row.get("vs_nginx")
    shown = f"{row['rps']:,} req/s" + (f", {nginx['median']:.2f}x nginx" if nginx else "")
    rsgi = row.get("vs_raw_rsgi")
    if rsgi and row["name"].startswith("ui_"):
        shown += f", {rsgi['median']:.2f}x raw RSGI ({rsgi['min']:.2f}-{rsgi['max']:.2f})"
    cpu = row.get("cpu_vs_raw_rsgi")
    if cpu and row["name"].startswith("ui_"):
        shown += f" (by server CPU: {cpu['median']:.2f}x, {row['cpu_us_per_request']} us)"
    warm = row.get("vs_warm_get")
    if warm:
        shown += f", {warm['median']:.2f}x its warm GET ({warm['min']:.2f}-{warm['max']:.2f})"
        cpu_warm = row.get("cpu_vs_warm_get")
        if cpu_warm:
            shown += f" (by server CPU: {cpu_warm['median']:.2f}x)"
    return shown


def perf_headline(perf: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not perf:
        return []
    lines: list[dict[str, Any]] = []
    for row in perf.get("ladder", []):
        shown = _shown(row)
        line: dict[str, Any] = {
            "name": f"ladder: {row['label']}",
            "value": row["rps"],
            "shown": shown,
            "target": "",
            "ok": None,
        }
        for suffix, (key, target) in TARGETS.items():
            if row["name"].startswith("ui_") and row["name"].endswith(suffix) and row.get(key):
                line["target"] = f">= {target}x {WHAT[key]}"
                line["ok"] = row[key]["median"] >= target
        lines.append(line)
    for profile in perf.get("profiles", []):
        if "breakdown" not in profile:
            continue
        top = ", ".join(
            f"{b['category'].split(' (')[0]} {b['us_per_launch']:.0f} us"
            for b in profile["breakdown"][:4]
        )
        lines.append(
            {
                "name": f"first launch CPU ({profile['label']})",
                "value": profile["us_per_launch"],
                "shown": f"{profile['us_per_launch']:,.0f} us: {top}",
                "target": "",
                "ok": None,
            }
        )
    passes = perf.get("publish_pass")
    if passes:
        lines.append(
            {
                "name": f"first pass of {passes['users']:,} users after a publish / "
                "the pass before (time)",
                "value": passes["after_over_before_time"],
                "shown": f"{passes['after_over_before_time']:.2f}x",
                "target": "<= 2x",
                "ok": passes["met"],
            }
        )
    hostile = perf.get("hostile")
    if hostile:
        lines.append(
            {
                "name": f"RSS growth, {hostile['duration_s']:g}s of unique junk queries",
                "value": hostile["growth_mb"],
                "shown": f"{hostile['rss_before_mb']:,.0f} -> "
                f"{max(hostile['rss_after_mb'], hostile['rss_after_2s_mb']):,.0f}"
                f" MB (+{hostile['growth_mb']:,.0f} MB, "
                f"{hostile['requests']:,} requests)",
                "target": f"< {hostile['target_mb']:g} MB",
                "ok": hostile["met"],
            }
        )
    return lines


def perf_section(stats: dict[str, Any]) -> list[str]:
    perf = stats.get("perf")
    if not perf:
        return []
    s = perf["settings"]
    lines = [
        "## Ladder (same bytes, one interleaved run)",
        "",
        f"{s['rounds']} round(s) of {s['duration']} per rung, wrk {s['threads']} thread / "
        f"{s['connections']} connections on the load core, every server on the server "
        f"core; {s['warm_clients']} warm clients; body {perf.get('body_bytes', 0):,} "
        f"bytes; {s['users']:,} users bulk-seeded per store. Ratios are paired per "
        "round (median, range).",
        "",
        *ladder_lines(perf),
        "",
    ]
    for store, seeded in perf.get("seeding", {}).items():
        lines.append(f"- seeded {store}: {seeded}")
    for check in perf.get("checks", []):
        lines.append(f"- {check}")
    for profile in perf.get("profiles", []):
        lines += ["", f"### Where a first launch goes: {profile['label']}", ""]
        if "breakdown" not in profile:
            lines.append(profile.get("error", ""))
            continue
        lines += [
            f"py-spy, {profile['samples']:,} samples over {profile['requests']:,} first "
            f"launches ({profile['rps']:,}/s; "
            f"{profile.get('samples_without_python_frame', 0):,} samples without a Python "
            "frame left out: a waiting thread, not CPU); server CPU "
            f"{profile['us_per_launch']:,.0f} us per launch (by /proc per thread: the main "
            "threads' share by the samples, the HTTP server's other threads a row of their own)"
            + (
                f"; Redis {profile['redis_commands_per_launch']} commands "
                f"and {profile['redis_cpu_us_per_launch']} us of "
                "redis-server CPU per launch"
                if "redis_commands_per_launch" in profile
                else ""
            ),
            "",
            "| us per launch | share | where |",
            "|---|---|---|",
        ]
        lines += [
            f"| {b['us_per_launch']:.1f} | {100 * b['share']:.1f}% | {b['category']} |"
            for b in profile["breakdown"]
        ]
    if perf.get("events_cost"):
        lines += ["", "### Cost of one launch's event batch", ""]
        lines += [f"- {e}" for e in perf["events_cost"]]
    if perf.get("publish_pass"):
        lines += ["", "### First pass after a publish", "", f"{perf['publish_pass']}"]
    if perf.get("hostile"):
        lines += ["", "### Hostile traffic", "", f"{perf['hostile']}"]
    return [*lines, ""]

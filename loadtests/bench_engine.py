"""Cold-path benchmark of the engine: layout() + encode_layout() on the largest shipped page.

DESIGN section 7 target: p99 < 1 ms in-process for the 40-component page. Every call is a
cold path (no cache): plan, render with the final check, and JSON encoding. Profiles are
random but seeded, shaped like launch traffic: a share of anonymous users, most users with
some affinity history, a few with elderly, accessibility or segment settings.

    python loadtests/bench_engine.py               # table
    python loadtests/bench_engine.py --json        # one JSON object on stdout
    python loadtests/bench_engine.py --n 50000 --page product
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from uiserver.catalog import load_catalog, load_templates, template_version  # noqa: E402
from uiserver.engine import Engine, encode_layout  # noqa: E402
from uiserver.engine.rules import select_mode  # noqa: E402
from uiserver.policy import Policy, load_policy  # noqa: E402
from uiserver.schema import Context, Profile, Settings, Template  # noqa: E402

SEGMENTS = ("churn_risk", "vip", "new_user", "high_value")
# Launch classes (`launch_class`), reported separately: the tail of the cold path is one class.
CLASSES = ("anonymous", "standard", "standard-remembered", "elderly", "elderly-remembered")


def launch_class(page: str, profile: Profile, context: Context, policy: Policy) -> str:
    """The launch's class: anonymous, else its mode, `-remembered` for a personalized user
    (strength above 0) the server remembers a served order of `page` for (a returning user:
    the stability ranks and affinity moves run, the most expensive plans)."""
    if not profile.user_id:
        return "anonymous"
    mode = select_mode(profile.settings, context, policy)
    remembered = profile.settings.personalization > 0.0 and bool(profile.last_order.get(page))
    return f"{mode}-remembered" if remembered else mode


def random_inputs(rng: random.Random, template: Template, i: int) -> tuple[Profile, Context]:
    """One launch: a profile and a context, drawn from a traffic-like mix."""
    keys = sorted({c.category or c.id for c in template.components})
    ids = [c.id for c in template.components]
    roll = rng.random()
    if roll < 0.2:
        profile = Profile()  # anonymous
    else:
        settings = Settings(
            elderly_mode=rng.choice(("auto", "auto", "auto", "on", "off")),
            font_scale=rng.choice((1.0, 1.0, 1.0, 1.25, 1.5, 2.0)),
            high_contrast=rng.random() < 0.1,
            reduce_motion=rng.random() < 0.1,
            screen_reader=rng.random() < 0.05,
            handedness=rng.choice(("unknown", "unknown", "right", "left")),
            personalization=rng.choice((1.0, 1.0, 1.0, 0.5, 0.0)),
            age_band=rng.choice(("18_39", "40_59", "unknown", "60_plus", "under_18")),
        )
        # At most 12 keys (fewer on a page that has fewer: `category` has 9).
        affinities = {
            k: round(rng.expovariate(0.2), 2)
            for k in rng.sample(keys, rng.randint(0, min(12, len(keys))))
        }
        # Half the users come back: their last-served order is a shuffle of a few neighbours
        # of the template order (what a previous launch may have served them).
        last = {}
        if rng.random() < 0.5:
            served = ids[:]
            for _ in range(rng.randint(0, 4)):
                if len(served) < 2:
                    break
                k = rng.randrange(len(served) - 1)
                served[k], served[k + 1] = served[k + 1], served[k]
            last = {template.page: served}
        profile = Profile(
            user_id=f"user-{i}",
            settings=settings,
            affinities=affinities,
            evidence=rng.randint(0, 60),
            segments=frozenset(s for s in SEGMENTS if rng.random() < 0.1),
            last_order=last,
        )
    context = Context(
        device=rng.choice(("phone", "phone", "phone", "tablet", "desktop")),
        width=rng.choice((375, 390, 414, 768, 1280)),
        dark=rng.random() < 0.3,
        low_power=rng.random() < 0.1,
        font_px=rng.choice((None, None, None, 14.0, 17.0, 20.0, 24.0)),
    )
    return profile, context


def percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, int(q * len(sorted_values)))
    return sorted_values[index]


def run(n: int, seed: int, page: str | None) -> dict[str, Any]:
    catalog = load_catalog(ROOT / "components")
    templates = load_templates(ROOT / "layouts")
    if page is None:
        page = max(templates, key=lambda p: len(templates[p].components))
    template = templates[page]
    engine = Engine(catalog, load_policy())
    compiled = engine.compile(template, template_version(template))
    rng = random.Random(seed)
    inputs = [random_inputs(rng, template, i) for i in range(n)]
    classes = [launch_class(page, p, c, engine.policy) for p, c in inputs]

    for profile, context in inputs[:500]:  # warm-up: imports, caches, branch predictors
        encode_layout(engine.layout(compiled, profile, context))

    total: list[float] = []
    plan_t: list[float] = []
    render_t: list[float] = []
    cpu: list[float] = []
    sizes = 0
    clock = time.perf_counter_ns
    # CPU time of this thread: what the engine costs, without the time the OS gave other
    # processes (on a busy 2-core machine wall-clock tails measure the neighbours).
    cpu_clock = time.thread_time_ns
    gc.collect()
    for day, (profile, context) in enumerate(inputs):
        c0 = cpu_clock()
        t0 = clock()
        plan = engine.plan(compiled, profile, context, day=day)
        t1 = clock()
        body = encode_layout(engine.render(compiled, plan))
        t2 = clock()
        c1 = cpu_clock()
        plan_t.append((t1 - t0) / 1000)
        render_t.append((t2 - t1) / 1000)
        total.append((t2 - t0) / 1000)
        cpu.append((c1 - c0) / 1000)
        sizes += len(body)

    def stats(values: list[float]) -> dict[str, float]:
        s = sorted(values)
        return {
            "p50_us": round(percentile(s, 0.50), 1),
            "p90_us": round(percentile(s, 0.90), 1),
            "p99_us": round(percentile(s, 0.99), 1),
            "max_us": round(s[-1], 1),
            "mean_us": round(sum(s) / len(s), 1),
        }

    return {
        "page": page,
        "components": len(template.components),
        "profiles": n,
        "seed": seed,
        "python": sys.version.split()[0],
        "mean_body_bytes": sizes // n,
        "layout_plus_encode": stats(total),
        "plan": stats(plan_t),
        "render_plus_encode": stats(render_t),
        "layout_plus_encode_cpu": stats(cpu),
        "load_average_1m": round(os.getloadavg()[0], 2),
        # thread CPU per launch class (`launch_class`): how many launches, and their figures
        "by_class_cpu": {
            name: {"launches": len(values), **stats(values)}
            for name in CLASSES
            if (values := [t for t, k in zip(cpu, classes, strict=True) if k == name])
        },
        "target_p99_us": 1000.0,
        "ok": percentile(sorted(total), 0.99) < 1000.0,
        "ok_cpu": percentile(sorted(cpu), 0.99) < 1000.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="random profiles (default 10000)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--page", default=None, help="page (default: the largest shipped one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = run(args.n, args.seed, args.page)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"engine cold path: page {result['page']} ({result['components']} components), "
            f"{result['profiles']} profiles, seed {result['seed']}, "
            f"~{result['mean_body_bytes']} B bodies, Python {result['python']}"
        )
        print(f"{'stage':<28}{'p50 us':>9}{'p90 us':>9}{'p99 us':>9}{'max us':>9}{'mean us':>9}")
        for label, key in (
            ("layout + encode", "layout_plus_encode"),
            ("  plan", "plan"),
            ("  render + encode", "render_plus_encode"),
            ("layout + encode (cpu)", "layout_plus_encode_cpu"),
        ):
            s = result[key]
            print(
                f"{label:<28}{s['p50_us']:>9}{s['p90_us']:>9}{s['p99_us']:>9}"
                f"{s['max_us']:>9}{s['mean_us']:>9}"
            )
        for name, s in result["by_class_cpu"].items():
            label = f"  cpu {name}"
            print(
                f"{label:<28}{s['p50_us']:>9}{s['p90_us']:>9}{s['p99_us']:>9}"
                f"{s['max_us']:>9}{s['mean_us']:>9}  ({s['launches']} launches)"
            )
        verdict = "PASS" if result["ok"] else "FAIL"
        cpu_verdict = "PASS" if result["ok_cpu"] else "FAIL"
        print(
            f"target p99 < 1000 us: wall {verdict}, thread cpu {cpu_verdict} "
            f"(1-min load average {result['load_average_1m']} on {os.cpu_count()} cores)"
        )
    return 0 if result["ok"] or result["ok_cpu"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""Driver for counting the engine cold path's instructions under callgrind (load-independent).

Plans, renders and encodes `--n` random launches of `bench_engine.py`'s traffic on the largest
page after a warm-up of `--warmup` launches (50; a long-running server's memos are warmer); the
instructions of one cold path are (Ir at --n N minus Ir at --n 0) / N:

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.300 \
        python loadtests/engine_instructions.py --n 300
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.0 \
        python loadtests/engine_instructions.py --n 0
    callgrind_annotate /tmp/cg.300 | head -60

`--only CLASS` runs only the measured launches of one class (`bench_engine.launch_class`:
anonymous, standard, standard-remembered, elderly, elderly-remembered; `none`: no measured
launch) and prints how many ran; the same inputs are drawn and classified whatever the options,
so one launch of that class costs (Ir at --n N --only CLASS minus Ir at --n N --only none) /
that count.

`--cprofile OUT` profiles the measured launches only (cProfile, not the warm-up) and writes
pstats to OUT (`python -m pstats OUT`, or `--top K` lines of own time printed): where one
class's time goes by function, the check's rules each a function. cProfile's own overhead
weighs on Python calls, so read its shares, not its microseconds.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loadtests.bench_engine import CLASSES, launch_class, random_inputs  # noqa: E402
from uiserver.catalog import load_catalog, load_templates, template_version  # noqa: E402
from uiserver.engine import Engine, encode_layout  # noqa: E402
from uiserver.policy import load_policy  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="measured launches (default 300)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--only", choices=(*CLASSES, "none"), default=None, help="one launch class")
    parser.add_argument("--page", default=None, help="page (default: the largest shipped one)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=50,
        help="launches before the measured ones (default 50; the engine's memos fill with them)",
    )
    parser.add_argument(
        "--cprofile", type=Path, default=None, help="pstats of the measured launches"
    )
    parser.add_argument("--top", type=int, default=40, help="with --cprofile: lines printed")
    args = parser.parse_args(argv)
    templates = load_templates(ROOT / "layouts")
    page = args.page or max(templates, key=lambda p: len(templates[p].components))
    template = templates[page]
    engine = Engine(load_catalog(ROOT / "components"), load_policy())
    compiled = engine.compile(template, template_version(template))
    rng = random.Random(args.seed)
    # The same inputs are drawn whatever --n, so that their cost cancels in the difference.
    warm = args.warmup
    inputs = [random_inputs(rng, template, i) for i in range(warm + max(args.n, 300))]
    classes = [launch_class(page, p, c, engine.policy) for p, c in inputs]
    ran = 0
    profiler = cProfile.Profile() if args.cprofile else None
    for day, (profile, context) in enumerate(inputs[: warm + args.n]):
        if day >= warm and args.only is not None and classes[day] != args.only:
            continue
        ran += day >= warm
        if profiler is not None and day >= warm:
            profiler.enable()
        encode_layout(engine.render(compiled, engine.plan(compiled, profile, context, day=day)))
        if profiler is not None:
            profiler.disable()
    print(f"{ran} measured launches" + (f" of class {args.only}" if args.only else ""))
    if profiler is not None:
        profiler.dump_stats(args.cprofile)
        pstats.Stats(str(args.cprofile)).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Driver for counting the engine cold path's instructions under callgrind (load-independent).

Plans, renders and encodes `--n` random launches of `bench_engine.py`'s traffic on the largest
page after a warm-up of 50; the instructions of one cold path are (Ir at --n N minus Ir at
--n 0) / N:

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.300 \
        python loadtests/engine_instructions.py --n 300
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.0 \
        python loadtests/engine_instructions.py --n 0
    callgrind_annotate /tmp/cg.300 | head -60
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loadtests.bench_engine import random_inputs  # noqa: E402
from uiserver.catalog import load_catalog, load_templates, template_version  # noqa: E402
from uiserver.engine import Engine, encode_layout  # noqa: E402
from uiserver.policy import load_policy  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="measured launches (default 300)")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args(argv)
    templates = load_templates(ROOT / "layouts")
    page = max(templates, key=lambda p: len(templates[p].components))
    template = templates[page]
    engine = Engine(load_catalog(ROOT / "components"), load_policy())
    compiled = engine.compile(template, template_version(template))
    rng = random.Random(args.seed)
    # The same inputs are drawn whatever --n, so that their cost cancels in the difference.
    inputs = [random_inputs(rng, template, i) for i in range(50 + max(args.n, 300))]
    for day, (profile, context) in enumerate(inputs[: 50 + args.n]):
        encode_layout(engine.render(compiled, engine.plan(compiled, profile, context, day=day)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

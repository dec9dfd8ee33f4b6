"""The layout the engine makes for each persona case in tests/cases/ (the same construction as
the server's own case test, tests/cases/test_cases.py): {case name: layout document} as JSON on
stdout. Run by scripts/gen-cases.js with the Python that has uiserver installed; argv[1] is the
repository root.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import msgspec

from uiserver.catalog import load_catalog, load_templates, template_version
from uiserver.engine import Engine
from uiserver.policy import load_policy
from uiserver.schema import Context, Profile


def main(root: Path) -> None:
    engine = Engine(load_catalog(root / "components"), load_policy())
    templates = load_templates(root / "layouts")
    layouts = {}
    for path in sorted((root / "tests" / "cases").glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        template = templates.get(case["page"])
        if template is None:
            sys.exit(f"{path.name}: page {case['page']!r} is not shipped in layouts/")
        compiled = engine.compile(template, template_version(template))
        profile = msgspec.convert(case.get("profile", {}), Profile)
        context = msgspec.convert(case.get("context", {}), Context)
        layout = engine.layout(compiled, profile, context, day=case.get("day", 0))
        layouts[path.stem] = json.loads(msgspec.json.encode(layout))
    json.dump(layouts, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))

"""What the console's phone preview draws for each layout document given (JSON files in argv[2:]),
as the web renderer's test compares it: for every component, its id, how it is drawn (the
`c-<kind>` class), the first element inside it, and where it sits (navbar, main, float-left,
float-right, cell-left, cell-center, cell-right). Run with the Python that has uiserver;
argv[1] is the repository root. Prints {file name: [{id, kind, tag, area}]} as JSON.
"""

from __future__ import annotations

import json
import sys
from html.parser import HTMLParser
from pathlib import Path

import msgspec

from uiserver.catalog import load_catalog
from uiserver.http.preview.h5 import render_h5
from uiserver.schema import Layout

AREAS = ("navbar", "float-left", "float-right", "cell-left", "cell-center", "cell-right")
VOID = {"img", "input", "meta", "br", "link"}


class Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []  # the area each open element is in
        self.out: list[dict[str, str]] = []
        self.want_child = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        area = self.stack[-1] if self.stack else ""
        for name in AREAS:
            if name in classes:
                area = name
        if tag == "main":
            area = "main"
        if self.want_child:
            self.out[-1]["tag"] = tag
            self.want_child = False
        if "c" in classes and a.get("data-id"):
            kind = next(c[2:] for c in classes if c.startswith("c-"))
            self.out.append({"id": a["data-id"] or "", "kind": kind, "tag": "", "area": area})
            self.want_child = True
        if tag not in VOID:
            self.stack.append(area)

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self.stack:
            self.stack.pop()


def main(root: Path, files: list[str]) -> None:
    catalog = load_catalog(root / "components")
    out = {}
    for name in files:
        path = Path(name)
        document = json.loads(path.read_bytes())
        # a case fixture (test/fixtures/cases) holds its layout under "layout"
        layout = msgspec.convert(document.get("layout", document), Layout)
        parser = Structure()
        parser.feed(render_h5(layout, catalog, title=layout.page, lang="zh-CN"))
        out[path.name] = parser.out
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])

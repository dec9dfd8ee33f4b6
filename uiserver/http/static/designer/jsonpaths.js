// Where each value of a JSON text starts: path ("components[3].label") -> 1-based line, so a
// problem that names a field (`components[3].label`, `$.theme.palette.text`) is marked at its
// line in the source editor. A small scanner over JSON's grammar; on text that is not JSON it
// returns what it found before the error (problems then fall back to line 1).
(function () {
  "use strict";

  function scan(text) {
    const lines = new Map();
    let i = 0;
    let line = 1;
    const n = text.length;

    function ws() {
      while (i < n) {
        const c = text[i];
        if (c === "\n") { line += 1; i += 1; }
        else if (c === " " || c === "\t" || c === "\r") { i += 1; }
        else break;
      }
    }
    function string() {
      const start = ++i;
      while (i < n && text[i] !== '"') {
        if (text[i] === "\n") line += 1;
        i += text[i] === "\\" ? 2 : 1;
      }
      const raw = text.slice(start, i);
      i += 1;
      try { return JSON.parse('"' + raw + '"'); } catch (e) { return raw; }
    }
    function value(path) {
      ws();
      if (i >= n) throw new Error("end");
      lines.set(path, line);
      const c = text[i];
      if (c === "{") {
        i += 1; ws();
        if (text[i] === "}") { i += 1; return; }
        for (;;) {
          ws();
          if (text[i] !== '"') throw new Error("key");
          const keyLine = line;
          const key = string();
          const child = path ? path + "." + key : key;
          ws();
          if (text[i] !== ":") throw new Error("colon");
          i += 1;
          value(child);
          lines.set(child, Math.min(lines.get(child), keyLine));
          ws();
          if (text[i] === ",") { i += 1; continue; }
          if (text[i] === "}") { i += 1; return; }
          throw new Error("object");
        }
      } else if (c === "[") {
        i += 1; ws();
        if (text[i] === "]") { i += 1; return; }
        for (let k = 0; ; k += 1) {
          value(path + "[" + k + "]");
          ws();
          if (text[i] === ",") { i += 1; continue; }
          if (text[i] === "]") { i += 1; return; }
          throw new Error("array");
        }
      } else if (c === '"') {
        string();
      } else {
        while (i < n && !",}] \t\r\n".includes(text[i])) i += 1;
      }
    }
    try { value(""); } catch (e) { /* keep what was found */ }
    return lines;
  }

  // The line of `field` in `lines`, or of its nearest parent that has one (1 when none).
  function lineOf(lines, field) {
    let path = String(field || "").replace(/^\$\.?/, "");
    while (path) {
      if (lines.has(path)) return lines.get(path);
      const cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
      path = cut > 0 ? path.slice(0, cut) : "";
    }
    return 1;
  }

  // The component index a field names ("components[3].label" -> 3), or null.
  function componentOf(field) {
    const m = /^(?:\$\.)?components\[(\d+)\]/.exec(String(field || ""));
    return m ? Number(m[1]) : null;
  }

  window.JsonPaths = { scan, lineOf, componentOf };
})();

// The console's source editor: CodeMirror 6 with line numbers, JSON/YAML highlighting and a lint
// gutter, behind a small global so the console's own scripts (served from 'self', no bundler)
// can use it:
//
//   const view = UIEditor.createEditor(textarea.parentNode, text, "yaml", (text) => {...},
//                                      {label: "Template of home"});
//   UIEditor.setDiagnostics(view, [{line: 12, message: "label is blank", severity: "error"}]);
//   UIEditor.getText(view); UIEditor.setText(view, text); view.destroy();
//
// A problem names a 1-based `line` (and optionally a 1-based `column` and an `end_line`) or
// raw document offsets `from`/`to`; lines outside the document are clamped to it, so a stale
// problem list never throws.
import { basicSetup } from "codemirror";
import { EditorView } from "@codemirror/view";
import { EditorState } from "@codemirror/state";
import { indentWithTab } from "@codemirror/commands";
import { keymap } from "@codemirror/view";
import { json } from "@codemirror/lang-json";
import { yaml } from "@codemirror/lang-yaml";
import { lintGutter, setDiagnostics as lintSet, diagnosticCount } from "@codemirror/lint";

const LANGUAGES = { json, yaml };
const SEVERITIES = new Set(["hint", "info", "warning", "error"]);

function language(lang) {
  const make = LANGUAGES[lang];
  if (!make) throw new Error(`unknown language ${lang}: one of ${Object.keys(LANGUAGES)}`);
  return make();
}

export function createEditor(el, doc, lang, onChange, options = {}) {
  const extensions = [
    basicSetup,
    // Tab indents; Escape then Tab leaves the editor (CodeMirror's documented keyboard escape).
    keymap.of([indentWithTab]),
    language(lang),
    lintGutter(),
    EditorView.lineWrapping,
    EditorView.contentAttributes.of({ "aria-label": options.label || "Source" }),
    EditorView.updateListener.of((update) => {
      if (update.docChanged && onChange) onChange(update.state.doc.toString());
    }),
  ];
  if (options.readOnly) extensions.push(EditorState.readOnly.of(true));
  return new EditorView({ doc: doc || "", extensions, parent: el });
}

function range(doc, problem) {
  if (Number.isInteger(problem.from)) {
    const from = Math.max(0, Math.min(problem.from, doc.length));
    const to = Number.isInteger(problem.to) ? Math.max(from, Math.min(problem.to, doc.length)) : from;
    return [from, to];
  }
  const clamp = (n) => Math.max(1, Math.min(Number.isInteger(n) ? n : 1, doc.lines));
  const first = doc.line(clamp(problem.line));
  const last = doc.line(clamp(problem.end_line || problem.line));
  const column = Number.isInteger(problem.column) ? problem.column - 1 : 0;
  const from = Math.min(first.from + Math.max(0, column), first.to);
  return [from, Math.max(from, last.to)];
}

export function setDiagnostics(view, problems) {
  const doc = view.state.doc;
  const diagnostics = (problems || []).map((problem) => {
    const [from, to] = range(doc, problem);
    const severity = SEVERITIES.has(problem.severity) ? problem.severity : "error";
    const message = problem.field ? `${problem.field}: ${problem.message}` : String(problem.message);
    return { from, to, severity, message, source: problem.source || "uiserver" };
  });
  view.dispatch(lintSet(view.state, diagnostics));
  return diagnosticCount(view.state);
}

export function getText(view) {
  return view.state.doc.toString();
}

export function setText(view, text) {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}

export const version = "1";

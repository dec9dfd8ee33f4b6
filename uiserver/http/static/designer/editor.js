// The designer's editor page: the source in CodeMirror (line numbers, problems marked at their
// line), direct editing (outline.js), and on every edit, debounced: validation
// (`POST /v1/admin/templates/{page}/validate`), two live phones
// (`POST /v1/admin/preview/{page}?format=html&marks=1`) and an autosaved draft
// (`PUT /v1/admin/drafts/{page}`). All calls go through the console's bridge
// (`/designer/api/v1/admin/...`, session cookie + X-CSRF-Token), i.e. the admin API itself.
//
// Without this script the page is the plain form (textarea, Validate, Preview, Publish); with
// it, the textarea stays the form's field, kept equal to the editor's text.
(function () {
  "use strict";

  const DEBOUNCE_MS = 300;
  const SAVE_MS = 800;

  function start() {
    const dataEl = document.getElementById("designer-data");
    if (!dataEl || !window.UIEditor || !window.JsonPaths || !window.DesignerOutline) return;
    const data = JSON.parse(dataEl.textContent);
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const textarea = document.getElementById("template");
    const root = document.getElementById("designer");
    const status = document.getElementById("status");
    const page = data.page;

    const state = {
      data, doc: null, problems: [], selected: null, lines: new Map(), view: null,
      ticket: 0, dirty: false, programmatic: false,
    };

    state.api = function (path, options) {
      const opts = options || {};
      return fetch(data.api + path, {
        method: opts.method || "GET",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: opts.body === undefined ? undefined : (typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body)),
      });
    };

    // ------------------------------------------------------------------ text <-> document

    function parse(text) {
      try { return [JSON.parse(text), null]; } catch (e) { return [null, e]; }
    }

    function onText(text, fromOutline) {
      textarea.value = text;
      const [doc, error] = parse(text);
      state.doc = doc && typeof doc === "object" && !Array.isArray(doc) ? doc : null;
      state.parseError = error;
      state.lines = JsonPaths.scan(text);
      if (state.doc && !state.doc.components) state.doc = null;
      if (state.doc && !state.doc.components.some((c) => c.id === state.selected)) state.selected = null;
      if (!fromOutline) DesignerOutline.render(state);
      state.dirty = true;
      schedule();
      scheduleSave();
    }

    state.commit = function (doc, announcement, opts) {
      state.doc = doc;
      const text = JSON.stringify(doc, null, 2) + "\n";
      state.programmatic = true;
      UIEditor.setText(state.view, text);
      state.programmatic = false;
      onText(text, true);
      DesignerOutline.render(state, opts);
      if (announcement) DesignerOutline.announce(announcement);
    };

    // ------------------------------------------------------------------ validate + preview

    let timer = null;
    function schedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, DEBOUNCE_MS);
    }

    function jsonErrorLine(error, text) {
      const m = /position (\d+)/.exec(String(error && error.message));
      if (!m) return 1;
      return text.slice(0, Number(m[1])).split("\n").length;
    }

    async function refresh() {
      const ticket = ++state.ticket;
      const text = textarea.value;
      if (!state.doc) {
        const line = jsonErrorLine(state.parseError, text);
        state.problems = [{ field: "template", message: state.parseError
          ? `not valid JSON (line ${line}): ${state.parseError.message}` : "must be a template object with components", line }];
        show(ticket);
        phonesMessage("Cannot preview: the source is not a JSON template.");
        return;
      }
      const body = JSON.stringify({ template: state.doc });
      let result;
      try {
        const response = await state.api(`/templates/${page}/validate`, { method: "POST", body });
        result = await response.json();
      } catch (e) {
        if (ticket === state.ticket) status.textContent = "Cannot reach the server to validate.";
        return;
      }
      if (ticket !== state.ticket) return;
      state.problems = result.problems || (result.error
        ? [{ field: result.error.field || "template", message: result.error.message }] : []);
      show(ticket);
      DesignerOutline.render(state, { keepPanel: true });
      await previews(body, ticket);
    }

    function show(ticket) {
      if (ticket !== state.ticket) return;
      const problems = state.problems;
      UIEditor.setDiagnostics(state.view, problems.map((p) => ({
        line: p.line || JsonPaths.lineOf(state.lines, p.field), field: p.field, message: p.message })));
      const box = document.getElementById("live-problems");
      box.replaceChildren();
      const head = document.createElement("p");
      head.className = problems.length ? "error" : "ok";
      head.textContent = problems.length
        ? `${problems.length} problem${problems.length > 1 ? "s" : ""}: publishing would be refused.`
        : "Valid: no schema or accessibility problems.";
      box.append(head);
      if (problems.length) {
        const ul = document.createElement("ul");
        for (const p of problems) {
          const li = document.createElement("li");
          const line = p.line || JsonPaths.lineOf(state.lines, p.field);
          const code = document.createElement("code");
          code.textContent = p.field;
          const go = document.createElement("button");
          go.type = "button";
          go.className = "link";
          go.textContent = `line ${line}`;
          go.setAttribute("aria-label", `Show ${p.field} at line ${line} in the source`);
          go.addEventListener("click", () => {
            const doc = state.view.state.doc;
            const at = doc.line(Math.max(1, Math.min(line, doc.lines))).from;
            state.view.dispatch({ selection: { anchor: at }, scrollIntoView: true });
            state.view.focus();
          });
          li.append(code, `: ${p.message} (`, go, ")");
          ul.append(li);
        }
        box.append(ul);
      }
      status.textContent = head.textContent + (state.savedAt ? ` Draft saved ${state.savedAt}.` : "");
    }

    const phoneA = document.getElementById("phone-a");
    const phoneB = document.getElementById("phone-b");
    const personaA = document.getElementById("persona-a");
    const personaB = document.getElementById("persona-b");
    const device = document.getElementById("device");
    const dark = document.getElementById("dark");
    const SIZES = { phone: [375, 667], tablet: [768, 1024], desktop: [1280, 800] };

    function message(html) {
      return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>No preview</title></head>`
        + `<body style="font:16px/1.5 system-ui,sans-serif;color:#1a1a1a;background:#fff;padding:16px">`
        + `<main><p>${html}</p></main></body></html>`;
    }
    function escapeHtml(s) {
      return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
    }
    function phonesMessage(text) {
      for (const frame of [phoneA, phoneB]) frame.srcdoc = message(escapeHtml(text));
    }

    async function previews(body, ticket) {
      const [w, hgt] = SIZES[device.value] || SIZES.phone;
      const jobs = [[phoneA, personaA.value], [phoneB, personaB.value]].map(async ([frame, persona]) => {
        const query = new URLSearchParams({ persona, format: "html", marks: "1", draw: "1", device: device.value, dark: dark.checked ? "1" : "0" });
        const response = await state.api(`/preview/${page}?${query}`, { method: "POST", body });
        const text = await response.text();
        if (ticket !== state.ticket) return;
        frame.style.width = `${w + 24}px`;
        frame.style.height = `${hgt + 110}px`;
        frame.title = `Live preview of the draft as ${persona}`;
        if (response.ok) {
          frame.srcdoc = text;
        } else {
          let why = text;
          try { why = JSON.parse(text).error.message; } catch (e) { /* keep the text */ }
          frame.srcdoc = message(`Cannot preview as ${escapeHtml(persona)}: ${escapeHtml(why)}`);
        }
      });
      await Promise.all(jobs);
      if (ticket === state.ticket) root.setAttribute("data-previewed", String(ticket));
    }

    // ------------------------------------------------------------------ drafts (autosave)

    let saveTimer = null;
    // The version this edit started from: the form's (a reopened draft keeps its own, so
    // publishing it over a newer live version gets the conflict page).
    const base = () => {
      const field = document.querySelector('#editor-form input[name="base_version"]');
      return (field && field.value) || data.live_version;
    };
    const discard = document.getElementById("discard-draft");
    function scheduleSave() {
      window.clearTimeout(saveTimer);
      saveTimer = window.setTimeout(save, SAVE_MS);
    }
    async function save() {
      // A page not published yet has no drafts: its text lives in the form until created.
      if (state.submitting || !data.live_version) return;
      state.saving = state.api(`/drafts/${page}`, {
        method: "PUT", body: { text: textarea.value, base_version: base() } });
      const response = await state.saving;
      state.saving = null;
      if (response.ok) {
        state.savedAt = new Date().toLocaleTimeString();
        status.textContent = `Draft saved ${state.savedAt}.`;
        root.setAttribute("data-saved", textarea.value.length.toString());
        discard.hidden = false;
      } else {
        status.textContent = "The draft could not be saved; your text is still here.";
      }
    }
    discard.hidden = !document.getElementById("draft-notice");
    discard.addEventListener("click", async () => {
      window.clearTimeout(saveTimer);
      const response = await state.api(`/drafts/${page}`, { method: "DELETE" });
      if (response.ok) window.location.reload();
    });

    // Publishing (or validating) through the form: no autosave may land after it, or a
    // published draft would come back. Wait for a save in flight, then submit.
    const form = document.getElementById("editor-form");
    form.addEventListener("submit", (event) => {
      window.clearTimeout(saveTimer);
      state.submitting = true;
      if (state.saving) {
        event.preventDefault();
        const submitter = event.submitter;
        state.saving.finally(() => { state.saving = null; form.requestSubmit(submitter); });
      }
    });

    // ------------------------------------------------------------------ wiring

    for (const [value, title] of data.personas) {
      personaA.append(new Option(title, value));
      personaB.append(new Option(title, value));
    }
    personaA.value = "default";
    personaB.value = data.personas.some((p) => p[0] === "elderly") ? "elderly" : data.personas[0][0];
    for (const el of [personaA, personaB, device, dark]) el.addEventListener("change", schedule);
    // Each drawn phone is a canvas (canvas.js): select, drag, edit a label in place.
    for (const frame of [phoneA, phoneB]) {
      frame.addEventListener("load", () => { if (window.DesignerCanvas) DesignerCanvas.attach(state, frame); });
    }

    root.hidden = false;
    document.getElementById("plain-source").hidden = true;
    state.view = UIEditor.createEditor(document.getElementById("source"), textarea.value,
      /^\s*[{[]/.test(textarea.value) ? "json" : "yaml",
      (text) => { if (!state.programmatic) onText(text, false); },
      { label: `Template of ${page}, source` });
    const [doc] = parse(textarea.value);
    state.doc = doc && doc.components ? doc : null;
    state.lines = JsonPaths.scan(textarea.value);
    DesignerOutline.mount(state);
    if (window.DesignerExperiment) DesignerExperiment.mount(state);
    refresh();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

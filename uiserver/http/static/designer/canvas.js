// The phone is the canvas: on each drawn phone (a same-origin srcdoc frame of the H5 preview),
// click a component to select it (the outline and the properties follow), drag it to move it
// (its zone and the pinned components are shown while dragging; a drop outside its zone is
// refused with the reason), double-click it to edit its label in place. The outline stays the
// keyboard and screen-reader way to do the same; all three act on the same draft (`state.doc`).
//
// The phones' documents hold no script: every listener lives here, in the console's own file.
(function () {
  "use strict";

  const STYLE = `
    [data-id]:not(.ghost) { cursor: pointer; }
    [data-id] a, [data-id] img { -webkit-user-drag: none; }
    .ds-selected { outline: 3px solid #0B57D0 !important; outline-offset: 2px; }
    .ds-dragging [data-id] { position: relative; }
    .ds-dragging, .ds-dragging * { user-select: none; }
    .ds-dragging [data-ds-pinned]::after, .ds-dragging .ds-other-zone::after {
      position: absolute; right: 4px; top: 2px; padding: 0 6px; border-radius: 4px; font: 600 12px/1.5 system-ui, sans-serif;
      background: #3C3C3C; color: #FFFFFF; pointer-events: none;
    }
    .ds-dragging [data-ds-pinned]::after { content: "pinned: stays put"; }
    .ds-dragging .ds-other-zone:not([data-ds-pinned])::after { content: "zone " attr(data-ds-zone); }
    .ds-dragging .ds-other-zone { opacity: 0.45; }
    .ds-dragging .ds-same-zone { background: #E8F0FE; }
    .ds-source { opacity: 0.6; outline: 2px dashed #0B57D0; }
    .ds-drop { height: 4px; margin: 2px 0; background: #0B57D0; border-radius: 2px; }
    .ds-drop.ds-refused { background: #B00020; }
  `;

  function meta(state) {
    const by = new Map();
    (state.doc ? state.doc.components : []).forEach((c, i) => by.set(c.id, { index: i, zone: c.zone || "", pinned: !!c.pinned }));
    return by;
  }

  function frames() { return Array.from(document.querySelectorAll("iframe.phone")); }

  // The selection drawn on every phone.
  function highlight(state) {
    for (const frame of frames()) {
      const doc = frame.contentDocument;
      if (!doc) continue;
      for (const el of doc.querySelectorAll("[data-id]")) {
        el.classList.toggle("ds-selected", el.dataset.id === state.selected && !el.classList.contains("ghost"));
      }
    }
  }

  function select(state, id) {
    state.selected = id;
    DesignerOutline.render(state);
    highlight(state);
    const row = document.querySelector(`#outline li[data-id="${CSS.escape(id)}"]`);
    if (row) row.scrollIntoView({ block: "nearest" });
    DesignerOutline.announce(`Selected ${id}.`);
  }

  // ------------------------------------------------------------------ label in place

  function editLabel(state, frame, el) {
    const id = el.dataset.id;
    const comp = state.doc && state.doc.components.find((c) => c.id === id);
    if (!comp) return;
    document.getElementById("inplace-label")?.remove();
    const outer = frame.getBoundingClientRect();
    const box = el.getBoundingClientRect();
    const input = document.createElement("input");
    input.type = "text";
    input.id = "inplace-label";
    input.className = "inplace";
    input.value = comp.label || "";
    input.maxLength = 200;
    input.setAttribute("aria-label", `Label of ${id}`);
    Object.assign(input.style, {
      position: "absolute",
      left: `${window.scrollX + outer.left + frame.clientLeft + box.left}px`,
      top: `${window.scrollY + outer.top + frame.clientTop + box.top}px`,
      width: `${Math.max(160, box.width)}px`,
    });
    let done = false;
    const finish = (keep) => {
      if (done) return;
      done = true;
      const value = input.value;
      input.remove();
      if (keep && value !== (comp.label || "")) {
        const doc = JSON.parse(JSON.stringify(state.doc));
        doc.components.find((c) => c.id === id).label = value;
        state.selected = id;
        state.commit(doc, `Label of ${id} changed.`);
      }
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); finish(true); }
      if (e.key === "Escape") { e.preventDefault(); finish(false); }
    });
    input.addEventListener("blur", () => finish(true));
    document.body.append(input);
    input.focus();
    input.select();
  }

  // ------------------------------------------------------------------ drag on the phone

  function startDrag(state, frame, el, down) {
    const doc = frame.contentDocument;
    const info = meta(state);
    const mine = info.get(el.dataset.id);
    if (!mine) return;
    if (mine.pinned) {
      DesignerOutline.announce(`${el.dataset.id} is pinned: navigation stays put (WCAG 3.2.3). Unpin it in Properties to move it.`);
      return;
    }
    let dragging = false;
    let drop = null; // { id, after, ok }
    const bar = doc.createElement("div");
    bar.className = "ds-drop";
    bar.setAttribute("aria-hidden", "true");

    function begin() {
      dragging = true;
      doc.body.classList.add("ds-dragging");
      el.classList.add("ds-source");
      for (const other of doc.querySelectorAll("main [data-id]:not(.ghost)")) {
        const m = info.get(other.dataset.id);
        if (!m) continue;
        other.dataset.dsZone = m.zone || "none";
        if (m.pinned) other.dataset.dsPinned = "1";
        other.classList.toggle("ds-same-zone", m.zone === mine.zone);
        other.classList.toggle("ds-other-zone", m.zone !== mine.zone);
      }
    }

    function move(e) {
      if (!dragging && Math.abs(e.clientY - down.clientY) < 6) return;
      if (!dragging) begin();
      const under = doc.elementFromPoint(e.clientX, e.clientY);
      const target = under && under.closest("main [data-id]:not(.ghost)");
      if (!target || target === el) return;
      const rect = target.getBoundingClientRect();
      const after = e.clientY > rect.top + rect.height / 2;
      const m = info.get(target.dataset.id);
      const ok = !!m && m.zone === mine.zone;
      drop = { id: target.dataset.id, after, ok, zone: m ? m.zone : "" };
      bar.classList.toggle("ds-refused", !ok);
      target.insertAdjacentElement(after ? "afterend" : "beforebegin", bar);
    }

    function end() {
      doc.removeEventListener("pointermove", move);
      doc.removeEventListener("pointerup", end);
      doc.removeEventListener("pointercancel", cancel);
      bar.remove();
      doc.body.classList.remove("ds-dragging");
      el.classList.remove("ds-source");
      if (!dragging || !drop) return;
      const id = el.dataset.id;
      if (!drop.ok) {
        DesignerOutline.announce(`Not moved: ${id} belongs to zone ${mine.zone || "none"}, and ${drop.id} to zone ${drop.zone || "none"}; ` +
          "personalization reorders within a zone. Drop it among its zone's components, or change its zone in Properties.");
        return;
      }
      const from = info.get(id).index;
      let to = info.get(drop.id).index + (drop.after ? 1 : 0);
      if (to > from) to -= 1;
      if (to === from) return;
      DesignerOutline.move(state, from, to, "on the phone", true);
    }

    function cancel() { drop = null; end(); }

    doc.addEventListener("pointermove", move);
    doc.addEventListener("pointerup", end);
    doc.addEventListener("pointercancel", cancel);
  }

  // ------------------------------------------------------------------ wiring per drawn phone

  function attach(state, frame) {
    const doc = frame.contentDocument;
    if (!doc || !doc.head || doc.getElementById("ds-style")) return;
    const style = doc.createElement("style");
    style.id = "ds-style";
    style.textContent = STYLE;
    doc.head.append(style);
    highlight(state);
    const component = (e) => {
      const el = e.target.closest && e.target.closest("[data-id]");
      return el && !el.classList.contains("ghost") && meta(state).has(el.dataset.id) ? el : null;
    };
    doc.addEventListener("click", (e) => {
      const el = component(e);
      if (!el) return;
      e.preventDefault(); // links and buttons of the preview go nowhere
      if (state.selected !== el.dataset.id) select(state, el.dataset.id);
    });
    doc.addEventListener("dblclick", (e) => {
      const el = component(e);
      if (!el) return;
      e.preventDefault();
      editLabel(state, frame, el);
    });
    // Links and pictures of the preview would start the browser's own drag (and cancel ours).
    doc.addEventListener("dragstart", (e) => e.preventDefault());
    doc.addEventListener("pointerdown", (e) => {
      const el = component(e);
      if (!el || e.button !== 0 || !el.closest("main")) return;
      startDrag(state, frame, el, e);
    });
  }

  window.DesignerCanvas = { attach, highlight, select };
})();

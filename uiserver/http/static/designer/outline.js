// The designer's direct editing: the outline (drag with SortableJS, or Move up / Move down with
// an announcement for screen readers), pin/unpin, remove, the catalogue palette, the properties
// panel (driven by the catalogue's props schema when a type has one) and the colour pickers with
// their live contrast readouts (`POST /v1/admin/contrast`: the server's ratios and floors).
//
// `state` is the editor's (editor.js): state.doc (the template, parsed), state.data (catalogue,
// placements), state.problems (the last validation), save(state, doc, announcement, opts).
(function () {
  "use strict";

  const PALETTE = ["text", "background", "primary", "on_primary", "muted", "surface"];
  const HEX = /^#[0-9a-fA-F]{6}$/;
  const NAMES = {
    text: "Text", background: "Background", primary: "Primary (buttons, borders)",
    on_primary: "Text on primary", muted: "Secondary text", surface: "Card background",
  };

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") el.textContent = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (v === true) el.setAttribute(k, "");
      else el.setAttribute(k, String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c);
    return el;
  }

  function clone(doc) { return JSON.parse(JSON.stringify(doc)); }

  // Every edit made here keeps the variants' own orders valid (variants.js): an added component
  // joins each of them, a removed one leaves, pinned ones stay at their base index.
  function save(state, doc, announcement, opts) {
    if (window.DesignerVariants) window.DesignerVariants.fit(doc);
    state.commit(doc, announcement, opts);
  }
  function types(state) { return Object.fromEntries(state.data.catalog.map((t) => [t.name, t])); }
  function safeId(id) { return String(id).replace(/[^a-zA-Z0-9_-]/g, "_"); }

  // Which theme colours a component is drawn with (the H5 renderer's, h5.html): a main action
  // button draws on_primary on primary; interactive parts have primary borders; all text is
  // text on background.
  function colourUse(ctype) {
    if (ctype && ctype.action && ctype.main) {
      return [["on_primary", "primary", "text"], ["primary", "background", "ui"]];
    }
    if (ctype && ctype.interactive) return [["text", "background", "text"], ["primary", "background", "ui"]];
    return [["text", "background", "text"]];
  }

  // The props a type takes: its catalogue schema (`props`: name -> {type, enum, kind, ...}),
  // else what the component has now (its value's JSON type).
  function propsSchema(ctype, component) {
    const schema = Object.assign({}, (ctype && ctype.props) || {});
    for (const [name, value] of Object.entries(component.props || {})) {
      if (schema[name]) continue;
      if (typeof value === "string" && HEX.test(value)) schema[name] = { type: "colour" };
      else if (typeof value === "boolean") schema[name] = { type: "boolean" };
      else if (typeof value === "number") schema[name] = { type: "number" };
      else if (typeof value === "string") schema[name] = { type: "string" };
      else schema[name] = { type: "json" };
    }
    return schema;
  }
  function isColour(spec) {
    return ["colour", "color"].includes(spec.type) || ["colour", "color"].includes(spec.format);
  }

  // ------------------------------------------------------------------ problems per component

  // The problems of one component: its own fields and contrast flags, and the theme colours
  // only it draws with (on_primary: the text of a main action button). With `theme` (the
  // properties panel) also `primary`, which every interactive component draws its borders
  // with: the outline leaves that one to the Theme colours section, or one palette problem
  // would repeat under every row.
  function problemsAt(state, index, theme) {
    const doc = state.doc;
    const comp = doc.components[index];
    const ctype = types(state)[comp.type];
    const fgs = new Set(colourUse(ctype).filter((u) => u[0] === "on_primary" || u[0] === "primary")
      .map((u) => u[0]));
    const out = [];
    for (const p of state.problems) {
      const at = JsonPaths.componentOf(p.field);
      const palette = /^\$?\.?theme\.palette\.(\w+)$/.exec(p.field || "");
      const drawn = palette && fgs.has(palette[1]) && (theme || palette[1] === "on_primary");
      if (at === index || drawn) out.push(p);
    }
    for (const flag of (state.contrastFlags[comp.id] || [])) out.push(flag);
    return out;
  }

  // ------------------------------------------------------------------ outline

  function announce(text) {
    const el = document.getElementById("announce");
    el.textContent = "";
    window.setTimeout(() => { el.textContent = text; }, 30);
  }

  // A move in the order the outline shows: the base's, or (state.orderOf) a variant's own
  // order, where pinned components keep their base position: a move only reorders the unpinned
  // ones (stepping over pinned ones).
  function moveInVariant(state, from, to, how) {
    const doc = clone(state.doc);
    const variant = (doc.variants || []).find((v) => v.name === state.orderOf);
    if (!variant || !Array.isArray(variant.order)) return;
    const order = variant.order;
    if (to < 0 || to >= order.length || from === to) return;
    const pinned = new Set(doc.components.filter((c) => c.pinned).map((c) => c.id));
    const id = order[from];
    if (pinned.has(id)) {
      announce(`${id} is pinned: it keeps its base position in every variant (WCAG 3.2.3).`);
      return;
    }
    const unpinned = order.filter((x) => !pinned.has(x));
    const was = unpinned.indexOf(id);
    const rest = order.filter((x, k) => k !== from);
    let at = rest.slice(0, to).filter((x) => !pinned.has(x)).length;
    if (at === was) at += to > from ? 1 : -1; // only crossed pinned ones: one unpinned further
    const others = unpinned.filter((x) => x !== id);
    at = Math.max(0, Math.min(others.length, at));
    if (at === was) return;
    others.splice(at, 0, id);
    variant.order = others.concat([...pinned]);
    window.DesignerVariants.fit(doc);
    state.selected = id;
    state.commit(doc, `Moved ${id} to position ${variant.order.indexOf(id) + 1} of ${order.length} in variant ${variant.name}${how ? " " + how : ""}.`);
  }

  function move(state, from, to, how, base) {
    if (state.orderOf && !base) { moveInVariant(state, from, to, how); return; }
    const doc = clone(state.doc);
    const n = doc.components.length;
    if (to < 0 || to >= n || from === to) return;
    const [item] = doc.components.splice(from, 1);
    doc.components.splice(to, 0, item);
    state.selected = item.id;
    save(state, doc, `Moved ${item.id} to position ${to + 1} of ${n}${how ? " " + how : ""}.`);
    askVariants(state, item.id, to < from);
  }

  // A move of the base order on a page whose variants have their own orders: ask whether the
  // move applies to them too (by default each variant keeps its own order).
  function askVariants(state, id, up) {
    const box = document.getElementById("variant-question");
    if (!box || !window.DesignerVariants) return;
    const names = DesignerVariants.ordered(state.doc);
    const comp = state.doc.components.find((c) => c.id === id);
    box.replaceChildren();
    box.hidden = !names.length || !comp || !!comp.pinned;
    if (box.hidden) return;
    const list = names.join(", ");
    box.append(h("p", { id: "variant-question-text",
      text: `You moved ${id} in the base order. Variant${names.length > 1 ? "s" : ""} ${list} of experiment ${state.doc.experiment || ""} ${names.length > 1 ? "have their" : "has its"} own order, where ${id} stays where it was. Apply the move to ${names.length > 1 ? "them" : "it"} too?` }),
      h("div", { class: "buttons" },
        h("button", { type: "button", id: "variant-apply-all", class: "secondary", onclick: () => {
          const doc = clone(state.doc);
          const changed = DesignerVariants.follow(doc, id, up);
          box.hidden = true;
          save(state, doc, changed.length ? `Moved ${id} in variant${changed.length > 1 ? "s" : ""} ${changed.join(", ")} too.`
            : `${id} was already in that place in every variant.`, { keepPanel: true });
        } }, "Apply to every variant"),
        h("button", { type: "button", id: "variant-base-only", class: "secondary", onclick: () => {
          box.hidden = true;
          announce(`Only the base order changed; ${list} keep${names.length > 1 ? "" : "s"} ${names.length > 1 ? "their" : "its"} own.`);
        } }, "Only the base order")));
  }

  // One outline row: `i` the component's base index, `p` its position in the order shown.
  function row(state, comp, i, n, p) {
    const ctype = types(state)[comp.type];
    const problems = problemsAt(state, i);
    const pid = `item-problems-${safeId(comp.id)}`;
    const selected = state.selected === comp.id;
    return h("li", { class: `item${selected ? " selected" : ""}${problems.length ? " flagged" : ""}`,
                     "data-id": comp.id },
      h("span", { class: "handle", "aria-hidden": "true", title: "Drag to reorder" }, "⠿"),
      h("button", { type: "button", class: "pick", "aria-pressed": selected ? "true" : "false",
                    "data-focus": `pick:${comp.id}`, "aria-describedby": problems.length ? pid : null,
                    onclick: () => { state.selected = comp.id; render(state); focus(`pick:${comp.id}`); } },
        h("span", { class: "cid", text: `${p + 1}. ${comp.id}` }),
        h("span", { class: "ctype", text: ` ${comp.type}${comp.placement && comp.placement !== "flow" ? " · " + comp.placement : ""}${comp.pinned ? " · pinned" : ""}` }),
        problems.length ? h("span", { class: "count", text: ` · ${problems.length} problem${problems.length > 1 ? "s" : ""}` }) : null),
      h("span", { class: "tools" },
        h("button", { type: "button", class: "icon", "aria-label": `Move ${comp.id} up`, "data-focus": `up:${comp.id}`,
                      disabled: p === 0, onclick: () => { move(state, p, p - 1); focus(`up:${comp.id}`, `down:${comp.id}`); } }, "↑"),
        h("button", { type: "button", class: "icon", "aria-label": `Move ${comp.id} down`, "data-focus": `down:${comp.id}`,
                      disabled: p === n - 1, onclick: () => { move(state, p, p + 1); focus(`down:${comp.id}`, `up:${comp.id}`); } }, "↓"),
        h("button", { type: "button", class: "icon", "aria-label": `Pin ${comp.id}`, "aria-pressed": comp.pinned ? "true" : "false",
                      "data-focus": `pin:${comp.id}`, onclick: () => {
                        const doc = clone(state.doc);
                        const c = doc.components[i];
                        if (c.pinned) delete c.pinned; else c.pinned = true;
                        save(state, doc, `${comp.id} ${c.pinned ? "pinned: personalization will not move it" : "unpinned"}.`);
                        focus(`pin:${comp.id}`);
                      } }, "Pin"),
        h("button", { type: "button", class: "icon danger", "aria-label": `Remove ${comp.id}`, onclick: () => {
          const doc = clone(state.doc);
          doc.components.splice(i, 1);
          const next = doc.components[Math.min(i, doc.components.length - 1)];
          state.selected = next ? next.id : null;
          save(state, doc, `Removed ${comp.id}.`);
          if (next) focus(`pick:${next.id}`);
        } }, "✕")),
      problems.length ? h("ul", { class: "item-problems", id: pid },
        problems.map((p) => h("li", {}, h("code", { text: p.field }), `: ${p.message}`))) : null);
  }

  function focus(...keys) {
    for (const key of keys) {
      const el = document.querySelector(`[data-focus="${CSS.escape(key)}"]`);
      if (el && !el.disabled) { el.focus(); return; }
    }
  }

  function renderOutline(state) {
    const ol = document.getElementById("outline");
    const active = document.activeElement && document.activeElement.getAttribute("data-focus");
    ol.replaceChildren();
    if (!state.doc || !Array.isArray(state.doc.components)) {
      ol.append(h("li", { class: "hint", text: "The source is not a JSON template right now: fix it (see Validation) to edit the outline." }));
      return;
    }
    const n = state.doc.components.length;
    const variant = state.orderOf && (state.doc.variants || []).find((v) => v.name === state.orderOf);
    const index = new Map(state.doc.components.map((c, i) => [c.id, i]));
    const shown = variant && Array.isArray(variant.order) ? variant.order.filter((id) => index.has(id)) : null;
    if (shown) shown.forEach((id, p) => ol.append(row(state, state.doc.components[index.get(id)], index.get(id), n, p)));
    else state.doc.components.forEach((comp, i) => ol.append(row(state, comp, i, n, i)));
    ol.setAttribute("aria-label", shown ? `Outline: variant ${state.orderOf}'s own order` : "Outline: base order");
    if (active) focus(active);
  }

  // ------------------------------------------------------------------ palette (add)

  function mountPalette(state) {
    const select = document.getElementById("palette");
    const hint = document.getElementById("palette-description");
    const idInput = document.getElementById("new-id");
    for (const t of state.data.catalog) {
      select.append(h("option", { value: t.name, text: `${t.name} (${t.role})` }));
    }
    function suggest() {
      const t = types(state)[select.value];
      hint.textContent = t ? (t.description || "No description.") : "";
      const taken = new Set((state.doc && state.doc.components || []).map((c) => c.id));
      let k = 1;
      while (taken.has(`${select.value}_${k}`)) k += 1;
      idInput.value = `${select.value}_${k}`;
    }
    select.addEventListener("change", suggest);
    suggest();
    document.getElementById("add-component").addEventListener("click", () => {
      if (!state.doc) return;
      const id = idInput.value.trim();
      const t = types(state)[select.value];
      if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(id) || state.doc.components.some((c) => c.id === id)) {
        announce(`Cannot add: "${id}" is not a free component id (lower case letters, digits, _ and -).`);
        idInput.focus();
        return;
      }
      const doc = clone(state.doc);
      const at = doc.components.findIndex((c) => c.id === state.selected);
      const comp = { id, type: t.name, label: `New ${t.name.replace(/_/g, " ")}` };
      doc.components.splice(at < 0 ? doc.components.length : at + 1, 0, comp);
      state.selected = id;
      const own = window.DesignerVariants ? DesignerVariants.ordered(doc) : [];
      save(state, doc, `Added ${id} (${t.name}) at position ${doc.components.indexOf(comp) + 1}` +
        (own.length ? `, and to the own order of variant${own.length > 1 ? "s" : ""} ${own.join(", ")} after the same component.` : "."));
      suggest();
      focus(`pick:${id}`);
    });
  }

  // ------------------------------------------------------------------ properties

  function field(label, id, input, hint) {
    return h("div", { class: "field" }, h("label", { for: id, text: label }), input,
      hint ? h("p", { class: "hint", id: `${id}-hint`, text: hint }) : null);
  }

  function setComp(state, index, change, announcement) {
    const doc = clone(state.doc);
    change(doc.components[index], doc);
    save(state, doc, announcement, { keepPanel: true });
  }

  function readout(id) {
    return h("output", { id, class: "ratio", "aria-live": "polite" });
  }

  // A colour picker; an unset colour is said to be unset (with a Set button), never drawn as a
  // black swatch. `theme` names the palette colour it edits, so every picker of that colour
  // follows an edit made elsewhere (render()).
  function colourInput(id, value, onchange, theme) {
    if (!HEX.test(value || "")) {
      return h("span", { class: "unset", id },
        h("span", { text: "Not set (the default is used). " }),
        h("button", { type: "button", class: "secondary small", "aria-label": `Set ${id.replace(/^(comp|theme)-(colour|prop)-/, "").replace(/-/g, " ")}`,
                      onclick: () => onchange("#000000") }, "Set"));
    }
    return h("input", { type: "color", id, value: value.toLowerCase(), "data-theme-colour": theme || null,
                        "aria-describedby": `${id}-ratio`, oninput: (e) => onchange(e.target.value.toUpperCase()) });
  }

  function renderProperties(state) {
    const box = document.getElementById("properties");
    box.replaceChildren();
    const index = state.doc ? state.doc.components.findIndex((c) => c.id === state.selected) : -1;
    if (index < 0) {
      box.append(h("p", { class: "hint", text: "Select a component in the outline." }));
      return;
    }
    const comp = state.doc.components[index];
    const ctype = types(state)[comp.type] || {};
    const key = safeId(comp.id);
    box.append(h("h3", { text: `${comp.id} (${comp.type})` }),
      h("p", { class: "hint", text: ctype.description || "" }),
      h("div", { id: "component-problems", "aria-live": "polite" }));
    box.append(field("Label", `prop-label-${key}`, h("input", {
      type: "text", id: `prop-label-${key}`, value: comp.label || "", maxlength: 200,
      oninput: (e) => setComp(state, index, (c) => { c.label = e.target.value; }),
    })));
    const placement = h("select", { id: `prop-placement-${key}`, onchange: (e) => setComp(state, index,
      (c) => { if (e.target.value === "flow") delete c.placement; else c.placement = e.target.value; },
      `${comp.id} placed ${e.target.value}.`) });
    for (const p of state.data.placements) {
      placement.append(h("option", { value: p, selected: (comp.placement || "flow") === p, text: p }));
    }
    box.append(field("Placement", `prop-placement-${key}`, placement));
    // Zone (where personalization may move it) and category (what its clicks count for).
    const zones = (state.doc.zones || []).map((z) => z.name);
    const zone = h("select", { id: `prop-zone-${key}`, onchange: (e) => setComp(state, index,
      (c) => { if (e.target.value) c.zone = e.target.value; else delete c.zone; },
      `${comp.id} ${e.target.value ? "in zone " + e.target.value : "in no zone"}.`) },
      h("option", { value: "", text: zones.length ? "(no zone)" : "(the page declares no zones)" }),
      zones.map((z) => h("option", { value: z, selected: comp.zone === z, text: z })));
    box.append(field("Zone", `prop-zone-${key}`, zone, "Personalization reorders components only within their zone."));
    box.append(field("Category", `prop-category-${key}`, h("input", {
      type: "text", id: `prop-category-${key}`, value: comp.category || "", maxlength: 64,
      onchange: (e) => setComp(state, index, (c) => {
        const v = e.target.value.trim();
        if (v) c.category = v; else delete c.category;
      }, `${comp.id} category ${e.target.value.trim() || "cleared"}.`),
    }), "Clicks count for the category (one affinity for the same kind of section on every page)."));
    for (const [name, label] of [["pinned", "Pinned (personalization never moves it)"], ["visible", "Visible in the base layout"]]) {
      const checked = name === "visible" ? comp.visible !== false : !!comp.pinned;
      box.append(h("div", { class: "check" },
        h("input", { type: "checkbox", id: `prop-${name}-${key}`, checked, onchange: (e) => setComp(state, index, (c) => {
          const def = name === "visible";
          if (e.target.checked === def) delete c[name]; else c[name] = e.target.checked;
        }) }),
        h("label", { for: `prop-${name}-${key}`, text: label })));
    }
    // Colours: the theme colours this component is drawn with, then colour props.
    const colours = h("fieldset", { class: "colours" }, h("legend", { text: "Colours" }));
    const palette = (state.doc.theme && state.doc.theme.palette) || {};
    for (const [fg, bg, kind] of colourUse(ctype)) {
      const id = `comp-colour-${key}-${fg}`;
      colours.append(field(`${NAMES[fg]} (theme ${fg}, on ${bg})`, id, colourInput(id, palette[fg], (value) => {
        const doc = clone(state.doc);
        doc.theme.palette[fg] = value;
        save(state, doc, null, { keepPanel: true });
      }, fg), null), readout(`${id}-ratio`));
      state.pending.push({ id: `${id}-ratio`, fg, bg, kind, component: comp.id });
    }
    const schema = propsSchema(ctype, comp);
    const props = h("fieldset", { class: "props" }, h("legend", { text: "Props" }));
    for (const [name, spec] of Object.entries(schema)) {
      const id = `comp-prop-${key}-${safeId(name)}`;
      const value = (comp.props || {})[name];
      const set = (v) => setComp(state, index, (c) => {
        c.props = Object.assign({}, c.props || {});
        if (v === undefined || v === "") delete c.props[name]; else c.props[name] = v;
      });
      if (isColour(spec)) {
        colours.append(field(`${name} (prop, on background)`, id, colourInput(id, value, set), spec.description),
          readout(`${id}-ratio`));
        state.pending.push({ id: `${id}-ratio`, fg: value, bg: palette.background, kind: spec.kind === "ui" ? "ui" : "text",
                             component: comp.id, name: `components[${index}].props.${name}`, prop: true });
      } else if (spec.type === "boolean") {
        props.append(h("div", { class: "check" }, h("input", { type: "checkbox", id, checked: !!value,
          onchange: (e) => set(e.target.checked) }), h("label", { for: id, text: name })));
      } else if (Array.isArray(spec.enum)) {
        const sel = h("select", { id, onchange: (e) => set(e.target.value) },
          h("option", { value: "", text: "(default)" }),
          spec.enum.map((v) => h("option", { value: v, selected: v === value, text: v })));
        props.append(field(name, id, sel, spec.description));
      } else if (spec.type === "number" || spec.type === "integer") {
        props.append(field(name, id, h("input", { type: "number", id, value: value === undefined ? "" : value,
          oninput: (e) => set(e.target.value === "" ? undefined : Number(e.target.value)) }), spec.description));
      } else if (spec.type === "string") {
        props.append(field(name, id, h("input", { type: "text", id, value: value === undefined ? "" : value,
          oninput: (e) => set(e.target.value) }), spec.description));
      } else {
        props.append(h("p", {}, h("code", { text: name }), `: ${JSON.stringify(value)} (edit in the source)`));
      }
    }
    box.append(colours);
    if (props.children.length > 1) box.append(props);
  }

  function renderComponentProblems(state) {
    const box = document.getElementById("component-problems");
    if (!box || !state.doc) return;
    const index = state.doc.components.findIndex((c) => c.id === state.selected);
    const problems = index < 0 ? [] : problemsAt(state, index, true);
    box.replaceChildren();
    if (problems.length) {
      box.append(h("ul", { class: "item-problems" },
        problems.map((p) => h("li", {}, h("code", { text: p.field }), `: ${p.message}`))));
    }
  }

  // ------------------------------------------------------------------ theme colours

  function renderTheme(state) {
    const box = document.getElementById("theme-colours");
    box.replaceChildren();
    const palette = state.doc && state.doc.theme && state.doc.theme.palette;
    if (!palette) return;
    for (const name of PALETTE) {
      if (!palette[name]) continue;
      const id = `theme-colour-${name}`;
      const problems = state.problems.filter((p) => (p.field || "").replace(/^\$\./, "") === `theme.palette.${name}`);
      box.append(field(NAMES[name] + ` (${name})`, id, colourInput(id, palette[name], (value) => {
        const doc = clone(state.doc);
        doc.theme.palette[name] = value;
        save(state, doc, null, { keepPanel: true });
      }, name)), readout(`${id}-ratio`));
      if (problems.length) {
        box.append(h("ul", { class: "item-problems" }, problems.map((p) => h("li", { text: p.message }))));
      }
    }
  }

  // ------------------------------------------------------------------ contrast readouts

  let contrastTimer = null;
  function scheduleContrast(state) {
    window.clearTimeout(contrastTimer);
    contrastTimer = window.setTimeout(() => contrast(state), 150);
  }

  async function contrast(state) {
    const palette = state.doc && state.doc.theme && state.doc.theme.palette;
    if (!palette) return;
    const pending = state.pending.filter((p) => HEX.test(p.fg || "") && HEX.test(p.bg || "") && p.prop);
    const body = { palette, pairs: pending.map((p) => ({ fg: p.fg, bg: p.bg, kind: p.kind, name: p.name })) };
    const response = await state.api("/contrast", { method: "POST", body });
    if (!response.ok) return;
    const results = (await response.json()).pairs;
    const byPair = new Map(results.map((r) => [`${r.fg}/${r.bg}`, r]));
    const text = (r) => `${r.ratio.toFixed(2)}:1, needs ${r.floor}:1 (${r.source}) — ${r.ok ? "passes" : "too low"}`;
    const flags = {};
    for (const p of state.pending) {
      const r = p.prop ? byPair.get(`${p.name}/bg`) : byPair.get(`${p.fg}/${p.bg}`);
      const out = document.getElementById(p.id);
      if (!r) continue;
      if (out) { out.textContent = text(r); out.classList.toggle("fail", !r.ok); }
      if (!r.ok && p.prop) {
        (flags[p.component] = flags[p.component] || []).push({
          field: p.name, message: `contrast ${r.ratio.toFixed(2)}:1 on the background, below ${r.floor}:1 (${r.source})` });
      }
    }
    for (const name of PALETTE) {
      const out = document.getElementById(`theme-colour-${name}-ratio`);
      if (!out) continue;
      const mine = results.filter((r) => r.fg === name);
      out.textContent = mine.length ? mine.map((r) => `on ${r.bg}: ${text(r)}`).join("; ") : "Background of other colours.";
      out.classList.toggle("fail", mine.some((r) => !r.ok));
    }
    const before = JSON.stringify(state.contrastFlags);
    state.contrastFlags = flags;
    if (JSON.stringify(flags) !== before) { renderOutline(state); renderComponentProblems(state); }
  }

  // ------------------------------------------------------------------ entry points

  function render(state, opts) {
    renderOutline(state);
    if ((!opts || !opts.keepPanel) && window.DesignerExperiment) window.DesignerExperiment.render(state);
    if (!opts || !opts.keepPanel) {
      state.pending = [];
      renderProperties(state);
      renderTheme(state);
    } else {
      // Same panel, new values: recompute what the readouts measure.
      const palette = (state.doc && state.doc.theme && state.doc.theme.palette) || {};
      const comp = state.doc && state.doc.components.find((c) => c.id === state.selected);
      for (const p of state.pending) {
        if (p.prop) {
          // A colour prop: its value now, on the page background now.
          const name = p.name.split(".props.")[1];
          p.fg = comp && comp.props ? comp.props[name] : undefined;
          p.bg = palette.background;
        }
      }
    }
    // Every picker of a theme colour shows its value now (the panel's follow the theme's).
    const palette = (state.doc && state.doc.theme && state.doc.theme.palette) || {};
    for (const input of document.querySelectorAll("input[data-theme-colour]")) {
      const value = palette[input.dataset.themeColour];
      if (HEX.test(value || "") && input.value !== value.toLowerCase()) input.value = value.toLowerCase();
    }
    renderComponentProblems(state);
    scheduleContrast(state);
    if (window.DesignerCanvas) window.DesignerCanvas.highlight(state);
  }

  function mount(state) {
    state.pending = [];
    state.contrastFlags = {};
    mountPalette(state);
    if (window.Sortable) {
      window.Sortable.create(document.getElementById("outline"), {
        handle: ".handle",
        animation: 0,
        // Pointer events instead of native HTML5 drag: the same on mouse, pen and touch.
        forceFallback: true,
        fallbackTolerance: 3,
        onEnd(evt) {
          if (evt.oldIndex === evt.newIndex) return;
          move(state, evt.oldIndex, evt.newIndex, "by drag and drop");
        },
      });
    }
    render(state);
  }

  window.DesignerOutline = { mount, render, announce, move, h, colourUse, propsSchema };
})();

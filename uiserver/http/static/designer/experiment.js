// The experiment panel: create an experiment, add and remove variants, their weights with the
// resulting exact split (largest-remainder over the 10,000 buckets, as uiserver/engine/
// allocation.py counts them), whether a variant has its own order (then the outline can show and
// reorder it: "Order shown"), and each variant's props overrides (JSON, per component id).
// Every edit goes through state.commit, so the source, outline and phones follow.
(function () {
  "use strict";

  const BUCKETS = 10000;
  const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

  const h = (...args) => window.DesignerOutline.h(...args);
  const clone = (doc) => JSON.parse(JSON.stringify(doc));

  // Hamilton's method: each variant's bucket count, exact to within one bucket of its share.
  function buckets(weights) {
    const total = weights.reduce((s, w) => s + w, 0);
    if (!total) return weights.map(() => 0);
    const exact = weights.map((w) => (BUCKETS * w) / total);
    const counts = exact.map(Math.floor);
    let left = BUCKETS - counts.reduce((s, c) => s + c, 0);
    const order = exact.map((x, i) => [x - Math.floor(x), i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    for (const [, i] of order) { if (left <= 0) break; counts[i] += 1; left -= 1; }
    return counts;
  }

  function edit(state, change, announcement) {
    const doc = clone(state.doc);
    change(doc);
    if (window.DesignerVariants) DesignerVariants.fit(doc);
    state.commit(doc, announcement, { keepPanel: true });
    render(state);
  }

  function freeName(doc, stem) {
    const taken = new Set((doc.variants || []).map((v) => v.name));
    let k = taken.size + 1;
    while (taken.has(`${stem}_${k}`)) k += 1;
    return `${stem}_${k}`;
  }

  function render(state) {
    const box = document.getElementById("experiment");
    if (!box) return;
    const active = document.activeElement && document.activeElement.id;
    box.replaceChildren();
    const doc = state.doc;
    if (!doc) return;
    renderOrderChoice(state);
    if (!doc.experiment && !(doc.variants || []).length) {
      box.append(h("p", { class: "hint", text: "No experiment runs on this page." }),
        h("button", { type: "button", id: "create-experiment", class: "secondary", onclick: () => edit(state, (d) => {
          d.experiment = `${d.page}_test_1`;
          d.variants = [{ name: "control", weight: 50 }, { name: "variant_b", weight: 50 }];
        }, "Experiment created with variants control and variant_b, 50/50.") }, "Create an experiment"));
      return;
    }
    box.append(h("div", { class: "field" }, h("label", { for: "experiment-id", text: "Experiment id" }),
      h("input", { type: "text", id: "experiment-id", value: doc.experiment || "", pattern: NAME.source, onchange: (e) => {
        const value = e.target.value.trim();
        if (!NAME.test(value)) { DesignerOutline.announce(`"${value}" is not an id: lower case letters, digits, _ and -.`); return; }
        edit(state, (d) => { d.experiment = value; }, `Experiment id ${value}.`);
      } }),
      h("p", { class: "hint", text: "A new id starts a new experiment (a new split and readout); keep it to change weights." })));
    const variants = doc.variants || [];
    const counts = buckets(variants.map((v) => Number(v.weight) || 0));
    const table = h("table", { class: "variants", id: "variants-table" },
      h("caption", { text: `Variants (${variants.length})` }),
      h("thead", {}, h("tr", {}, ["Name", "Weight", "Share of users", "Own order", ""].map((t) => h("th", { scope: "col", text: t })))));
    const body = h("tbody");
    variants.forEach((v, i) => {
      const share = `${counts[i].toLocaleString("en")} of 10,000 buckets (${(counts[i] / 100).toFixed(2)}%)`;
      body.append(h("tr", { "data-variant": v.name },
        h("td", {}, h("input", { type: "text", id: `variant-name-${i}`, "aria-label": `Name of variant ${i + 1}`, value: v.name, size: 12,
          onchange: (e) => {
            const value = e.target.value.trim();
            if (!NAME.test(value) || variants.some((o, j) => j !== i && o.name === value)) {
              DesignerOutline.announce(`"${value}" is not a free variant name.`); e.target.value = v.name; return;
            }
            edit(state, (d) => { d.variants[i].name = value; }, `Variant ${v.name} renamed ${value}.`);
          } })),
        h("td", {}, h("input", { type: "number", id: `variant-weight-${i}`, "aria-label": `Weight of ${v.name}`, min: 0, max: 10000, step: 1,
          value: v.weight === undefined ? 1 : v.weight, onchange: (e) => {
            const w = Math.max(0, Math.min(10000, Math.round(Number(e.target.value) || 0)));
            edit(state, (d) => { d.variants[i].weight = w; }, `Weight of ${v.name}: ${w}.`);
          } })),
        h("td", { class: "split", id: `variant-split-${i}`, text: share }),
        h("td", {}, h("input", { type: "checkbox", id: `variant-order-${i}`, "aria-label": `${v.name} has its own order`,
          checked: Array.isArray(v.order), onchange: (e) => edit(state, (d) => {
            if (e.target.checked) d.variants[i].order = d.components.map((c) => c.id); else delete d.variants[i].order;
            if (!e.target.checked && state.orderOf === v.name) state.orderOf = null;
          }, e.target.checked ? `${v.name} has its own order (a copy of the base): choose it in "Order shown" to edit it.`
            : `${v.name} follows the base order.`) })),
        h("td", {}, h("button", { type: "button", class: "icon danger", "aria-label": `Remove variant ${v.name}`, onclick: () => edit(state, (d) => {
          d.variants.splice(i, 1);
          if (state.orderOf === v.name) state.orderOf = null;
          if (!d.variants.length) delete d.experiment;
        }, `Variant ${v.name} removed.`) }, "✕"))));
    });
    table.append(body);
    box.append(table, h("div", { class: "buttons" },
      h("button", { type: "button", id: "add-variant", class: "secondary", onclick: () => edit(state, (d) => {
        d.variants = d.variants || [];
        d.variants.push({ name: freeName(d, "variant"), weight: 1 });
      }, "Variant added with weight 1.") }, "Add a variant")));
    // Per-variant props overrides of the selected component.
    const comp = state.selected;
    if (comp && variants.length) {
      const fs = h("fieldset", { class: "variant-props" }, h("legend", { text: `Props of ${comp} per variant (JSON)` }));
      variants.forEach((v, i) => {
        const id = `variant-props-${i}`;
        const current = (v.props || {})[comp];
        fs.append(h("div", { class: "field" }, h("label", { for: id, text: v.name }),
          h("input", { type: "text", id, value: current ? JSON.stringify(current) : "", placeholder: "{} (the base props)",
            onchange: (e) => {
              let value = null;
              try { value = e.target.value.trim() ? JSON.parse(e.target.value) : null; } catch (err) {
                DesignerOutline.announce(`Not JSON: ${err.message}`); return;
              }
              if (value !== null && (typeof value !== "object" || Array.isArray(value))) {
                DesignerOutline.announce("Props are a JSON object."); return;
              }
              edit(state, (d) => {
                const props = d.variants[i].props = d.variants[i].props || {};
                if (value === null || !Object.keys(value).length) delete props[comp]; else props[comp] = value;
              }, `Props of ${comp} in ${v.name} set.`);
            } })));
      });
      box.append(fs);
    }
    if (active) { const el = document.getElementById(active); if (el) el.focus(); }
  }

  // "Order shown": the base order, or a variant's own order (the outline edits that one).
  function renderOrderChoice(state) {
    const select = document.getElementById("order-shown");
    if (!select) return;
    const own = window.DesignerVariants ? DesignerVariants.ordered(state.doc) : [];
    if (state.orderOf && !own.includes(state.orderOf)) state.orderOf = null;
    select.replaceChildren(h("option", { value: "", text: "Base order" }),
      ...own.map((n) => h("option", { value: n, text: `Variant ${n}'s own order`, selected: state.orderOf === n })));
    select.closest(".field").hidden = !own.length;
  }

  function mount(state) {
    const select = document.getElementById("order-shown");
    if (select) {
      select.addEventListener("change", () => {
        state.orderOf = select.value || null;
        DesignerOutline.render(state);
        DesignerOutline.announce(state.orderOf ? `The outline shows and reorders variant ${state.orderOf}'s own order.` : "The outline shows the base order.");
      });
    }
    render(state);
  }

  window.DesignerExperiment = { mount, render, buckets };
})();

// Variant orders that follow the base (an experiment's variants each may have their own `order`).
// Lint's rule (uiserver/lint/templates.py, _check_variant_order): a variant's order is a
// permutation of the base's component ids and keeps every pinned component at its base index
// (navigation stays put, WCAG 3.2.3). So after any edit of the base (add, remove, pin, move),
// each variant keeps its own order of the unpinned components, pinned ones go back to their base
// index, a new component goes after its nearest unpinned base predecessor, and a removed one
// leaves (with its per-variant props).
(function () {
  "use strict";

  // The unpinned ids of `order` refitted around the base's pinned slots.
  function fill(base, pinned, unpinned) {
    const out = [];
    let k = 0;
    for (const id of base) out.push(pinned.has(id) ? id : unpinned[k++]);
    return out;
  }

  // Where `id` goes among `unpinned`: after its nearest unpinned base predecessor there.
  function insertAfterPredecessor(base, pinned, unpinned, id) {
    const at = base.indexOf(id);
    for (let i = at - 1; i >= 0; i -= 1) {
      const j = unpinned.indexOf(base[i]);
      if (!pinned.has(base[i]) && j >= 0) { unpinned.splice(j + 1, 0, id); return; }
    }
    unpinned.unshift(id);
  }

  // Every variant's own order made valid for the base in `doc` (mutates doc); the names of the
  // variants whose order changed.
  function fit(doc) {
    const changed = [];
    if (!doc || !Array.isArray(doc.variants) || !Array.isArray(doc.components)) return changed;
    const base = doc.components.map((c) => c.id);
    const pinned = new Set(doc.components.filter((c) => c.pinned).map((c) => c.id));
    for (const variant of doc.variants) {
      if (variant.props) {
        for (const id of Object.keys(variant.props)) if (!base.includes(id)) delete variant.props[id];
      }
      if (!Array.isArray(variant.order)) continue;
      const seen = new Set();
      const unpinned = variant.order.filter((id) => {
        const keep = base.includes(id) && !pinned.has(id) && !seen.has(id);
        seen.add(id);
        return keep;
      });
      for (const id of base) {
        if (!pinned.has(id) && !unpinned.includes(id)) insertAfterPredecessor(base, pinned, unpinned, id);
      }
      const order = fill(base, pinned, unpinned);
      if (JSON.stringify(order) !== JSON.stringify(variant.order)) changed.push(variant.name);
      variant.order = order;
    }
    return changed;
  }

  // Where `id` goes among `unpinned`: before its nearest unpinned base successor there.
  function insertBeforeSuccessor(base, pinned, unpinned, id) {
    const at = base.indexOf(id);
    for (let i = at + 1; i < base.length; i += 1) {
      const j = unpinned.indexOf(base[i]);
      if (!pinned.has(base[i]) && j >= 0) { unpinned.splice(j, 0, id); return; }
    }
    unpinned.push(id);
  }

  // The base's move of `id` applied to each variant's own order too: moved up, it goes just
  // above the component it now precedes in the base; moved down, just below the one it now
  // follows (mutates doc); the names of the variants changed.
  function follow(doc, id, up) {
    const changed = [];
    const base = doc.components.map((c) => c.id);
    const pinned = new Set(doc.components.filter((c) => c.pinned).map((c) => c.id));
    if (pinned.has(id)) return changed;
    for (const variant of doc.variants || []) {
      if (!Array.isArray(variant.order)) continue;
      const unpinned = variant.order.filter((x) => !pinned.has(x) && x !== id);
      (up ? insertBeforeSuccessor : insertAfterPredecessor)(base, pinned, unpinned, id);
      const order = fill(base, pinned, unpinned);
      if (JSON.stringify(order) !== JSON.stringify(variant.order)) changed.push(variant.name);
      variant.order = order;
    }
    return changed;
  }

  // Variants with their own order (the others follow the base).
  function ordered(doc) {
    return ((doc && doc.variants) || []).filter((v) => Array.isArray(v.order)).map((v) => v.name);
  }

  // Each weight's exact share of users: weight / sum, in percent with 2 decimals.
  function split(variants) {
    const total = variants.reduce((s, v) => s + (Number(v.weight) || 0), 0);
    return variants.map((v) => (total ? (100 * (Number(v.weight) || 0)) / total : 0));
  }

  window.DesignerVariants = { fit, follow, ordered, split };
})();

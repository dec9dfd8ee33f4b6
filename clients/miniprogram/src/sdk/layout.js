'use strict';
/**
 * The layout document this SDK draws (DESIGN section 5: schema 1; fields may be added, never
 * renamed) and the app's bundled defaults, what stands in when neither storage nor the server
 * has one.
 */

const SCHEMA = 1;

/** @typedef {import('../../index').Layout} Layout */

/**
 * A layout document this SDK can draw: schema 1 with a page, a theme and components.
 * @param {unknown} layout
 * @returns {layout is Layout}
 */
function isUsableLayout(layout) {
  if (!layout || typeof layout !== 'object') return false;
  const doc = /** @type {Record<string, unknown>} */ (layout);
  return doc.schema === SCHEMA && typeof doc.page === 'string' && Array.isArray(doc.components) &&
    !!doc.theme && typeof doc.theme === 'object';
}

/**
 * The layout the app bundled for `page`, if it is one this SDK can draw; else null.
 * @param {Record<string, Layout> | null | undefined} defaults
 * @param {string} page
 * @returns {Layout | null}
 */
function bundledLayout(defaults, page) {
  const layout = defaults && defaults[page];
  return isUsableLayout(layout) ? layout : null;
}

module.exports = { SCHEMA, isUsableLayout, bundledLayout };

'use strict';
/**
 * The layout document this SDK draws (DESIGN section 5: schema 1; fields may be added, never
 * renamed) and the app's bundled defaults, what stands in when neither storage nor the server
 * has one.
 */

const SCHEMA = 1;

/** A layout document this SDK can draw: schema 1 with a page, a theme and components. */
function isUsableLayout(layout) {
  return !!layout && typeof layout === 'object' && layout.schema === SCHEMA &&
    typeof layout.page === 'string' && Array.isArray(layout.components) &&
    !!layout.theme && typeof layout.theme === 'object';
}

/** The layout the app bundled for `page`, if it is one this SDK can draw; else null. */
function bundledLayout(defaults, page) {
  const layout = defaults && defaults[page];
  return isUsableLayout(layout) ? layout : null;
}

module.exports = { SCHEMA, isUsableLayout, bundledLayout };

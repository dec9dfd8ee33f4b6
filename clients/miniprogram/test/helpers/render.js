'use strict';
// Load <ui-layout> in miniprogram-simulate (the official compiler, wcc). j-component does not
// implement abstract nodes (componentGenerics) yet, so this does what the WeChat runtime does
// for them: each generic is bound to its declared default unless the test names a component.
const path = require('path');
const simulate = require('miniprogram-simulate');

const SRC = path.join(__dirname, '..', '..', 'src');
const LAYOUT = path.join(SRC, 'components', 'ui-layout', 'index');

const loaded = {};

/**
 * The component id for a set of per-type components, loaded once: simulate runs a component's
 * index.js with `require`, which jest's module registry answers from its cache the second time
 * (so Component() would not run again). A second set loads in an isolated registry.
 */
function loadLayout(generics) {
  const key = JSON.stringify(generics || {});
  if (!loaded[key]) {
    if (Object.keys(loaded).length === 0) loaded[key] = loadOnce(generics);
    else jest.isolateModules(() => { loaded[key] = loadOnce(generics); });
  }
  return loaded[key];
}

function loadOnce(generics) {
  const json = require(LAYOUT + '.json');
  // simulate rewrites a loaded component's usingComponents in place: name every one afresh
  const usingComponents = Object.assign({}, { 'ui-block': '../ui-block/index' });
  Object.keys(json.componentGenerics).forEach((type) => {
    usingComponents[type] = json.componentGenerics[type].default;
  });
  Object.keys(generics || {}).forEach((type) => {
    usingComponents[type] = path.relative(path.dirname(LAYOUT), generics[type]);
  });
  return simulate.load(LAYOUT, 'ui-layout', { usingComponents, rootPath: path.join(SRC, '..') });
}

function renderLayout(layout, generics, props) {
  const id = loadLayout(generics);
  const comp = simulate.render(id, Object.assign({ layout }, props));
  const parent = document.createElement('parent-wrapper');
  comp.attach(parent);
  return syncAria(comp);
}

module.exports = { loadLayout, renderLayout, simulate, SRC };

/**
 * j-component keeps the WXML attributes it does not implement (aria-role, aria-label: the
 * WeChat runtime puts them on its native nodes for screen readers) only in each node's
 * virtual-tree record, where wcc names them ariaRole / ariaLabel. Copy them onto the jsdom
 * elements, so tests can query them; call again after a re-render.
 */
function syncAria(comp) {
  const walk = (node) => {
    const attrs = node._vt && node._vt.attrs;
    const dom = node.$$ || node.__domElement;
    if (attrs && dom && dom.setAttribute) {
      ['aria-role', 'aria-label', 'aria-hidden'].forEach((name) => dom.removeAttribute(name));
      attrs.forEach(({ name, value }) => {
        const m = /^aria([A-Z][a-z]+)$/.exec(name) || /^aria-([a-z]+)$/.exec(name);
        if (m) dom.setAttribute('aria-' + m[1].toLowerCase(), String(value));
      });
    }
    if (node.shadowRoot) walk(node.shadowRoot);
    (node.childNodes || []).forEach(walk);
  };
  walk(comp._exparserNode);
  return comp;
}

module.exports.syncAria = syncAria;

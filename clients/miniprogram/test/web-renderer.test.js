/**
 * @jest-environment jsdom
 */
'use strict';
// The web renderer (<ui-layout> custom element for H5) in jsdom: what it draws for real server
// layouts, its accessibility (names, roles, targets), taps, and the same structure as the
// console's phone preview (uiserver/http/preview/h5.py, run by scripts/h5-structure.py with the
// Python that has uiserver) for every fixture layout.

const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { defineUiLayout } = require('../src/web/ui-layout-element');
const registry = require('../src/registry');
const elderly = require('./fixtures/home-elderly.json');
const standard = require('./fixtures/home-standard.json');
const { findPython } = require('../scripts/gen-cases');

defineUiLayout(window);

function draw(layout, attrs) {
  const node = document.createElement('ui-layout');
  Object.keys(attrs || {}).forEach((k) => node.setAttribute(k, attrs[k]));
  document.body.appendChild(node);
  node.layout = layout;
  return node;
}
const $ = (node, sel) => node.shadowRoot.querySelector(sel);
const $$ = (node, sel) => [...node.shadowRoot.querySelectorAll(sel)];

afterEach(() => { document.body.innerHTML = ''; registry.clear(); });

test('each component is drawn at its own font size, with its target size on what it makes tappable', () => {
  const node = draw(elderly);
  const search = $(node, '[data-id="search"]');
  const component = elderly.components.find((c) => c.id === 'search');
  expect(search.style.fontSize).toBe(component.font_px + 'px');
  const input = search.querySelector('input[type="search"]');
  expect(input.style.minHeight).toBe(component.min_target_px + 'px');
  // the label names the input (a <label for>), inside a search landmark named by it too
  expect(search.querySelector('form[role="search"]').getAttribute('aria-label')).toBe(component.label);
  expect(search.querySelector('label').getAttribute('for')).toBe(input.id);
  expect($(node, '.root').getAttribute('data-mode')).toBe('elderly');
});

test('placements: navbar, flow, floating and a bottom bar of three physical cells (RTL keeps them)', () => {
  const layout = JSON.parse(JSON.stringify(standard));
  layout.theme.direction = 'rtl';
  const [a, b, c, d] = layout.components.filter((x) => x.role !== 'image').slice(0, 4);
  a.placement = 'top_left';
  b.placement = 'bottom_right';
  c.placement = 'floating_left';
  d.placement = 'bottom_left';
  const node = draw(layout);
  expect($(node, '.navbar [data-id="' + a.id + '"]')).not.toBeNull();
  expect($(node, '.actionbar .cell-right [data-id="' + b.id + '"]')).not.toBeNull();
  expect($(node, '.actionbar .cell-left [data-id="' + d.id + '"]')).not.toBeNull();
  expect($(node, '.actionbar').getAttribute('dir')).toBe('ltr');
  expect($(node, '.float-left [data-id="' + c.id + '"]')).not.toBeNull();
  expect($(node, '.root').getAttribute('dir')).toBe('rtl');
});

test('labels and props are text, never markup', () => {
  const layout = JSON.parse(JSON.stringify(standard));
  layout.components[0].label = '<img src=x onerror="window.pwned=1">';
  const node = draw(layout);
  expect($$(node, 'img[src="x"]')).toEqual([]);
  expect(node.shadowRoot.textContent).toContain('<img src=x onerror="window.pwned=1">');
});

test('a tap dispatches `action` and feeds the client\'s track(page, id, "click", {version, mode})', () => {
  const tracked = [];
  registry.setDefault({ track: (...args) => tracked.push(args) });
  const node = draw(elderly);
  const actions = [];
  node.addEventListener('action', (e) => actions.push(e.detail));
  const link = $(node, '[data-id="nearby_stores"] a');
  link.click();
  expect(actions).toEqual([expect.objectContaining({ id: 'nearby_stores', page: 'home', role: 'link' })]);
  // with what was drawn, as on the mini-programs: the tap counts under the version on screen
  expect(tracked).toEqual([['home', 'nearby_stores', 'click', { version: elderly.template_version, mode: 'elderly' }]]);
  const silent = draw(elderly, { 'no-track': '' });
  $(silent, '[data-id="nearby_stores"] a').click();
  expect(tracked).toHaveLength(1);
});

test('a null layout draws an empty page; a new layout replaces the old', () => {
  const node = draw(null);
  expect($$(node, '.c')).toEqual([]);
  node.layout = standard;
  expect($$(node, '.c').length).toBe(standard.components.length);
  node.layout = elderly;
  expect($(node, '.root').getAttribute('data-mode')).toBe('elderly');
});

test('a grid without a columns prop draws its catalogue default columns (as the H5 preview), elderly reflow its own', () => {
  const columnsOf = (node, id) => $(node, '[data-id="' + id + '"] ul.items').style.gridTemplateColumns;
  const plain = draw(standard);
  expect(standard.components.find((c) => c.id === 'fresh_grid').props.columns).toBeUndefined();
  expect(columnsOf(plain, 'fresh_grid')).toBe('repeat(2,minmax(0,1fr))'); // components/product_grid.yaml columns: 2
  expect(columnsOf(plain, 'restaurants')).toBe('repeat(1,minmax(0,1fr))'); // store_list is not a grid
  const layout = JSON.parse(JSON.stringify(standard));
  layout.components.find((c) => c.id === 'fresh_grid').props.columns = 1;
  expect(columnsOf(draw(layout), 'fresh_grid')).toBe('repeat(1,minmax(0,1fr))');
});

test('it draws what the console\'s phone preview draws: per component, the kind, its element and where it sits', () => {
  const fixtures = path.join(__dirname, 'fixtures');
  const files = ['home-elderly.json', 'home-standard.json'].map((f) => path.join(fixtures, f))
    .concat(fs.readdirSync(path.join(fixtures, 'cases')).filter((f) => f.endsWith('.json'))
      .map((f) => path.join(fixtures, 'cases', f)));
  const python = findPython();
  const script = path.join(__dirname, '..', 'scripts', 'h5-structure.py');
  const repo = path.join(__dirname, '..', '..', '..');
  const console_ = JSON.parse(execFileSync(python, [script, repo, ...files], { encoding: 'utf8', maxBuffer: 1 << 26 }));
  let compared = 0;
  files.forEach((file) => {
    const document_ = JSON.parse(fs.readFileSync(file, 'utf8'));
    const node = draw(document_.layout || document_); // a case fixture holds its layout under "layout"
    const area = (c) => {
      for (const name of ['navbar', 'float-left', 'float-right', 'cell-left', 'cell-center', 'cell-right']) {
        if (c.closest('.' + name)) return name;
      }
      return c.closest('main') ? 'main' : '';
    };
    const mine = $$(node, '.c').map((c) => ({
      id: c.getAttribute('data-id'),
      kind: [...c.classList].find((k) => k.startsWith('c-')).slice(2),
      tag: c.firstElementChild.tagName.toLowerCase(),
      area: area(c),
    }));
    // the console knows each type's catalogue entry (interactive images and regions are links);
    // the page has only the layout, so the element inside an image or region may differ
    const comparable = (list) => list.map((x) => (x.kind === 'image' || x.kind === 'region' ? Object.assign({}, x, { tag: '' }) : x));
    expect({ file: path.basename(file), drawn: comparable(mine) })
      .toEqual({ file: path.basename(file), drawn: comparable(console_[path.basename(file)]) });
    compared += mine.length;
    node.remove();
  });
  expect(compared).toBeGreaterThan(50);
});

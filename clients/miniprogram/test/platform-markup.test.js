'use strict';
// The Douyin (TTML/TTSS) and Alipay (AXML/ACSS) renderers are generated from the WeChat one
// (scripts/gen-platforms.js), so all three draw one view model; Alipay's components run its own
// Component API (props, didMount/didUpdate, onAction) over the same view model and block view.

const fs = require('fs');
const path = require('path');
const { generate } = require('../scripts/gen-platforms');
const { viewModel } = require('../src/components/ui-layout/view-model');
const elderly = require('./fixtures/home-elderly.json');

const ROOT = path.join(__dirname, '..');
const made = generate();

test.each(Object.keys(made))('%s is what gen:platforms makes from the WeChat renderer now', (rel) => {
  expect(fs.readFileSync(path.join(ROOT, rel), 'utf8')).toBe(made[rel]);
});

test('TTML and AXML carry every directive and binding of the WXML, in their own dialect', () => {
  ['ui-layout', 'ui-block'].forEach((name) => {
    const wxml = fs.readFileSync(path.join(ROOT, 'src/components', name, 'index.wxml'), 'utf8');
    const ttml = made[path.join('src/components', name, 'index.ttml')];
    const axml = made[path.join('src/alipay', name, 'index.axml')];
    const count = (text, re) => (text.match(re) || []).length;
    expect(count(ttml, /\bwx:/g) + count(axml, /\bwx:|\bbind/g)).toBe(0);
    expect(count(ttml, /\btt:/g)).toBe(count(wxml, /\bwx:/g));
    expect(count(axml, /\ba:/g)).toBe(count(wxml, /\bwx:/g));
    expect(count(axml, /\bonTap="onTap"/g)).toBe(count(wxml, /\bbindtap="onTap"/g));
    // the same bindings, the same text: only the dialect differs
    const events = (text) => text.replace(/\b(?:bind|catch):?([a-z]+)=/g, 'EVENT-$1=')
      .replace(/\b(?:on|catch)([A-Z][a-z]*)=/g, (m, e) => 'EVENT-' + e.toLowerCase() + '=');
    // and every per-type component is handed the renderer's onRenderError (no bubbling on Alipay)
    const perType = count(wxml, / component="\{\{c\}\}" theme="\{\{theme\}\}" \/>/g);
    expect(count(axml, / theme="\{\{theme\}\}" onRenderError="onRenderError" \/>/g)).toBe(perType);
    expect(perType > (name === 'ui-layout' ? 40 : -1)).toBe(true);
    expect(events(axml.replace(/\ba:/g, 'wx:').replace(/ onRenderError="onRenderError"/g, '')).split('\n').slice(1))
      .toEqual(events(wxml.replace(/^<!--[^\n]*-->\n/, '')).split('\n'));
  });
});

/** Load an Alipay component file with a `Component` that records its definition. */
function loadAlipay(rel) {
  let def = null;
  let reg = null;
  global.Component = (options) => { def = options; };
  try {
    jest.isolateModules(() => {
      require(path.join(ROOT, rel));
      reg = require('../src/registry'); // the registry the component reads
    });
  } finally {
    delete global.Component;
  }
  def.registry = reg;
  return def;
}

/** An Alipay component instance: props, data, setData; methods bound as Alipay binds them. */
function instance(def, props) {
  const inst = { props: Object.assign({}, def.props, props), data: JSON.parse(JSON.stringify(def.data)) };
  inst.setData = (d) => { Object.assign(inst.data, d); };
  Object.keys(def.methods || {}).forEach((k) => { inst[k] = def.methods[k].bind(inst); });
  return inst;
}

test('Alipay <ui-layout>: draws the view model on mount and update; a tap calls onAction and track', () => {
  const def = loadAlipay('src/alipay/ui-layout/index.js');
  const actions = [];
  const tracked = [];
  def.registry.setDefault({ track: (...args) => tracked.push(args) });
  const inst = instance(def, { layout: null, onAction: (d) => actions.push(d) });
  def.didMount.call(inst);
  expect(inst.data.flow).toEqual([]);
  const before = inst.props;
  inst.props = Object.assign({}, before, { layout: elderly });
  def.didUpdate.call(inst, before);
  const vm = viewModel(elderly);
  expect(inst.data.flow.map((i) => i.id)).toEqual(vm.flow.map((i) => i.id));
  expect(inst.data.rootStyle).toBe(vm.rootStyle);
  expect(inst.data.mode).toBe('elderly');
  expect(inst.data.byId).toBeUndefined();
  inst.onTap({ currentTarget: { dataset: { id: 'search' } } });
  expect(actions).toEqual([expect.objectContaining({ id: 'search', page: 'home' })]);
  // with what was drawn, as on WeChat: the tap counts under the version on screen
  expect(tracked).toEqual([['home', 'search', 'click', { version: elderly.template_version, mode: 'elderly' }]]);
  inst.props.track = false;
  inst.onTap({ currentTarget: { dataset: { id: 'search' } } });
  inst.onTap({ currentTarget: { dataset: { id: 'nope' } } });
  expect(tracked).toHaveLength(1);
  expect(actions).toHaveLength(2);
});

test('Alipay <ui-block>: the same block view as WeChat\'s, with the component in data for the AXML', () => {
  const def = loadAlipay('src/alipay/ui-block/index.js');
  const item = viewModel(elderly).flow.find((i) => i.role === 'link' || i.role === 'button');
  const inst = instance(def, { component: item, theme: viewModel(elderly).theme });
  def.didMount.call(inst);
  expect(inst.data.kind).toBe('button');
  expect(inst.data.style).toContain('min-height:' + item.min_target_px + 'px');
  expect(inst.data.component).toBe(item);
  const empty = instance(def, { component: null });
  def.didUpdate.call(empty);
  expect(empty.data.kind).toBe('card');
});

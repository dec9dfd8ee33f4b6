'use strict';
// What the Alipay <ui-layout> measures, as the WeChat one does (issue 22 section 3): impressions
// through Alipay's IntersectionObserver (`my.createIntersectionObserver` with `selectAll`, or the
// instance's own), once per launch; render errors of types it cannot dispatch and of per-type
// components that call their `onRenderError` prop; each with the version and mode drawn. Alipay's
// Component API is driven as the base library drives it: didMount, didUpdate(prevProps),
// didUnmount, pageEvents.

const path = require('path');
const { fakeObservers, byNodeId } = require('./helpers/observers');
const standard = require('./fixtures/home-standard.json');
const elderly = require('./fixtures/home-elderly.json');

const ROOT = path.join(__dirname, '..');
const clone = (x) => JSON.parse(JSON.stringify(x));
const drawn = (layout) => ({ version: layout.template_version, mode: layout.mode });

/** The component's definition, with the registry it reads (a `Component` that records it). */
function load() {
  let def = null;
  let reg = null;
  global.Component = (options) => { def = options; };
  try {
    jest.isolateModules(() => {
      require(path.join(ROOT, 'src/alipay/ui-layout/index.js'));
      reg = require('../src/registry');
    });
  } finally {
    delete global.Component;
  }
  return { def, registry: reg };
}

/** An instance as Alipay makes one: props, data, setData; methods and pageEvents bound. */
function mount(def, props) {
  const inst = { props: Object.assign({}, def.props, props), data: clone(def.data) };
  inst.setData = (d) => { Object.assign(inst.data, d); };
  Object.keys(def.methods || {}).forEach((k) => { inst[k] = def.methods[k].bind(inst); });
  inst.update = (changes) => {
    const before = inst.props;
    inst.props = Object.assign({}, before, changes);
    def.didUpdate.call(inst, before);
  };
  inst.page = (event) => def.pageEvents[event].call(inst);
  def.didMount.call(inst);
  return inst;
}

/** Alipay's IntersectionObserver double: its result names the node by its id (`ui-<component id>`). */
const observers = () => fakeObservers(byNodeId);

let obs;
let tracked;
let loaded;
beforeEach(() => {
  jest.useFakeTimers();
  obs = observers();
  global.my = { createIntersectionObserver: obs.create };
  tracked = [];
  loaded = load();
  loaded.registry.setDefault({ track: (...args) => tracked.push(args) });
});
afterEach(() => {
  jest.useRealTimers();
  delete global.my;
});

test('impressions through my.createIntersectionObserver: >= 50% for 800 ms, once per launch, with version and mode', () => {
  const inst = mount(loaded.def, { layout: standard });
  const ob = obs.last();
  expect(ob.selector).toBe('.ui-item');
  expect(ob.options).toMatchObject({ thresholds: [0, 0.5, 1], selectAll: true });
  ob.show('search', 0.6);
  ob.show('banner', 0.3); // not enough
  jest.advanceTimersByTime(799);
  expect(tracked).toEqual([]);
  jest.advanceTimersByTime(1);
  expect(tracked).toEqual([['home', 'search', 'impression', drawn(standard)]]);
  // an update of the same launch (same page and version): no second impression
  inst.update({ layout: clone(standard) });
  expect(ob.disconnected).toBe(true);
  obs.last().show('search', 1);
  jest.advanceTimersByTime(800);
  expect(tracked).toHaveLength(1);
  // another version is another launch: it counts again, under that version
  const next = Object.assign(clone(elderly), { template_version: 'f00dfeed12345678' });
  inst.update({ layout: next });
  obs.last().show('search', 1);
  jest.advanceTimersByTime(800);
  expect(tracked[1]).toEqual(['home', 'search', 'impression', drawn(next)]);
});

test('a result naming its node by data-id counts; one of another layout\'s nodes does not', () => {
  mount(loaded.def, { layout: standard });
  obs.last().callback({ dataset: { id: 'search' }, intersectionRatio: 1 });
  obs.last().callback({ id: 'ui-not-in-this-layout', intersectionRatio: 1 });
  obs.last().callback({ id: 'elsewhere', intersectionRatio: 1 });
  jest.advanceTimersByTime(800);
  expect(tracked.map((t) => t[1])).toEqual(['search']);
});

test('the instance\'s own createIntersectionObserver is used where the base library has one; thresholds follow impressionRatio', () => {
  const own = observers();
  const inst = { props: Object.assign({}, loaded.def.props, { layout: standard, impressionRatio: 1, impressionMs: 2000 }),
    data: clone(loaded.def.data), createIntersectionObserver: own.create };
  inst.setData = (d) => { Object.assign(inst.data, d); };
  Object.keys(loaded.def.methods).forEach((k) => { inst[k] = loaded.def.methods[k].bind(inst); });
  loaded.def.didMount.call(inst);
  expect(obs.made).toHaveLength(0);
  expect(own.last().options.thresholds).toEqual([0, 1, 1]);
  own.last().show('search', 0.99);
  jest.advanceTimersByTime(5000);
  expect(tracked).toEqual([]);
  own.last().show('search', 1);
  jest.advanceTimersByTime(2000);
  expect(tracked.map((t) => [t[1], t[2]])).toEqual([['search', 'impression']]);
});

test('a type the renderer cannot dispatch, and a per-type component\'s onRenderError, are render errors, once per launch', () => {
  const layout = clone(standard);
  layout.components[1].type = 'hologram_3d';
  const bad = layout.components[1].id;
  const inst = mount(loaded.def, { layout });
  expect(tracked).toEqual([['home', bad, 'render_error', drawn(standard)]]);
  const other = layout.components[2].id;
  inst.onRenderError({ id: other }); // what a per-type component calls: this.props.onRenderError({id})
  inst.onRenderError({ detail: { id: other } });
  inst.onRenderError({ currentTarget: { dataset: { id: bad } } });
  inst.onRenderError({ id: 'not-in-this-layout' });
  inst.onRenderError(null);
  expect(tracked.map((t) => [t[1], t[2]])).toEqual([[bad, 'render_error'], [other, 'render_error']]);
  // an update of the same launch reports nothing again
  inst.update({ layout: clone(layout) });
  expect(tracked).toHaveLength(2);
});

test('the AXML hands every per-type component the renderer\'s onRenderError', () => {
  const axml = require('fs').readFileSync(path.join(ROOT, 'src/alipay/ui-layout/index.axml'), 'utf8');
  const perType = axml.split('\n').filter((l) => l.indexOf('component="{{c}}"') >= 0);
  expect(perType.length).toBeGreaterThan(40);
  perType.forEach((line) => expect(line).toContain('onRenderError="onRenderError"'));
  expect(typeof loaded.def.methods.onRenderError).toBe('function');
});

test('a page hidden during a dwell is no impression; shown again it counts; unmounted, the observer stops', () => {
  const inst = mount(loaded.def, { layout: standard });
  obs.last().show('search', 1);
  jest.advanceTimersByTime(100);
  inst.page('onHide');
  expect(obs.last().disconnected).toBe(true);
  jest.advanceTimersByTime(2000);
  expect(tracked).toEqual([]);
  inst.page('onShow');
  obs.last().show('search', 1);
  jest.advanceTimersByTime(800);
  expect(tracked.map((t) => [t[1], t[2]])).toEqual([['search', 'impression']]);
  const last = obs.last();
  loaded.def.didUnmount.call(inst);
  expect(last.disconnected).toBe(true);
});

test('an observer that cannot be made (throws, none, not an observer) never breaks drawing; track=false measures nothing', () => {
  [() => { throw new Error('createIntersectionObserver:fail'); }, () => undefined, () => ({})].forEach((broken) => {
    global.my = { createIntersectionObserver: broken };
    let inst;
    expect(() => { inst = mount(loaded.def, { layout: standard }); }).not.toThrow();
    expect(inst.data.flow.length).toBeGreaterThan(0);
  });
  delete global.my; // no `my` at all
  expect(() => mount(loaded.def, { layout: standard })).not.toThrow();
  global.my = { createIntersectionObserver: obs.create };
  const layout = clone(standard);
  layout.components[1].type = 'hologram_3d';
  const quiet = mount(loaded.def, { layout, track: false });
  quiet.onRenderError({ id: layout.components[2].id });
  quiet.onTap({ currentTarget: { dataset: { id: 'search' } } });
  jest.advanceTimersByTime(5000);
  expect(tracked).toEqual([]);
});

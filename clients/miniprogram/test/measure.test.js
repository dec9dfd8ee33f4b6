/** @jest-environment jsdom */
'use strict';
// What the renderer measures: impressions (>= 50% visible for 800 ms, once per launch, through
// a fake IntersectionObserver), render errors (a type the renderer does not dispatch, or a
// per-type component's `rendererror`), each with the layout's version and mode; and how the
// SDK batches them (ids, personalization 0 keeps only render errors).

const { createImpressions } = require('../src/components/ui-layout/impressions');
const { renderLayout, simulate } = require('./helpers/render');
const { fakeObservers } = require('./helpers/observers');
const registry = require('../src/registry');
const { createLayoutClient } = require('../src');
const { fakeClock, fakeStorage, fakeRequest, tokenFor } = require('./helpers/fakes');
const standard = require('./fixtures/home-standard.json');

const clone = (x) => JSON.parse(JSON.stringify(x));

afterEach(() => registry.clear());

function tracker(options) {
  const clock = fakeClock(0);
  const seen = [];
  const impressions = createImpressions(Object.assign({
    setTimeout: clock.scheduler.setTimeout, clearTimeout: clock.scheduler.clearTimeout,
    onImpression: (id) => seen.push(id),
  }, options));
  return { clock, seen, impressions };
}

test('an impression is >= 50% visible for 800 ms without a break, once per launch', async () => {
  const { clock, seen, impressions } = tracker();
  impressions.observe('a', 0.49); // not enough
  await clock.advance(1000);
  impressions.observe('a', 0.5);
  await clock.advance(799);
  impressions.observe('a', 0.2); // scrolled away before 800 ms: starts again
  await clock.advance(1000);
  expect(seen).toEqual([]);
  impressions.observe('a', 0.9);
  impressions.observe('a', 1); // still visible: the same dwell
  await clock.advance(800);
  expect(seen).toEqual(['a']);
  impressions.observe('a', 0); impressions.observe('a', 1);
  await clock.advance(5000);
  expect(seen).toEqual(['a']); // once per launch
  impressions.reset();
  impressions.observe('a', 1);
  await clock.advance(800);
  expect(seen).toEqual(['a', 'a']); // a new launch counts again
});

test('thresholds are configurable', async () => {
  const { clock, seen, impressions } = tracker({ ratio: 1, dwellMs: 2000 });
  impressions.observe('b', 0.99);
  await clock.advance(3000);
  impressions.observe('b', 1);
  await clock.advance(1999);
  expect(seen).toEqual([]);
  await clock.advance(1);
  expect(seen).toEqual(['b']);
});

test('<ui-layout> tracks impressions through the IntersectionObserver, with version and mode', async () => {
  jest.useFakeTimers();
  try {
    const tracked = [];
    registry.setDefault({ track: (...args) => tracked.push(args) });
    const comp = renderLayout(null);
    const observers = fakeObservers();
    comp.instance.createIntersectionObserver = observers.create;
    comp.setData({ layout: standard });
    const ob = observers.made[observers.made.length - 1];
    expect(ob.selector).toBe('.ui-item');
    expect(ob.options).toEqual({ thresholds: [0, 0.5, 1], observeAll: true });
    ob.show('search', 0.6);
    ob.show('banner', 0.3);
    jest.advanceTimersByTime(800);
    const drawn = { version: standard.template_version, mode: standard.mode };
    expect(tracked).toEqual([['home', 'search', 'impression', drawn]]);
    // the same layout again (an update of this launch): no second impression
    comp.setData({ layout: clone(standard) });
    observers.made[observers.made.length - 1].show('search', 1);
    jest.advanceTimersByTime(800);
    expect(tracked).toHaveLength(1);
    expect(ob.disconnected).toBe(true);
  } finally {
    jest.useRealTimers();
  }
});

test('<ui-layout> reports a type it cannot dispatch, and a component\'s rendererror, once', async () => {
  const tracked = [];
  registry.setDefault({ track: (...args) => tracked.push(args) });
  const layout = clone(standard);
  layout.components[1].type = 'hologram_3d';
  const comp = renderLayout(layout);
  const id = layout.components[1].id;
  expect(tracked).toEqual([['home', id, 'render_error', { version: standard.template_version, mode: standard.mode }]]);
  const other = layout.components[2].id;
  comp.querySelector('#ui-' + other).dispatchEvent('rendererror');
  comp.querySelector('#ui-' + other).dispatchEvent('rendererror');
  comp.querySelector('#ui-' + id).dispatchEvent('rendererror');
  await simulate.sleep(0);
  expect(tracked.map((t) => [t[1], t[2]])).toEqual([[id, 'render_error'], [other, 'render_error']]);
});

test('impressions and render errors are batched with ids; personalization 0 keeps only render errors', async () => {
  const clock = fakeClock();
  const request = fakeRequest(() => ({ statusCode: 202, data: { stored: 1, ignored: 0 } }));
  const storage = fakeStorage();
  const client = createLayoutClient({
    baseUrl: 'https://ui.example.com', getToken: () => tokenFor('alice'), request, storage,
    now: clock.now, scheduler: clock.scheduler, onAppHide: () => {}, register: false,
  });
  expect(client.track('home', 'search', 'impression', { version: 'abc123', mode: 'elderly' })).toBe(true);
  expect(client.track('home', 'banner', 'render_error', { version: 'bad version!', mode: 'tiny' })).toBe(true);
  const [imp, err] = client.pendingEvents();
  expect(imp).toMatchObject({ kind: 'impression', version: 'abc123', mode: 'elderly' });
  expect(imp.id).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
  expect(err.version).toBeUndefined(); // invalid keys are left out: the server picks the version
  expect(err.mode).toBeUndefined();
  // the server says personalization is off: behaviour goes, the render error stays and is sent
  const off = clone(standard);
  off.personalization.strength = 0;
  request.handler = (req) => (req.url.indexOf('/v1/layouts/') >= 0
    ? { statusCode: 200, header: { ETag: '"o"', 'Cache-Control': 'private, max-age=60' }, data: off }
    : { statusCode: 202, data: { stored: 1, ignored: 0 } });
  await client.revalidate('home', { device: 'phone', width: 375, locale: 'zh-CN' });
  expect(client.pendingEvents().map((e) => e.kind)).toEqual(['render_error']);
  expect(client.track('home', 'search', 'impression')).toBe(false);
  expect(client.track('home', 'search', 'render_error')).toBe(true);
  const result = await client.flush();
  expect(result.sent).toBe(2);
  const posted = request.requests.filter((r) => r.url.endsWith('/v1/me/events'));
  expect(posted[0].body.events.map((e) => e.kind)).toEqual(['render_error', 'render_error']);
});

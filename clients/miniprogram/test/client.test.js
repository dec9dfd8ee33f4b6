'use strict';
// The launch protocol with a fake clock, storage and transport: cache, stale-while-revalidate,
// offline (stale-if-error) and expired, each interval read from the response's Cache-Control.

const { createLayoutClient, LayoutUnavailableError } = require('../src');
const { fakeClock, fakeStorage, fakeRequest, settle, tokenFor } = require('./helpers/fakes');
const standard = require('./fixtures/home-standard.json');
const elderly = require('./fixtures/home-elderly.json');

const CC = 'private, max-age=60, stale-while-revalidate=3600, stale-if-error=86400';
const CTX = { device: 'phone', width: 375, locale: 'zh-CN' };

function ok(layout, etag, cacheControl) {
  return { statusCode: 200, header: { ETag: etag, 'Cache-Control': cacheControl || CC }, data: layout };
}

function setup(extra) {
  const clock = fakeClock();
  const storage = fakeStorage();
  const request = fakeRequest();
  let token = tokenFor('alice');
  const errors = [];
  const make = (more) => createLayoutClient(Object.assign({
    baseUrl: 'https://ui.example.com/',
    getToken: () => token,
    request, storage, now: clock.now, scheduler: clock.scheduler,
    onAppHide: () => {}, onError: (e) => errors.push(e), register: false,
  }, extra, more));
  return { clock, storage, request, errors, make, client: make(), setToken: (t) => { token = t; } };
}

const layoutGets = (request) => request.requests.filter((r) => r.url.indexOf('/v1/layouts/') >= 0);

test('first launch shows the bundled default at once, then the network layout arrives as an update', async () => {
  const { client, request } = setup({ defaults: { home: standard } });
  request.handler = () => ok(elderly, '"e1"');
  const updates = [];
  client.onUpdate((page, layout, meta) => updates.push({ page, layout, meta }));
  const first = await client.launch('home', CTX);
  expect(first.source).toBe('default');
  expect(first.layout).toBe(standard);
  const result = await first.revalidation;
  expect(result.status).toBe('updated');
  expect(updates).toHaveLength(1);
  expect(updates[0].layout.mode).toBe('elderly');
  expect(updates[0].meta.applyNow).toBe(true);
  const req = layoutGets(request)[0];
  expect(req.url).toBe('https://ui.example.com/v1/layouts/home?device=phone&width=375&locale=zh-CN');
  expect(req.header.Authorization).toBe('Bearer ' + tokenFor('alice'));
  expect(req.header['If-None-Match']).toBeUndefined();
});

test('an update after the launch window is marked for the next page show', async () => {
  const { client, request, clock } = setup({ defaults: { home: standard }, applyWithinMs: 1000 });
  request.handler = () => 'fail';
  const meta = [];
  client.onUpdate((p, l, m) => meta.push(m));
  const launched = await client.launch('home', CTX);
  expect((await launched.revalidation).status).toBe('expired'); // offline, nothing stored
  expect(meta).toHaveLength(0);
  await clock.advance(5000);
  request.handler = () => ok(elderly, '"e1"');
  await client.revalidate('home', CTX);
  expect(meta).toEqual([{ etag: '"e1"', status: 'updated', applyNow: false }]);
});

test('a fresh stored layout (age < max-age) is shown without any request', async () => {
  const { client, request, clock } = setup();
  request.handler = () => ok(elderly, '"e1"');
  await client.revalidate('home', CTX);
  await clock.advance(59 * 1000);
  const launched = await client.launch('home', CTX);
  expect(launched.source).toBe('cache');
  expect(launched.layout.mode).toBe('elderly');
  expect(await launched.revalidation).toBeNull();
  expect(layoutGets(request)).toHaveLength(1);
});

test('a stale one within stale-while-revalidate is shown at once and revalidated with If-None-Match', async () => {
  const { client, request, clock } = setup();
  request.handler = () => ok(elderly, '"e1"');
  await client.revalidate('home', CTX);
  await clock.advance(61 * 1000);
  request.handler = () => ({ statusCode: 304, header: { ETag: '"e1"', 'Cache-Control': CC } });
  const launched = await client.launch('home', CTX);
  expect(launched.source).toBe('cache');
  const result = await launched.revalidation;
  expect(result.status).toBe('not_modified');
  expect(result.layout.mode).toBe('elderly');
  expect(layoutGets(request)[1].header['If-None-Match']).toBe('"e1"');
  // the 304 restarted the clock: fresh again, no request
  await clock.advance(30 * 1000);
  expect(await (await client.launch('home', CTX)).revalidation).toBeNull();
  expect(layoutGets(request)).toHaveLength(2);
});

test('intervals come from each response, not from constants', async () => {
  const { client, request, clock } = setup();
  request.handler = () => ok(elderly, '"e1"', 'private, max-age=5, stale-while-revalidate=10, stale-if-error=20');
  await client.revalidate('home', CTX);
  await clock.advance(6 * 1000); // past this response's max-age, inside its SWR
  expect((await client.launch('home', CTX)).source).toBe('cache');
  await settle();
  expect(layoutGets(request)).toHaveLength(2); // revalidated in the background
  // the 200 it got says max-age=600: now fresh for ten minutes
  request.handler = () => ok(elderly, '"e2"', 'private, max-age=600, stale-while-revalidate=10, stale-if-error=20');
  await client.revalidate('home', CTX);
  await clock.advance(500 * 1000);
  expect(await (await client.launch('home', CTX)).revalidation).toBeNull();
  expect(layoutGets(request)).toHaveLength(3);
});

test('past stale-while-revalidate with a default: the default at once, the stored copy revived by a 304', async () => {
  const { client, request, clock } = setup({ defaults: { home: standard } });
  request.handler = () => ok(elderly, '"e1"');
  await client.revalidate('home', CTX);
  await clock.advance((60 + 3600 + 1) * 1000);
  request.handler = () => ({ statusCode: 304, header: { ETag: '"e1"', 'Cache-Control': CC } });
  const updates = [];
  client.onUpdate((page, layout) => updates.push(layout.mode));
  const launched = await client.launch('home', CTX);
  expect(launched.source).toBe('default');
  expect((await launched.revalidation).status).toBe('not_modified');
  expect(updates).toEqual(['elderly']);
});

test('network failure keeps the stored layout within stale-if-error ("offline"), then the default ("expired")', async () => {
  const { client, request, clock } = setup({ defaults: { home: standard } });
  request.handler = () => ok(elderly, '"e1"');
  await client.revalidate('home', CTX);
  request.handler = () => 'fail';
  await clock.advance((60 + 86400) * 1000); // exactly max-age + stale-if-error
  const offline = await client.revalidate('home', CTX);
  expect(offline).toEqual({ layout: elderly, status: 'offline', etag: '"e1"' });
  await clock.advance(1000);
  const expired = await client.revalidate('home', CTX);
  expect(expired.status).toBe('expired');
  expect(expired.layout).toBe(standard);
});

test('a 5xx counts as an error for stale-if-error; revalidate never throws for the network', async () => {
  const { client, request } = setup();
  request.handler = () => ok(elderly, '"e1"');
  await client.revalidate('home', CTX);
  request.handler = () => ({ statusCode: 503, data: { error: { code: 'unavailable', message: 'x' } } });
  expect((await client.revalidate('home', CTX)).status).toBe('offline');
  request.handler = () => 'fail';
  const none = await client.revalidate('cart', CTX);
  expect(none).toEqual({ layout: null, status: 'expired', etag: null });
});

test('with nothing stored, no default and no network, launch rejects with LayoutUnavailableError', async () => {
  const { client } = setup();
  await expect(client.launch('home', CTX)).rejects.toBeInstanceOf(LayoutUnavailableError);
});

test('with nothing stored and no default, launch waits for the network', async () => {
  const { client, request } = setup();
  request.handler = () => ok(standard, '"s1"');
  const launched = await client.launch('home', CTX);
  expect(launched.source).toBe('network');
  expect(launched.etag).toBe('"s1"');
});

test('a schema other than 1 is refused, not stored, and the default used', async () => {
  const { client, request, storage, errors } = setup({ defaults: { home: standard } });
  request.handler = () => ok(Object.assign({}, elderly, { schema: 2 }), '"x"');
  const result = await client.revalidate('home', CTX);
  expect(result).toEqual({ layout: standard, status: 'expired', etag: null });
  expect([...storage.data.keys()].some((k) => k.indexOf('layout:') >= 0)).toBe(false);
  expect(errors.map((e) => e.code)).toContain('unsupported_schema');
  // a stored schema-2 document (an older SDK's?) is never shown either
  storage.setStorageSync('uiserver:layout:alice|home|device=phone&width=375&locale=zh-CN',
    { layout: Object.assign({}, elderly, { schema: 2 }), etag: '"x"', storedAt: 0, cacheControl: { maxAge: 1e12 } });
  request.handler = () => 'fail';
  expect((await client.launch('home', CTX)).source).toBe('default');
});

test('a degraded no-store answer is shown once, never stored, and the own stored layout wins', async () => {
  const { client, request, make } = setup();
  request.handler = () => ({ statusCode: 200, header: { ETag: '"d"', 'Cache-Control': 'no-store' }, data: standard });
  expect((await client.revalidate('home', CTX)).status).toBe('updated');
  expect(client.storedKeys()).toHaveLength(0);
  request.handler = () => ok(elderly, '"e1"');
  await client.revalidate('home', CTX);
  request.handler = () => ({ statusCode: 200, header: { ETag: '"d"', 'Cache-Control': 'no-store' }, data: standard });
  const kept = await make().revalidate('home', CTX);
  expect(kept.status).toBe('offline');
  expect(kept.layout.mode).toBe('elderly');
});

test('stored layouts are keyed by user, page and context', async () => {
  const { client, request, setToken } = setup({ defaults: { home: standard } });
  request.handler = () => ok(elderly, '"e1"');
  await client.revalidate('home', CTX);
  request.handler = () => 'fail';
  expect((await client.launch('home', CTX)).source).toBe('cache');
  expect((await client.launch('home', Object.assign({}, CTX, { dark: true }))).source).toBe('default');
  setToken(tokenFor('bob'));
  expect((await client.launch('home', CTX)).source).toBe('default');
});

test('the store is bounded: least recently used entries are evicted', async () => {
  const { make, request, clock, storage } = setup();
  const client = make({ maxEntries: 3 });
  request.handler = (req) => ok(Object.assign({}, standard, { page: req.url.split('/').pop().split('?')[0] }), '"p"');
  for (const page of ['a', 'b', 'c', 'd', 'e']) {
    await client.revalidate(page, CTX);
    await clock.advance(1000);
  }
  expect(client.storedKeys().map((k) => k.split('|')[1])).toEqual(['c', 'd', 'e']);
  expect([...storage.data.keys()].filter((k) => k.indexOf('layout:') >= 0)).toHaveLength(3);
});

test('concurrent revalidations of one layout share one request', async () => {
  const { client, request } = setup();
  request.handler = () => ok(elderly, '"e1"');
  const [a, b] = await Promise.all([client.revalidate('home', CTX), client.revalidate('home', CTX)]);
  expect(a).toBe(b);
  expect(layoutGets(request)).toHaveLength(1);
});

test('changing settings makes the next launch wait for the new layout even within max-age', async () => {
  const { client, request } = setup();
  request.handler = () => ok(standard, '"s1"');
  await client.revalidate('home', CTX);
  request.handler = (req) => ({ statusCode: 200, data: req.body });
  await client.putSettings({ elderly_mode: 'on' });
  request.handler = () => ok(elderly, '"e1"');
  const launched = await client.launch('home', CTX);
  expect(launched.source).toBe('network'); // the old mode is never drawn, not even once
  expect(launched.layout.mode).toBe('elderly');
});

test('patchSettings sends a merge patch; on 405 it falls back to GET + PUT', async () => {
  const { client, request } = setup();
  const stored = { elderly_mode: 'auto', font_scale: 1.0, personalization: 1.0, handedness: 'unknown' };
  request.handler = (req) => (req.method === 'PATCH'
    ? { statusCode: 200, data: Object.assign({}, stored, req.body) } : 'fail');
  expect((await client.patchSettings({ elderly_mode: 'on' })).elderly_mode).toBe('on');
  expect(request.requests[request.requests.length - 1].header['Content-Type']).toBe('application/merge-patch+json');

  const old = setup();
  old.request.handler = (req) => {
    if (req.method === 'PATCH') return { statusCode: 405, data: { error: { code: 'method_not_allowed', message: 'no' } } };
    if (req.method === 'GET') return { statusCode: 200, data: stored };
    return { statusCode: 200, data: req.body };
  };
  const saved = await old.client.patchSettings({ elderly_mode: 'on', handedness: 'left' });
  expect(saved).toEqual(Object.assign({}, stored, { elderly_mode: 'on', handedness: 'left' }));
  expect(old.request.requests.map((r) => r.method)).toEqual(['PATCH', 'GET', 'PUT']);
  await old.client.patchSettings({ font_scale: 1.5 }); // remembers: no PATCH again
  expect(old.request.requests.map((r) => r.method)).toEqual(['PATCH', 'GET', 'PUT', 'GET', 'PUT']);
});

test('settings errors surface as ApiError with the contract code and field', async () => {
  const { client, request } = setup();
  request.handler = () => ({ statusCode: 422, data: { error: { code: 'invalid', message: 'bad', field: 'font_scale' } } });
  await expect(client.putSettings({ font_scale: 9 })).rejects.toMatchObject({ status: 422, code: 'invalid', field: 'font_scale' });
});

test('erase deletes on the server, then everything the SDK stored about the user', async () => {
  const { client, request, storage, make, setToken } = setup();
  request.handler = () => ok(elderly, '"e1"');
  await client.revalidate('home', CTX);
  setToken(tokenFor('bob'));
  await client.revalidate('home', CTX);
  setToken(tokenFor('alice'));
  client.track('home', 'search', 'click');
  request.handler = (req) => (req.method === 'DELETE' ? { statusCode: 200, data: { erased: true } } : 'fail');
  expect(await client.erase()).toEqual({ erased: true });
  expect(request.requests[request.requests.length - 1].url).toBe('https://ui.example.com/v1/me');
  const keys = [...storage.data.keys()].join(' ');
  expect(keys).not.toMatch(/alice/);
  expect(keys).toMatch(/bob/);
  expect(client.pendingEvents()).toEqual([]);
  expect((await make().launch('home', CTX).catch((e) => e))).toBeInstanceOf(LayoutUnavailableError);
});

test('erase that fails on the server keeps the local copy and throws', async () => {
  const { client, request } = setup();
  request.handler = () => ok(elderly, '"e1"');
  await client.revalidate('home', CTX);
  request.handler = () => 'fail';
  await expect(client.erase()).rejects.toThrow();
  expect(client.storedKeys()).toHaveLength(1);
});

test('context() reads device class, width, dark, font size and locale from system info', () => {
  const { make } = setup();
  const info = { windowWidth: 414, theme: 'dark', fontSizeSetting: 24, language: 'zh_CN', platform: 'ios', model: 'iPhone 13' };
  expect(make({ systemInfo: () => info }).context()).toEqual({ device: 'phone', width: 414, dark: true, font_px: 24, locale: 'zh-CN' });
  expect(make({ systemInfo: () => ({ windowWidth: 768, model: 'iPad Pro', language: 'en' }) }).context())
    .toEqual({ device: 'tablet', width: 768, locale: 'en' });
  expect(make({ systemInfo: () => ({ windowWidth: 1280, platform: 'windows' }) }).context().device).toBe('desktop');
});

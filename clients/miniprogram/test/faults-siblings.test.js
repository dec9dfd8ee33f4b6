'use strict';
// More inputs of issue 22's fault kinds (clocks x storage, storage that throws on remove,
// Retry-After past 12 digits). Each failed on the SDK before its fix.

const { createLayoutClient, retryAfterMs } = require('../src');
const { createStore } = require('../src/sdk/store');
const { fakeClock, fakeStorage, fakeRequest, tokenFor } = require('./helpers/fakes');
const elderly = require('./fixtures/home-elderly.json');

const CC = 'private, max-age=60, stale-while-revalidate=3600, stale-if-error=86400';
const CTX = { device: 'phone', width: 375, locale: 'zh-CN' };
const YEAR = 365 * 24 * 3600 * 1000;

function setup(storage, maxEntries) {
  const clock = fakeClock();
  let skew = 0;
  const request = fakeRequest((req) => (req.method === 'DELETE'
    ? { statusCode: 200, data: { erased: true } }
    : { statusCode: 200, header: { ETag: '"e"', 'Cache-Control': CC }, data: elderly }));
  const client = createLayoutClient({
    baseUrl: 'https://ui.example.com', getToken: () => tokenFor('alice'), request, storage,
    now: () => clock.now() + skew, scheduler: clock.scheduler, random: () => 0.5,
    onAppHide: () => {}, onError: () => {}, register: false, maxEntries,
  });
  return { client, request, clock, setSkew: (ms) => { skew = ms; } };
}

describe('clocks x storage', () => {
  test('after a clock a year ahead is corrected, a new layout is stored and indexed, not evicted at once (erase finds it)', async () => {
    const storage = fakeStorage(); // no getStorageInfoSync: the index is all erase() has
    const { client, setSkew } = setup(storage, 2);
    setSkew(YEAR);
    await client.revalidate('home', CTX);
    await client.revalidate('mine', CTX);
    setSkew(0);
    await client.revalidate('orders', CTX);
    const key = 'uiserver:layout:alice|orders|device=phone&width=375&locale=zh-CN';
    expect(storage.data.has(key)).toBe(true);
    expect(client.storedKeys()).toContain(key);
    await client.erase();
    expect([...storage.data.keys()].filter((k) => k.indexOf('alice') >= 0)).toEqual([]);
  });

  test('the store never evicts the key it is writing, whatever the index\'s times say', () => {
    const storage = fakeStorage();
    const store = createStore(storage, { maxEntries: 1 });
    const entry = { layout: elderly, etag: null, storedAt: 0, cacheControl: {} };
    store.put('alice', 'home', 'q', entry, YEAR);
    expect(store.put('alice', 'mine', 'q', entry, 0)).toBe(true);
    expect(store.keys()).toEqual(['uiserver:layout:alice|mine|q']);
    expect(storage.data.has('uiserver:layout:alice|home|q')).toBe(false);
  });
});

describe('storage that throws on remove', () => {
  test('erase() leaves no readable layout of the user when removeStorageSync throws', async () => {
    const storage = fakeStorage();
    const { client, request } = setup(storage);
    await client.revalidate('home', CTX);
    storage.removeStorageSync = () => { throw new Error('removeStorageSync:fail'); };
    await client.erase();
    request.handler = () => 'fail';
    const stored = [...storage.data.entries()].filter(([k]) => k.indexOf('alice') >= 0)
      .map(([, v]) => JSON.parse(v)).filter((v) => v !== '' && v !== null);
    expect(stored).toEqual([]);
    await expect(client.launch('home', CTX)).rejects.toThrow();
  });
});

describe('Retry-After', () => {
  test('delta-seconds longer than 12 digits is the longest wait (RFC 9111 1.2.2), not none', () => {
    expect(retryAfterMs('99999999999999999999', null, 0, 3600000)).toBe(3600000);
    expect(retryAfterMs('0000000000000120', null, 0, 3600000)).toBe(120000);
  });
});

describe('capability registration (428) that cannot complete', () => {
  test('a 428 whose registration fails on the network stands in like an error: the stored copy within stale-if-error', async () => {
    const clock = fakeClock();
    const request = fakeRequest();
    const storage = fakeStorage();
    let online = true;
    request.handler = (req) => {
      if (req.url.endsWith('/v1/capabilities')) return 'fail';
      if (online) return { statusCode: 200, header: { ETag: '"e"', 'Cache-Control': CC }, data: elderly };
      return { statusCode: 428, data: { error: { code: 'capabilities_unknown', message: 'x' } } };
    };
    const make = (types) => createLayoutClient({
      baseUrl: 'https://ui.example.com', getToken: () => tokenFor('alice'), request, storage,
      now: clock.now, scheduler: clock.scheduler, onAppHide: () => {}, onError: () => {},
      register: false, types,
    });
    await make().revalidate('home', CTX);
    online = false; // a new release with its own types; the server does not know its hash yet
    await clock.advance(2 * 3600 * 1000); // past stale-while-revalidate, within stale-if-error
    const launched = await make(['search_bar', 'my_widget']).launch('home', CTX);
    expect(launched.source).toBe('cache');
    expect(launched.layout.mode).toBe(elderly.mode);
  });
});

test('Alipay: a removal answered as {error} (not thrown) is a failed removal, so erasure blanks the copy', () => {
  const platforms = require('../src/platforms');
  const data = new Map();
  const api = {
    request: () => {},
    getStorageSync: ({ key }) => ({ data: data.has(key) ? JSON.parse(data.get(key)) : null }),
    setStorageSync: ({ key, data: value }) => { data.set(key, JSON.stringify(value)); return { success: true }; },
    removeStorageSync: () => ({ error: 10, errorMessage: 'removeStorageSync:fail' }),
  };
  const storage = platforms.alipay(api).storage;
  expect(() => storage.removeStorageSync('k')).toThrow(/removeStorageSync:fail/);
  const store = createStore(storage);
  store.put('alice', 'home', 'q', { layout: elderly, etag: '"e"', storedAt: 0, cacheControl: {} }, 0);
  store.removeUser('alice');
  expect(store.get('alice', 'home', 'q')).toBeNull();
});

test('a damaged index item naming another user for Alice\'s key: erase() still removes Alice\'s copy (no key list on the platform)', async () => {
  const storage = fakeStorage();
  const { client } = setup(storage);
  await client.revalidate('home', CTX);
  const index = storage.getStorageSync('uiserver:index');
  index.forEach((item) => { item.u = 'bob'; });
  storage.setStorageSync('uiserver:index', index);
  await client.erase();
  expect([...storage.data.keys()].filter((k) => k.indexOf('alice') >= 0)).toEqual([]);
});

test('a registration answered 503 (a blip) is tried again on the next 428, never a downgrade to r= alone for the whole run', async () => {
  const { RENDERER_VERSION, typesHash } = require('../src');
  const clock = fakeClock();
  const request = fakeRequest();
  let down = true;
  const registered = [];
  request.handler = (req) => {
    if (req.url.endsWith('/v1/capabilities')) {
      if (down) return { statusCode: 503, data: { error: { code: 'store_unavailable', message: 'x' } } };
      registered.push(req.body);
      return { statusCode: 201, data: {} };
    }
    if (req.header['X-UI-Capabilities'].indexOf(';t=') >= 0 && !registered.length) {
      return { statusCode: 428, data: { error: { code: 'capabilities_unknown', message: 'x' } } };
    }
    return { statusCode: 200, header: { ETag: '"e"', 'Cache-Control': CC }, data: elderly };
  };
  const client = createLayoutClient({
    baseUrl: 'https://ui.example.com', getToken: () => tokenFor('alice'), request, storage: fakeStorage(),
    now: clock.now, scheduler: clock.scheduler, onAppHide: () => {}, onError: () => {}, register: false,
    types: ['search_bar', 'my_widget'],
  });
  await client.revalidate('home', CTX);
  down = false;
  await clock.advance(2 * 3600 * 1000);
  expect((await client.revalidate('home', CTX)).status).toBe('updated');
  const full = `r=${RENDERER_VERSION};t=${typesHash(['search_bar', 'my_widget'])}`;
  const gets = request.requests.filter((r) => r.url.indexOf('/v1/layouts/') >= 0);
  expect(gets[gets.length - 1].header['X-UI-Capabilities']).toBe(full);
  expect(registered).toHaveLength(1);
});

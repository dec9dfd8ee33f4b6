'use strict';
// Answer headers in every runtime's shapes: names in any case (Alipay and Douyin answer
// lower-case on some base libraries, wx as sent), values given as arrays (some Alipay `my.request`
// and Douyin `tt.request` versions), numbers, the same field under two cases. The SDK reads them
// through one normalisation (http.js normalizeHeaders), so ETag, Cache-Control, Age, Date and
// Retry-After mean the same on every platform.

const { createLayoutClient, platforms } = require('../src');
const { normalizeHeaders } = require('../src/sdk/http');
const { fakeClock, fakeStorage, tokenFor, settle } = require('./helpers/fakes');
const elderly = require('./fixtures/home-elderly.json');

const CTX = { device: 'phone', width: 375, locale: 'zh-CN' };
const DATE = 'Tue, 14 Nov 2023 22:13:20 GMT'; // the fake clock's start, 1700000000000

/**
 * The runtime object of `name`, whose request answers with `script(opts)`: {status, headers, data}
 * handed over in the runtime's own shape with `headers` exactly as given (never normalised here).
 */
function runtime(name, script) {
  const storage = fakeStorage();
  const sent = [];
  if (name === 'alipay') {
    const data = new Map();
    const api = {
      request(opts) {
        sent.push({ url: opts.url, method: opts.method, header: opts.headers });
        Promise.resolve().then(() => {
          const res = script(opts);
          const answer = { status: res.status, headers: res.headers, data: res.data };
          if (res.status >= 400) opts.fail(Object.assign({ error: 19, errorMessage: 'http status error' }, answer));
          else opts.success(answer);
        });
      },
      getStorageSync: ({ key }) => ({ data: data.has(key) ? JSON.parse(data.get(key)) : null }),
      setStorageSync: ({ key, data: value }) => { data.set(key, JSON.stringify(value)); return { success: true }; },
      removeStorageSync: ({ key }) => { data.delete(key); return { success: true }; },
      getStorageInfoSync: () => ({ keys: [...data.keys()] }),
    };
    return { platform: platforms.alipay(api), sent };
  }
  if (name === 'web') {
    const local = new Map();
    const win = {
      fetch(url, init) {
        sent.push({ url, method: init.method, header: init.headers });
        const res = script(init);
        // a fetch Headers: names lower-case, one string per name (arrays are the platforms')
        const headers = new Headers();
        Object.keys(res.headers).forEach((k) => {
          [].concat(res.headers[k]).forEach((v) => headers.append(k, String(v)));
        });
        return Promise.resolve({ status: res.status, headers, text: async () => JSON.stringify(res.data) });
      },
      localStorage: {
        getItem: (k) => (local.has(k) ? local.get(k) : null),
        setItem: (k, v) => { local.set(k, String(v)); },
        removeItem: (k) => { local.delete(k); },
        key: (i) => [...local.keys()][i] || null,
        get length() { return local.size; },
      },
      setTimeout: () => 0,
      clearTimeout: () => {},
    };
    return { platform: platforms.web(win), sent };
  }
  const api = Object.assign({
    request(opts) {
      sent.push({ url: opts.url, method: opts.method, header: opts.header });
      Promise.resolve().then(() => {
        const res = script(opts);
        opts.success({ statusCode: res.status, header: res.headers, data: res.data });
      });
    },
  }, storage);
  return { platform: (name === 'wechat' ? platforms.wechat : platforms.douyin)(api), sent };
}

function setup(name, script) {
  const clock = fakeClock();
  const { platform, sent } = runtime(name, script);
  const errors = [];
  const client = createLayoutClient({
    baseUrl: 'https://ui.example.com', getToken: () => tokenFor('alice'), platform,
    now: clock.now, scheduler: clock.scheduler, onAppHide: () => {}, capabilities: false,
    onError: (e) => errors.push(e), register: false,
  });
  const layoutGets = () => sent.filter((r) => r.url.indexOf('/v1/layouts/') >= 0);
  return { client, clock, sent, layoutGets, errors };
}

/** The request's If-None-Match, in whatever case the SDK sent it. */
const ifNoneMatch = (req) => req.header['If-None-Match'];

const SHAPES = {
  // Alipay my.request on some base libraries: lower-case names, every value an array
  alipay: {
    ok: { etag: ['"e1"'], 'cache-control': ['private, max-age=60', 'stale-if-error=86400'], date: [DATE] },
    notModified: { etag: ['"e1"'], 'cache-control': ['private, max-age=60'] },
    busy: { 'retry-after': ['120'], date: [DATE] },
  },
  // Douyin tt.request: the names as the server sent them, a value an array, Age a number
  douyin: {
    ok: { ETag: ['"e1"'], 'Cache-Control': ['private', 'max-age=60, stale-if-error=86400'], Age: 0 },
    notModified: { ETag: ['"e1"'], 'Cache-Control': 'private, max-age=60' },
    busy: { 'Retry-After': [120], Date: [DATE] },
  },
  // WeChat: names as sent, one string each; the same field under two cases
  wechat: {
    ok: { ETag: '"e1"', 'Cache-Control': 'private, max-age=60', 'cache-control': 'stale-if-error=86400' },
    notModified: { Etag: '"e1"', 'CACHE-CONTROL': 'private, max-age=60' },
    busy: { 'Retry-After': 120, Date: DATE },
  },
  // the web: fetch's Headers (lower-case, lists joined by fetch itself)
  web: {
    ok: { etag: '"e1"', 'cache-control': ['private, max-age=60', 'stale-if-error=86400'] },
    notModified: { etag: '"e1"', 'cache-control': 'private, max-age=60' },
    busy: { 'retry-after': '120', date: DATE },
  },
};

describe.each(Object.keys(SHAPES))('%s answer headers', (name) => {
  const shape = SHAPES[name];

  test('ETag and Cache-Control in the runtime\'s shape: stored fresh for max-age, revalidated with the ETag, a 304 keeps it', async () => {
    let answer = { status: 200, headers: shape.ok, data: elderly };
    const { client, clock, layoutGets, errors } = setup(name, () => answer);
    expect((await client.launch('home', CTX)).source).toBe('network');
    await clock.advance(30 * 1000);
    expect((await client.launch('home', CTX)).source).toBe('cache'); // fresh: nothing asked
    expect(layoutGets()).toHaveLength(1);
    await clock.advance(31 * 1000);
    answer = { status: 304, headers: shape.notModified, data: '' };
    const again = await client.revalidate('home', CTX);
    expect(layoutGets()).toHaveLength(2);
    expect(ifNoneMatch(layoutGets()[1])).toBe('"e1"');
    expect(again.status).toBe('not_modified');
    expect(again.etag).toBe('"e1"');
    expect(again.layout).toEqual(elderly);
    // the 304 restarted max-age: fresh again for 60 s
    await clock.advance(30 * 1000);
    expect((await client.launch('home', CTX)).source).toBe('cache');
    expect(layoutGets()).toHaveLength(2);
    expect(errors).toEqual([]);
  });

  test('stale-if-error given in a second value (array member or other-case name) counts: offline within a day', async () => {
    let answer = { status: 200, headers: shape.ok, data: elderly };
    const { client, clock } = setup(name, () => answer);
    await client.launch('home', CTX);
    await clock.advance(3 * 60 * 60 * 1000); // past max-age, well within stale-if-error
    answer = { status: 503, headers: {}, data: { error: { code: 'unavailable', message: 'down' } } };
    const res = await client.revalidate('home', CTX);
    expect(res.status).toBe('offline');
    expect(res.layout).toEqual(elderly);
  });

  test('Retry-After in the runtime\'s shape holds layout requests back for its 120 s', async () => {
    const answer = { status: 503, headers: shape.busy, data: { error: { code: 'unavailable', message: 'busy' } } };
    const { client, clock, layoutGets } = setup(name, () => answer);
    await client.revalidate('home', CTX);
    expect(layoutGets()).toHaveLength(1);
    await clock.advance(100 * 1000);
    await client.revalidate('home', CTX);
    expect(layoutGets()).toHaveLength(1); // held back
    await clock.advance(21 * 1000);
    await client.revalidate('home', CTX);
    expect(layoutGets()).toHaveLength(2);
  });
});

describe('normalizeHeaders', () => {
  test('names lower-cased; arrays, numbers and booleans as text; list fields joined in order', () => {
    expect(normalizeHeaders({ ETag: ['"a"'], 'Cache-Control': ['private', 'max-age=60'], Age: 30, X: true }))
      .toEqual({ etag: '"a"', 'cache-control': 'private, max-age=60', age: '30', x: 'true' });
    expect(normalizeHeaders({ 'Cache-Control': 'private', 'cache-control': ['max-age=60'] }))
      .toEqual({ 'cache-control': 'private, max-age=60' });
  });

  test('a singleton given twice with different values is absent; the same value twice is that value; Age takes its first', () => {
    expect(normalizeHeaders({ ETag: '"a"', etag: '"b"', Date: [DATE, DATE], Age: ['10', '20'] }))
      .toEqual({ date: DATE, age: '10' });
    expect(normalizeHeaders({ 'Retry-After': ['120', '5'] })).toEqual({});
  });

  test('a singleton a runtime joined from two equal lines is that value; two different values are absent', () => {
    expect(normalizeHeaders({ 'retry-after': '120, 120', etag: '"e1", "e1"', date: DATE + ', ' + DATE, age: '10, 20' }))
      .toEqual({ 'retry-after': '120', etag: '"e1"', date: DATE, age: '10' });
    expect(normalizeHeaders({ 'retry-after': '120, 60', etag: '"a", "b"', date: DATE + ', Wed, 15 Nov 2023 00:00:00 GMT' }))
      .toEqual({ 'retry-after': '120, 60', date: DATE + ', Wed, 15 Nov 2023 00:00:00 GMT' }); // an ETag list: none
    expect(normalizeHeaders({ 'Retry-After': ['120, 120', '120'] })).toEqual({ 'retry-after': '120' });
  });

  test('null, undefined, objects and junk are no headers, never a throw', () => {
    expect(normalizeHeaders(null)).toEqual({});
    expect(normalizeHeaders(undefined)).toEqual({});
    expect(normalizeHeaders(42)).toEqual({});
    expect(normalizeHeaders(['ETag', '"a"'])).toEqual({});
    expect(normalizeHeaders({ ETag: null, Age: undefined, Date: { v: 1 }, constructor: 'x', __proto__: { a: 1 } }))
      .toEqual({ constructor: 'x' });
    expect(normalizeHeaders({ ETag: [null, '"a"', { x: 1 }] })).toEqual({ etag: '"a"' });
  });

  test('a header block as text (`Name: value` lines) and a fetch Headers are read', () => {
    expect(normalizeHeaders('HTTP/1.1 200 OK\r\nETag: "a"\r\nCache-Control: max-age=60\r\n\r\n'))
      .toEqual({ etag: '"a"', 'cache-control': 'max-age=60' });
    const h = new Headers();
    h.append('ETag', '"a"');
    h.append('Cache-Control', 'private');
    h.append('Cache-Control', 'max-age=60');
    expect(normalizeHeaders(h)).toEqual({ etag: '"a"', 'cache-control': 'private, max-age=60' });
  });
});

test('a duplicated ETag with two values is no validator: the next revalidation asks without If-None-Match', async () => {
  let answer = { status: 200, headers: { ETag: '"a"', etag: '"b"', 'Cache-Control': 'max-age=60' }, data: elderly };
  const { client, clock, layoutGets } = setup('douyin', () => answer);
  const first = await client.revalidate('home', CTX);
  expect(first.etag).toBe(null);
  await clock.advance(61 * 1000);
  answer = { status: 200, headers: { ETag: '"c"', 'Cache-Control': 'max-age=60' }, data: elderly };
  await client.revalidate('home', CTX);
  expect(ifNoneMatch(layoutGets()[1])).toBeUndefined();
  await settle();
});

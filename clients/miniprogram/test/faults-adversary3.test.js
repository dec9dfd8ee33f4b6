'use strict';
// A third adversary's inputs of issue 22's kinds, on every platform adapter (WeChat, Alipay,
// Douyin, the web): answers whose status is no HTTP status (a platform's 0, a missing one, a
// string), Alipay's JSON decoding of an empty 304, a web page whose storage is blocked, and
// Retry-After, Date and ETag repeated by a proxy (fetch joins the two lines). Each failed on the
// SDK before its fix, but the blocked storage, which passed already (a guard).

const { createLayoutClient, platforms } = require('../src');
const { fakeClock, tokenFor, settle } = require('./helpers/fakes');
const elderly = require('./fixtures/home-elderly.json');

const CTX = { device: 'phone', width: 375, locale: 'zh-CN' };
const CC = 'private, max-age=60, stale-while-revalidate=60, stale-if-error=86400';

/**
 * A runtime of `name` whose server is `script(method, path, headers)` -> {status, headers, data}
 * or 'fail'; `raw(res)` may reshape the platform's answer (the adversary's input).
 */
function runtime(name, script, raw) {
  const sent = [];
  const shape = raw || ((x) => x);
  const map = new Map();
  const wxStorage = {
    getStorageSync: (k) => (map.has(k) ? JSON.parse(map.get(k)) : ''),
    setStorageSync: (k, v) => { map.set(k, JSON.stringify(v)); },
    removeStorageSync: (k) => { map.delete(k); },
    getStorageInfoSync: () => ({ keys: [...map.keys()] }),
  };
  const ask = (method, url, headers, body) => {
    const path = url.replace('https://ui.example.com', '');
    sent.push({ method, path, headers, body: typeof body === 'string' && body ? JSON.parse(body) : undefined });
    return script(method, path, headers || {});
  };
  if (name === 'alipay') {
    const api = {
      request(opts) {
        Promise.resolve().then(() => {
          const res = ask(opts.method, opts.url, opts.headers, opts.data);
          if (res === 'fail') return opts.fail({ error: 12, errorMessage: 'network' });
          const answer = shape({ status: res.status, headers: res.headers || {}, data: res.data }, opts);
          if (answer.fail) return opts.fail(answer.fail);
          return answer.status >= 400 ? opts.fail(Object.assign({ error: 19 }, answer)) : opts.success(answer);
        });
      },
      getStorageSync: ({ key }) => ({ data: map.has(key) ? JSON.parse(map.get(key)) : null }),
      setStorageSync: ({ key, data }) => { map.set(key, JSON.stringify(data)); return { success: true }; },
      removeStorageSync: ({ key }) => { map.delete(key); return { success: true }; },
      getStorageInfoSync: () => ({ keys: [...map.keys()] }),
    };
    return { platform: platforms.alipay(api), sent, map };
  }
  if (name === 'web') {
    const local = new Map();
    const win = {
      fetch(url, init) {
        const res = ask(init.method, url, init.headers, init.body);
        if (res === 'fail') return Promise.reject(new TypeError('Failed to fetch'));
        const answer = shape({ status: res.status, headers: new Headers(res.headers || {}), data: res.data });
        const text = answer.data === undefined || answer.data === '' ? '' : JSON.stringify(answer.data);
        return Promise.resolve({ status: answer.status, headers: answer.headers, text: async () => text });
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
    return { platform: platforms.web(win), sent, map: local, win };
  }
  const api = Object.assign({
    request(opts) {
      Promise.resolve().then(() => {
        const res = ask(opts.method, opts.url, opts.header, opts.data);
        if (res === 'fail') return opts.fail({ errMsg: 'request:fail' });
        return opts.success(shape({ statusCode: res.status, header: res.headers || {}, data: res.data }, opts));
      });
    },
  }, wxStorage);
  return { platform: (name === 'wechat' ? platforms.wechat : platforms.douyin)(api), sent, map };
}

function setup(name, script, raw) {
  const clock = fakeClock();
  const made = runtime(name, script, raw);
  const errors = [];
  const client = createLayoutClient({
    baseUrl: 'https://ui.example.com', getToken: () => tokenFor('alice'), platform: made.platform,
    now: clock.now, scheduler: clock.scheduler, onAppHide: () => {}, capabilities: false,
    onError: (e) => errors.push(e), register: false,
  });
  return Object.assign({ client, clock, errors }, made);
}

const layoutOk = () => ({ status: 200, headers: { ETag: '"e1"', 'Cache-Control': CC }, data: elderly });
const PLATFORMS = ['wechat', 'alipay', 'douyin', 'web'];

// ------------------------------------------------- an answer whose status is no HTTP status

describe.each(PLATFORMS)('%s: an answer without an HTTP status (0, missing) is a network failure', (name) => {
  const statusless = (status) => (res) => (name === 'alipay' || name === 'web'
    ? Object.assign({}, res, { status }) : Object.assign({}, res, { statusCode: status }));

  test.each([0, undefined, -1, 1000])('status %p: the stored copy stands in (offline), no ApiError reaches the app', async (status) => {
    let broken = false;
    const { client, clock } = setup(name, () => layoutOk(), (res) => (broken ? statusless(status)(res) : res));
    await client.launch('home', CTX);
    await clock.advance(3 * 60 * 1000); // past max-age + stale-while-revalidate: the launch asks
    broken = true;
    const launched = await client.launch('home', CTX);
    expect(launched.source).toBe('cache');
    expect(launched.layout).toEqual(elderly);
    const result = await client.revalidate('home', CTX);
    expect(result.status).toBe('offline');
  });
});

describe.each(['alipay', 'douyin'])('%s: a status given as text', (name) => {
  test('"200" is read as 200: the layout is stored and served', async () => {
    const { client, map } = setup(name, () => layoutOk(), (res) => (name === 'alipay'
      ? Object.assign({}, res, { status: '200' }) : Object.assign({}, res, { statusCode: '200' })));
    const result = await client.revalidate('home', CTX);
    expect(result.status).toBe('updated');
    expect([...map.keys()].some((k) => k.indexOf('uiserver:layout:alice|home|') === 0)).toBe(true);
  });
});

// ------------------------------------------------- Alipay: a 304's empty body decoded as JSON

test('Alipay: a 304 is never sent through my.request\'s JSON decoding (an empty body fails it on some clients)', async () => {
  let step = 0;
  const { client, clock, sent } = setup('alipay', () => (step === 0 ? layoutOk()
    : { status: 304, headers: { ETag: '"e1"', 'Cache-Control': CC }, data: '' }), (res, opts) => {
    // dataType json: an empty or non-JSON body is a decoding failure (error 14), status and all lost
    if (opts.dataType === 'json' && (res.data === '' || typeof res.data === 'string')) {
      return { fail: { error: 14, errorMessage: 'JSON parse error' } };
    }
    return Object.assign({}, res, { data: typeof res.data === 'string' ? res.data : JSON.stringify(res.data) });
  });
  expect((await client.revalidate('home', CTX)).status).toBe('updated');
  step = 1;
  await clock.advance(61 * 1000);
  const result = await client.revalidate('home', CTX);
  expect(sent[1].headers['If-None-Match']).toBe('"e1"');
  expect(result.status).toBe('not_modified'); // the copy's clock restarts: fresh again
  await clock.advance(30 * 1000);
  expect((await client.launch('home', CTX)).source).toBe('cache');
  expect(sent).toHaveLength(2);
});

// ------------------------------------------------- a web page whose storage is blocked

test('web: a page whose localStorage throws on access (storage blocked) still launches, tracks and erases', async () => {
  const { client, win, errors } = setup('web', (method, path) => {
    if (path.indexOf('/v1/layouts/') === 0) return layoutOk();
    if (path === '/v1/me/events') return { status: 202, data: { stored: 1, ignored: 0 } };
    if (path === '/v1/me') return { status: 200, data: { erased: true } };
    return { status: 404, data: { error: { code: 'not_found', message: path } } };
  });
  Object.defineProperty(win, 'localStorage', { get() { throw new Error('SecurityError: access is denied'); } });
  const launched = await client.launch('home', CTX);
  expect(launched.source).toBe('network');
  expect(launched.layout).toEqual(elderly);
  expect(client.track('home', 'search', 'click')).toBe(true);
  expect((await client.flush()).pending).toBe(0);
  expect(await client.erase()).toEqual({ erased: true });
  await settle();
  expect(errors.filter((e) => !/SecurityError/.test(String(e && e.message)))).toEqual([]);
});

// ------------------------------------------------- a singleton field repeated, joined by the runtime

describe.each(PLATFORMS)('%s: Retry-After, Date and ETag given twice (a proxy repeating them; fetch joins them)', (name) => {
  // the web gets two header lines, which fetch's Headers joins; the mini-programs one joined value
  const twice = (value) => (name === 'web' ? [value, value] : value + ', ' + value);
  const headersOf = (fields) => {
    if (name !== 'web') return fields;
    const h = new Headers();
    Object.keys(fields).forEach((k) => [].concat(fields[k]).forEach((v) => h.append(k, v)));
    return h;
  };
  const reshape = (res) => (name === 'web' ? Object.assign({}, res, { headers: headersOf(res.rawHeaders || {}) }) : res);

  test('Retry-After 120 twice holds layout requests back for 120 s', async () => {
    const { client, clock, sent } = setup(name, () => ({ status: 503, headers: name === 'web' ? {} : { 'Retry-After': twice('120') },
      data: { error: { code: 'unavailable', message: 'busy' } } }),
    (res) => reshape(Object.assign({}, res, { rawHeaders: { 'Retry-After': twice('120') } })));
    await client.revalidate('home', CTX);
    await clock.advance(100 * 1000);
    await client.revalidate('home', CTX);
    expect(sent).toHaveLength(1); // held back
    await clock.advance(21 * 1000);
    await client.revalidate('home', CTX);
    expect(sent).toHaveLength(2);
  });

  test('an ETag twice is that ETag: revalidated with it, a 304 keeps the copy', async () => {
    let step = 0;
    const fields = () => ({ ETag: twice('"e1"'), 'Cache-Control': 'private, max-age=60' });
    const { client, clock, sent } = setup(name, () => (step === 0
      ? { status: 200, headers: name === 'web' ? {} : fields(), data: elderly }
      : { status: 304, headers: name === 'web' ? {} : fields(), data: '' }),
    (res) => reshape(Object.assign({}, res, { rawHeaders: fields() })));
    expect((await client.revalidate('home', CTX)).etag).toBe('"e1"');
    step = 1;
    await clock.advance(61 * 1000);
    expect((await client.revalidate('home', CTX)).status).toBe('not_modified');
    expect(sent[1].headers['If-None-Match']).toBe('"e1"');
    expect(sent).toHaveLength(2); // never asked again without a validator
  });

  test('a Date twice still teaches the clock: a phone a year behind times its events on the server\'s clock', async () => {
    const YEAR = 365 * 24 * 3600 * 1000;
    const fields = () => ({ Date: twice(new Date(1700000000000 + YEAR).toUTCString()), 'Cache-Control': CC, ETag: '"e1"' });
    const { client, sent } = setup(name, (method, path) => (path === '/v1/me/events'
      ? { status: 202, headers: {}, data: { stored: 1, ignored: 0 } }
      : { status: 200, headers: name === 'web' ? {} : fields(), data: elderly }),
    (res) => reshape(Object.assign({}, res, { rawHeaders: res.data === elderly ? fields() : {} })));
    await client.revalidate('home', CTX); // the phone's clock says 1700000000000, the server's a year on
    client.track('home', 'search', 'click');
    await client.flush();
    const posted = sent.find((r) => r.path === '/v1/me/events');
    expect(posted.body.events[0].ts).toBeGreaterThanOrEqual(Math.floor((1700000000000 + YEAR) / 1000) - 5);
  });
});

// ------------------------------------------------- a fetch polyfill's Headers without forEach

test('web: a fetch polyfill whose Headers has no forEach (unfetch: keys, entries, get) is an answer, not a network failure', async () => {
  const { client, clock, sent } = setup('web', () => layoutOk(), (res) => {
    const fields = [['etag', '"e1"'], ['cache-control', CC]];
    return Object.assign({}, res, { headers: {
      keys: () => fields.map((f) => f[0])[Symbol.iterator](),
      entries: () => fields[Symbol.iterator](),
      get: (n) => { const f = fields.find((x) => x[0] === n.toLowerCase()); return f ? f[1] : null; },
      has: (n) => fields.some((x) => x[0] === n.toLowerCase()),
    } });
  });
  const result = await client.revalidate('home', CTX);
  expect(result.status).toBe('updated');
  expect(result.etag).toBe('"e1"');
  await clock.advance(30 * 1000);
  expect((await client.launch('home', CTX)).source).toBe('cache'); // stored with its Cache-Control
  expect(sent).toHaveLength(1);
});

// ------------------------------------------------- an app's clock answering a Date

test('an app clock answering a Date (not ms) still adds: events carry numeric times, Retry-After holds', async () => {
  const base = fakeClock();
  let step = 0;
  const made = runtime('wechat', (method, path) => {
    if (path === '/v1/me/events') return { status: 503, headers: { 'Retry-After': '120', Date: new Date(base.now()).toUTCString() }, data: { error: { code: 'unavailable', message: 'busy' } } };
    step++;
    return step === 1 ? layoutOk() : { status: 503, headers: { 'Retry-After': '120' }, data: { error: { code: 'unavailable', message: 'busy' } } };
  });
  const client = createLayoutClient({
    baseUrl: 'https://ui.example.com', getToken: () => tokenFor('alice'), platform: made.platform,
    now: () => new Date(base.now()), scheduler: base.scheduler, onAppHide: () => {}, capabilities: false, register: false,
  });
  await client.revalidate('home', CTX);
  client.track('home', 'search', 'click');
  expect(typeof client.pendingEvents()[0].ts).toBe('number');
  await base.advance(3 * 60 * 1000);
  await client.revalidate('home', CTX); // 503 with Retry-After 120
  const asked = made.sent.filter((r) => r.path.indexOf('/v1/layouts/') === 0).length;
  await base.advance(60 * 1000);
  await client.revalidate('home', CTX);
  expect(made.sent.filter((r) => r.path.indexOf('/v1/layouts/') === 0)).toHaveLength(asked); // held back
});

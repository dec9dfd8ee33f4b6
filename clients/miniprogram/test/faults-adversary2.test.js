'use strict';
// A second adversary's inputs of issue 22's kinds: platform calls that never answer, platform
// error shapes (Alipay's {error} reads, a web page's damaged JSON), a capability registration
// an anonymous launch cannot make, the server's refusal of a value on a click mistaken for an
// old server. Each failed (or hung) on the SDK before its fix.

const { createLayoutClient, RENDERER_VERSION, typesHash } = require('../src');
const { createStore } = require('../src/sdk/store');
const platforms = require('../src/platforms');
const { fakeClock, fakeStorage, fakeRequest, tokenFor, settle } = require('./helpers/fakes');
const elderly = require('./fixtures/home-elderly.json');

const CC = 'private, max-age=60, stale-while-revalidate=3600, stale-if-error=86400';
const CTX = { device: 'phone', width: 375, locale: 'zh-CN' };
const ok = () => ({ statusCode: 200, header: { ETag: '"e"', 'Cache-Control': CC }, data: elderly });

function setup(extra) {
  const clock = fakeClock();
  const request = fakeRequest(ok);
  const storage = fakeStorage();
  let token = tokenFor('alice');
  const errors = [];
  const client = createLayoutClient(Object.assign({
    baseUrl: 'https://ui.example.com', getToken: () => token, request, storage,
    now: clock.now, scheduler: clock.scheduler, random: () => 0.5, onAppHide: () => {},
    onError: (e) => errors.push(e), register: false, timeoutMs: 10000,
  }, extra));
  return { client, clock, request, storage, errors, signIn: (t) => { token = t; } };
}

/** Whether `promise` has settled, without waiting for it. */
async function settled(promise) {
  let done = false;
  promise.then(() => { done = true; }, () => { done = true; });
  await settle();
  return done;
}

// ------------------------------------------------------ a platform request that never answers

describe('a request whose callbacks are never called (a platform bug, an app sent to the background)', () => {
  const silent = (dropped) => {
    const request = fakeRequest(ok);
    const answer = request;
    const wrapped = (opts) => {
      if (dropped(opts)) { request.requests.push({ url: opts.url, method: opts.method }); return; }
      answer(opts);
    };
    wrapped.requests = request.requests;
    return wrapped;
  };

  test('revalidate() falls back once the timeout has passed, and later revalidations do not join the lost one', async () => {
    let lose = true;
    const { client, clock } = setup({ request: silent(() => lose) });
    const first = client.revalidate('home', CTX);
    await settle(); // the request is sent
    await clock.advance(15000);
    expect(await settled(first)).toBe(true);
    expect((await first).status).toBe('expired');
    lose = false;
    expect((await client.revalidate('home', CTX)).status).toBe('updated');
  });

  test('a flush whose request is never answered gives up (events kept), so erase() is not stuck behind it', async () => {
    let lose = true;
    const request = silent((opts) => lose && opts.url.endsWith('/v1/me/events'));
    const { client, clock } = setup({ request });
    client.track('home', 'banner', 'click');
    const flushing = client.flush();
    await settle();
    await clock.advance(15000);
    expect(await settled(flushing)).toBe(true);
    expect((await flushing).pending).toBe(1);
    lose = false; // (the retry of the flush, sent meanwhile, is lost too: erase() waits for its timeout)
    const erasing = client.erase();
    await clock.advance(15000);
    expect(await settled(erasing)).toBe(true);
  });
});

// ----------------------------------------------------------------- platforms' own error shapes

describe('Alipay: a storage read answered {error} (not thrown)', () => {
  function alipayApi() {
    const data = new Map();
    const api = {
      failing: false,
      request: () => {},
      getStorageSync: ({ key }) => (api.failing ? { error: 12, errorMessage: 'getStorageSync:fail' }
        : { data: data.has(key) ? JSON.parse(data.get(key)) : null }),
      setStorageSync: ({ key, data: value }) => { data.set(key, JSON.stringify(value)); return { success: true }; },
      removeStorageSync: ({ key }) => { data.delete(key); return { success: true }; },
    };
    return { api, data };
  }

  test('is a failed read: the index is not written over, so erase() still finds every copy', () => {
    const { api, data } = alipayApi();
    const store = createStore(platforms.alipay(api).storage);
    const entry = { layout: elderly, etag: '"e"', storedAt: 0, cacheControl: {} };
    store.put('alice', 'home', 'q', entry, 0);
    api.failing = true; // a moment's failure while another page is stored
    store.put('alice', 'mine', 'q', entry, 1);
    api.failing = false;
    store.removeUser('alice'); // Alipay's key list left out: the index is all there is
    expect([...data.keys()].filter((k) => k.indexOf('alice') >= 0)).toEqual([]);
  });

  test('the adapter throws for it, as wx does', () => {
    const { api } = alipayApi();
    api.failing = true;
    expect(() => platforms.alipay(api).storage.getStorageSync('k')).toThrow(/getStorageSync:fail/);
  });
});

describe('web: a localStorage value that is not JSON (damaged, or written by another script)', () => {
  function fakeWindow() {
    const items = new Map();
    return {
      items,
      fetch: () => Promise.reject(new Error('offline')),
      setTimeout, clearTimeout,
      localStorage: {
        getItem: (k) => (items.has(k) ? items.get(k) : null),
        setItem: (k, v) => { items.set(k, String(v)); },
        removeItem: (k) => { items.delete(k); },
        key: (i) => [...items.keys()][i] || null,
        get length() { return items.size; },
      },
    };
  }

  test('a damaged index is repaired, not a fault forever: layouts are stored and read again', () => {
    const win = fakeWindow();
    win.items.set('uiserver:index', '[{"k":"uiserver:layout:alice|home|'); // cut short
    const store = createStore(platforms.web(win).storage);
    const entry = { layout: elderly, etag: '"e"', storedAt: 0, cacheControl: { maxAge: 60 } };
    expect(store.put('alice', 'home', 'q', entry, 0)).toBe(true);
    expect(store.get('alice', 'home', 'q')).not.toBeNull();
  });

  test('a damaged stored layout is removed when read (and so is a damaged event queue)', () => {
    const win = fakeWindow();
    const storage = platforms.web(win).storage;
    const store = createStore(storage);
    const entry = { layout: elderly, etag: '"e"', storedAt: 0, cacheControl: { maxAge: 60 } };
    store.put('alice', 'home', 'q', entry, 0);
    win.items.set('uiserver:layout:alice|home|q', '{"layout":{"schema":1,"pa');
    expect(store.get('alice', 'home', 'q')).toBeNull();
    expect(win.items.has('uiserver:layout:alice|home|q')).toBe(false);
    expect(store.keys()).toEqual([]);
  });
});

// ------------------------------------------------------------- capability negotiation

describe('capabilities: a registration the server answers 401 (an anonymous launch)', () => {
  const unknown = () => ({ statusCode: 428, data: { error: { code: 'capabilities_unknown', message: 'x' } } });

  test('is not a refusal of the types: once the user signs in the list is registered and the full value sent', async () => {
    const registered = [];
    const request = fakeRequest((req) => {
      if (req.url.endsWith('/v1/capabilities')) {
        if (!req.header.Authorization) {
          return { statusCode: 401, data: { error: { code: 'unauthenticated', message: 'a bearer token is required' } } };
        }
        registered.push(req.body);
        return { statusCode: 201, data: {} };
      }
      return req.header['X-UI-Capabilities'].indexOf(';t=') >= 0 && !registered.length ? unknown() : ok();
    });
    const { client, signIn } = setup({ request, types: ['search_bar', 'my_widget'] });
    signIn(null);
    const anonymous = await client.revalidate('home', CTX);
    expect(anonymous.status).toBe('updated'); // the anonymous launch is served (r= alone, this once)
    signIn(tokenFor('alice'));
    await client.revalidate('mine', CTX);
    expect(registered).toHaveLength(1);
    const gets = request.requests.filter((r) => r.url.indexOf('/v1/layouts/') >= 0);
    expect(gets[gets.length - 1].header['X-UI-Capabilities'])
      .toBe(`r=${RENDERER_VERSION};t=${typesHash(['search_bar', 'my_widget'])}`);
  });
});

// ----------------------------------------------------------------------------- event values

describe('a value on a click (the server refuses a value on anything but a convert)', () => {
  // the server's own answers (uiserver.http.me + schema.Event, checked against decode_json)
  function server(req, sent) {
    const events = req.body.events;
    for (let i = 0; i < events.length; i++) {
      if (events[i].value !== undefined && events[i].kind !== 'convert') {
        return { statusCode: 422, data: { error: { code: 'invalid',
          message: `\`value\` is only allowed on a convert event, not on '${events[i].kind}'`, field: `events[${i}]` } } };
      }
    }
    sent.push(...events);
    return { statusCode: 202, data: { accepted: events.length, stored: events.length, ignored: 0, ignored_reasons: {} } };
  }

  test('never makes the SDK strip the value of every later convert (it is no older server)', async () => {
    const sent = [];
    const { client, request } = setup();
    request.handler = (req) => server(req, sent);
    client.track('home', 'banner', 'click', 5);
    await client.flush();
    client.track('cart', 'pay', 'convert', 99);
    await client.flush();
    expect(sent.filter((e) => e.kind === 'convert').map((e) => e.value)).toEqual([99]);
    expect(sent.filter((e) => e.kind === 'click')).toHaveLength(1); // the click counts, without its value
  });
});

// ------------------------------------------------------------------------------------ clocks

const YEAR = 365 * 24 * 3600 * 1000;
const httpDate = (ms) => new Date(ms).toUTCString();
const accepted = (req) => ({ statusCode: 202, data: { accepted: req.body.events.length, stored: req.body.events.length,
  ignored: 0, ignored_reasons: {} } });

describe('a phone clock a year behind, before the server\'s clock is learned', () => {
  function skewed() {
    const clock = fakeClock();
    const server = () => clock.now();
    const s = setup({ now: () => clock.now() - YEAR, scheduler: clock.scheduler });
    return Object.assign(s, { clock, server });
  }

  test('an event tracked before any answer (the launch\'s first view) is sent on the server\'s clock once it is known', async () => {
    const { client, request, server } = skewed();
    client.track('home', 'banner', 'view'); // at launch, before the layout answer
    request.handler = (req) => (req.url.endsWith('/v1/me/events') ? accepted(req)
      : Object.assign(ok(), { header: { ETag: '"e"', 'Cache-Control': CC, Date: httpDate(server()) } }));
    await client.revalidate('home', CTX);
    await client.flush();
    const sent = request.requests.filter((r) => r.method === 'POST')[0].body.events[0];
    expect(Math.abs(sent.ts - server() / 1000)).toBeLessThan(5);
  });

  test('a Retry-After HTTP-date on an answer without Date is read against the server\'s clock learned before', async () => {
    const { client, request, server, clock } = skewed();
    request.handler = () => Object.assign(ok(), { header: { ETag: '"e"', 'Cache-Control': CC, Date: httpDate(server()) } });
    await client.revalidate('home', CTX);
    request.handler = () => ({ statusCode: 503, header: { 'Retry-After': httpDate(server() + 120 * 1000) }, data: {} });
    client.track('home', 'banner', 'click');
    await client.flush();
    const wait = Math.min(...clock.pendingTimers());
    expect(wait).toBeGreaterThanOrEqual(115 * 1000);
    expect(wait).toBeLessThanOrEqual(125 * 1000);
  });
  test('so is one on a layout answer: a phone a year ahead holds layout requests back, not none', async () => {
    const clock = fakeClock();
    const { client, request } = setup({ now: () => clock.now() + YEAR, scheduler: clock.scheduler });
    const server = () => clock.now();
    request.handler = () => Object.assign(ok(), { header: { ETag: '"e"', 'Cache-Control': CC, Date: httpDate(server()) } });
    await client.revalidate('home', CTX);
    request.handler = () => ({ statusCode: 503, header: { 'Retry-After': httpDate(server() + 120 * 1000) }, data: {} });
    await clock.advance(2 * 3600 * 1000);
    await client.revalidate('home', CTX);
    const asked = request.requests.length;
    await clock.advance(60 * 1000);
    expect((await client.revalidate('home', CTX)).status).toBe('offline'); // held: the stored copy
    expect(request.requests.length).toBe(asked);
    await clock.advance(61 * 1000);
    await client.revalidate('home', CTX);
    expect(request.requests.length).toBe(asked + 1);
  });
});

// ------------------------------------------------------------------------- Cache-Control forms

describe('Cache-Control with a directive given twice', () => {
  test('max-age=60 and max-age=86400 in one answer is not fresh for a day (RFC 9111 4.2.1: first, or stale)', async () => {
    const { client, request, clock } = setup();
    request.handler = () => ({ statusCode: 200,
      header: { ETag: '"e"', 'Cache-Control': 'private, max-age=60, stale-if-error=86400, max-age=86400' }, data: elderly });
    await client.revalidate('home', CTX);
    await clock.advance(2 * 60 * 1000);
    const before = request.requests.length;
    const launched = await client.launch('home', CTX);
    await launched.revalidation;
    expect(request.requests.length).toBe(before + 1);
  });

  test('two header lines (an array) saying different max-ages count the same', async () => {
    const { parseCacheControl } = require('../src/sdk/cache-control');
    expect(parseCacheControl(['max-age=60', 'max-age=86400']).maxAge).toBeLessThanOrEqual(60);
    expect(parseCacheControl('max-age=60, max-age=60').maxAge).toBe(60);
    expect(parseCacheControl('stale-if-error=86400, stale-if-error=60').staleIfError).toBe(60);
    expect(parseCacheControl('max-age=-1, max-age=3600').maxAge).toBe(0); // an invalid one: stale
    expect(parseCacheControl('MAX-AGE="3600", Max-Age=3600').maxAge).toBe(3600); // the same, twice
    // past 2^31 s is 2^31 s (RFC 9111 1.2.2), a number the store keeps (it refuses damaged ones)
    const huge = parseCacheControl('max-age=99999999999999999999');
    expect(huge.maxAge).toBe(2147483648);
    const store = createStore(fakeStorage());
    store.put('alice', 'home', 'q', { layout: elderly, etag: '"e"', storedAt: 0, cacheControl: huge }, 0);
    expect(store.get('alice', 'home', 'q')).not.toBeNull();
  });
});

// ---------------------------------------------------- the same user, signed in again meanwhile

describe('the same user signs in again (a new token) while a request with the old one is in flight', () => {
  const refused = { statusCode: 401, data: { error: { code: 'token_expired', message: 'the token has expired' } } };
  const oldToken = tokenFor('alice');
  const newToken = oldToken.replace(/\.sig$/, '.sig2'); // the same sub, another token

  test('a launch answered 401 for the old token asks again with the new one instead of rejecting', async () => {
    const { client, request, signIn } = setup();
    request.handler = (req) => {
      if (req.header.Authorization !== 'Bearer ' + oldToken) return ok();
      signIn(newToken); // the app refreshed the token while this request was out
      return refused;
    };
    const launched = await client.launch('home', CTX);
    expect(launched.source).toBe('network');
    expect(launched.layout.mode).toBe(elderly.mode);
  });

  test('a flush answered 401 for the old token sends again with the new one (events are not left waiting)', async () => {
    const { client, request, signIn } = setup();
    const sent = [];
    request.handler = (req) => {
      if (req.header.Authorization === 'Bearer ' + oldToken) {
        signIn(newToken);
        return refused;
      }
      sent.push(...req.body.events);
      return accepted(req);
    };
    client.track('home', 'banner', 'click');
    const result = await client.flush();
    expect(sent).toHaveLength(1);
    expect(result.pending).toBe(0);
  });
});

// ----------------------------------------------------------- component versions on the phone

describe('a stored layout made for another renderer (a release rolled back, another build on the phone)', () => {
  function twoBuilds(second) {
    const clock = fakeClock();
    const storage = fakeStorage();
    const request = fakeRequest(ok);
    const make = (extra) => createLayoutClient(Object.assign({
      baseUrl: 'https://ui.example.com', getToken: () => tokenFor('alice'), request, storage,
      now: clock.now, scheduler: clock.scheduler, onAppHide: () => {}, onError: () => {}, register: false,
    }, extra));
    return { clock, request, first: make(), second: () => make(second) };
  }

  test('is not drawn fresh by a renderer that registered other types: it asks the server first', async () => {
    const { first, second, request } = twoBuilds({ types: ['search_bar', 'banner'] });
    await first.revalidate('home', CTX); // stored with max-age 60 by a renderer drawing every type
    const asked = request.requests.length;
    const launched = await second().launch('home', CTX); // within max-age
    expect(launched.source).toBe('network');
    expect(request.requests.length).toBe(asked + 1);
  });

  test('nor by another renderer version (a kill switch may cover one and not the other)', async () => {
    const { first, second, request } = twoBuilds({ rendererVersion: '0.1.9' });
    await first.revalidate('home', CTX);
    const asked = request.requests.length;
    await second().launch('home', CTX);
    expect(request.requests.length).toBe(asked + 1);
    expect(request.requests[request.requests.length - 1].header['X-UI-Capabilities']).toMatch(/^r=0\.1\.9;/);
  });

  test('offline, it still stands in (within stale-if-error): better than nothing', async () => {
    const { first, second, request } = twoBuilds({ types: ['search_bar', 'banner'] });
    await first.revalidate('home', CTX);
    request.handler = () => 'fail';
    const launched = await second().launch('home', CTX);
    expect(launched.source).toBe('cache');
  });
});

// ------------------------------------------------------------ valid JSON of the wrong shape

describe('a 200 whose JSON is not a layout', () => {
  test('in preview mode is an error, never a draft handed to the app (launch or poll)', async () => {
    const { client, request, clock } = setup({ preview: { token: 'tok.en', pollMs: 1000 } });
    const updates = [];
    client.onUpdate((page, layout) => updates.push(layout));
    request.handler = () => ({ statusCode: 200, data: elderly });
    await client.launch('home', CTX);
    for (const body of [[], { error: { code: 'x' } }, { schema: 1, page: 'home' }]) {
      request.handler = () => ({ statusCode: 200, data: body });
      await expect(client.launch('home', CTX)).rejects.toThrow(/schema/);
      await clock.advance(1000); // a poll gets it too
    }
    expect(updates).toEqual([]);
  });

  test('with the stored ETag but another body: the app is told about the body it now has', async () => {
    const { client, request, clock } = setup();
    await client.revalidate('home', CTX); // "e", elderly
    const updates = [];
    client.onUpdate((page, layout) => updates.push(layout));
    const launched = await client.launch('home', CTX);
    expect(launched.layout.mode).toBe(elderly.mode);
    const changed = Object.assign({}, elderly, { variant: 'another body' });
    request.handler = () => ({ statusCode: 200, header: { ETag: '"e"', 'Cache-Control': CC }, data: changed });
    await clock.advance(2 * 60 * 1000);
    await (await client.launch('home', CTX)).revalidation; // stale: revalidated in the background
    expect(updates.map((l) => l.variant)).toEqual(['another body']);
  });
});

// ------------------------------------------------------------- the platforms' HTTP methods

describe('a platform whose request refuses PATCH (wx/tt/my list no PATCH method)', () => {
  test('patchSettings falls back to GET + PUT instead of rejecting with a NetworkError', async () => {
    const stored = { elderly_mode: 'auto', personalization: 1 };
    const request = fakeRequest((req) => {
      if (req.method === 'GET') return { statusCode: 200, data: stored };
      if (req.method === 'PUT') return { statusCode: 200, data: req.body };
      return ok();
    });
    const refusing = (opts) => (opts.method === 'PATCH'
      ? Promise.resolve().then(() => opts.fail({ errMsg: 'request:fail parameter error: parameter.method should be one of GET, POST, PUT, DELETE' }))
      : request(opts));
    refusing.requests = request.requests;
    const { client } = setup({ request: refusing });
    const saved = await client.patchSettings({ elderly_mode: 'on' });
    expect(saved).toEqual({ elderly_mode: 'on', personalization: 1 });
    await client.patchSettings({ personalization: 0.5 }); // remembered: no PATCH again
    expect(request.requests.filter((r) => r.method === 'PUT').map((r) => r.body.personalization)).toEqual([1, 0.5]);
  });

  test('offline, it still rejects with the NetworkError (the GET that tells the two apart fails too)', async () => {
    const { client, request } = setup();
    request.handler = () => 'fail';
    await expect(client.patchSettings({ elderly_mode: 'on' })).rejects.toThrow(/request:fail/);
  });
});

// ------------------------------------------------------------------------------- 304 forms

describe('a 304 whose ETag is not the stored copy\'s (RFC 9111 4.3.4: it updates nothing)', () => {
  test('does not restart the old copy\'s clock: the layout is asked for again, unconditionally', async () => {
    const { client, request, clock } = setup();
    await client.revalidate('home', CTX); // "e"
    const changed = Object.assign({}, elderly, { variant: 'new' });
    request.handler = (req) => (req.header['If-None-Match']
      ? { statusCode: 304, header: { ETag: '"e2"', 'Cache-Control': CC } } // a cache answering for another version
      : { statusCode: 200, header: { ETag: '"e2"', 'Cache-Control': CC }, data: changed });
    await clock.advance(2 * 60 * 1000);
    const result = await client.revalidate('home', CTX);
    expect(result.status).toBe('updated');
    expect(result.layout.variant).toBe('new');
  });

  test('a 304 with the stored ETag (weak or strong), or none, still revalidates the copy', async () => {
    const { client, request, clock } = setup();
    await client.revalidate('home', CTX);
    for (const header of [{ ETag: 'W/"e"' }, { ETag: '"e"' }, {}]) {
      request.handler = () => ({ statusCode: 304, header: Object.assign({ 'Cache-Control': CC }, header) });
      await clock.advance(2 * 60 * 1000);
      expect((await client.revalidate('home', CTX)).status).toBe('not_modified');
    }
  });
});

// ------------------------------------------------------------- the server's clock, from whom

test('a Date on an answer that is not the server\'s (an HTML page from a gateway) does not move event times', async () => {
  const { client, request, clock } = setup();
  request.handler = () => ({ statusCode: 200, header: { Date: 'Thu, 01 Jan 1970 00:00:00 GMT', 'Content-Type': 'text/html' },
    data: '<html><body>Please sign in to the Wi-Fi</body></html>' });
  await client.revalidate('home', CTX);
  client.track('home', 'banner', 'click');
  expect(Math.abs(client.pendingEvents()[0].ts - clock.now() / 1000)).toBeLessThan(1);
});

// ------------------------------------------------------- settings the SDK changed, answer lost

describe('a settings change whose answer is lost (the server may have applied it)', () => {
  function settingsServer() {
    const state = { settings: { elderly_mode: 'off' }, lose: false };
    const request = fakeRequest((req) => {
      if (req.url.endsWith('/v1/me/settings')) {
        if (req.method === 'PUT') state.settings = req.body;
        if (req.method === 'PATCH') state.settings = Object.assign({}, state.settings, req.body);
        if (state.lose) return 'fail'; // a change applied, its answer lost on the way back
        return { statusCode: 200, data: state.settings };
      }
      const mode = state.settings.elderly_mode === 'on' ? 'elderly' : 'standard';
      return { statusCode: 200, header: { ETag: '"' + mode + '"', 'Cache-Control': CC },
        data: Object.assign({}, elderly, { mode }) };
    });
    return { state, request };
  }

  test.each(['putSettings', 'patchSettings'])('%s: the next launch never shows the old mode from a fresh copy', async (method) => {
    const { state, request } = settingsServer();
    const { client } = setup({ request });
    await client.revalidate('home', CTX); // standard, fresh for 60 s
    state.lose = true;
    await expect(client[method]({ elderly_mode: 'on' })).rejects.toThrow();
    state.lose = false; // the network is back a moment later
    const launched = await client.launch('home', CTX);
    expect(launched.layout.mode).toBe('elderly');
  });
});

// ------------------------------------------------------------- damaged stored Cache-Control

test('a stored copy whose Cache-Control numbers are damaged (strings, infinite) is removed, never fresh for a year', async () => {
  const { client, request, storage } = setup();
  await client.revalidate('home', CTX);
  const key = 'uiserver:layout:alice|home|device=phone&width=375&locale=zh-CN';
  const entry = storage.getStorageSync(key);
  entry.cacheControl.maxAge = '31536000';
  storage.setStorageSync(key, entry);
  const asked = request.requests.length;
  const launched = await client.launch('home', CTX);
  expect(launched.source).toBe('network');
  expect(request.requests.length).toBe(asked + 1);
});

// ------------------------------------------------- a token source that fails (a login round trip)

describe('an async token source that rejects (its login round trip is offline)', () => {
  test('a launch shows the signed-in user\'s stored copy within stale-if-error, never rejects with IdentityChangedError', async () => {
    let online = true;
    const s = setup({ getToken: () => (online ? Promise.resolve(tokenFor('alice')) : Promise.reject(new Error('wx.login:fail'))) });
    await s.client.revalidate('home', CTX);
    online = false;
    s.request.handler = () => 'fail';
    await s.clock.advance(2 * 3600 * 1000); // past stale-while-revalidate, within stale-if-error
    const launched = await s.client.launch('home', CTX);
    expect(launched.source).toBe('cache');
    expect(launched.layout.mode).toBe(elderly.mode);
  });

  test('revalidate() then stands in with that stored copy too ("offline"), as when the server cannot be reached', async () => {
    let online = true;
    const s = setup({ getToken: () => (online ? Promise.resolve(tokenFor('alice')) : Promise.reject(new Error('wx.login:fail'))) });
    await s.client.revalidate('home', CTX);
    online = false;
    await s.clock.advance(2 * 3600 * 1000);
    const result = await s.client.revalidate('home', CTX);
    expect(result.status).toBe('offline');
  });
});

// ------------------------------------------------------- a registration the server forgot

test('a 428 again after the types were registered (the server lost them: a new store, a replica behind) registers again', async () => {
  let registered = new Set();
  let registrations = 0;
  const request = fakeRequest((req) => {
    if (req.url.endsWith('/v1/capabilities')) {
      registrations += 1;
      registered.add(req.body.types.join(','));
      return { statusCode: 201, data: {} };
    }
    const caps = req.header['X-UI-Capabilities'];
    if (caps.indexOf(';t=') >= 0 && !registered.size) {
      return { statusCode: 428, data: { error: { code: 'capabilities_unknown', message: 'x' } } };
    }
    return ok();
  });
  const { client, clock } = setup({ request, types: ['search_bar', 'my_widget'] });
  expect((await client.revalidate('home', CTX)).status).toBe('updated');
  registered = new Set(); // the server starts again on an empty store
  await clock.advance(2 * 3600 * 1000);
  expect((await client.revalidate('home', CTX)).status).toBe('updated');
  expect(registrations).toBe(2);
  const gets = request.requests.filter((r) => r.url.indexOf('/v1/layouts/') >= 0);
  expect(gets[gets.length - 1].header['X-UI-Capabilities'])
    .toBe(`r=${RENDERER_VERSION};t=${typesHash(['search_bar', 'my_widget'])}`);
});

test('a registration answered 201 that the next request does not see yet (a replica behind): the next 428 registers again', async () => {
  let posts = 0;
  const request = fakeRequest((req) => {
    if (req.url.endsWith('/v1/capabilities')) {
      posts += 1;
      return { statusCode: 201, data: {} };
    }
    return req.header['X-UI-Capabilities'].indexOf(';t=') >= 0 && posts < 2
      ? { statusCode: 428, data: { error: { code: 'capabilities_unknown', message: 'x' } } } : ok();
  });
  const { client } = setup({ request, types: ['search_bar', 'my_widget'] });
  expect((await client.revalidate('home', CTX)).status).toBe('expired'); // stands in like an error
  expect((await client.revalidate('home', CTX)).status).toBe('updated');
  expect(posts).toBe(2);
});

// ------------------------------------------------------- a renderer version the server refuses

describe('an app\'s rendererVersion the server\'s MAJOR.MINOR.PATCH does not take', () => {
  // the server's RENDERER_VERSION_PATTERN (uiserver/schema.py): 400 bad_capabilities otherwise
  const SERVER = /^r=(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})(;t=[0-9a-f]{8})?$/;
  test.each(['0.3.0-beta.1', 'v1.2.3', '1.02.0', '2.0.0+build.7'])('%s: layouts are still served (sent as its MAJOR.MINOR.PATCH)', async (version) => {
    const request = fakeRequest((req) => (SERVER.test(req.header['X-UI-Capabilities']) ? ok()
      : { statusCode: 400, data: { error: { code: 'bad_capabilities', message: 'x', field: 'X-UI-Capabilities' } } }));
    const { client } = setup({ request, rendererVersion: version });
    expect((await client.revalidate('home', CTX)).status).toBe('updated');
  });
});

describe('the same user\'s new token, for their own data', () => {
  const oldToken = tokenFor('alice');
  const newToken = oldToken.replace(/\.sig$/, '.sig2');
  const refused = { statusCode: 401, data: { error: { code: 'token_expired', message: 'the token has expired' } } };

  test('erase() answered 401 for the token the app has just replaced erases with the new one (and clears the phone)', async () => {
    const { client, request, signIn, storage } = setup();
    await client.revalidate('home', CTX);
    request.handler = (req) => {
      if (req.header.Authorization === 'Bearer ' + oldToken) {
        signIn(newToken);
        return refused;
      }
      return { statusCode: 200, data: { erased: true } };
    };
    expect(await client.erase()).toEqual({ erased: true });
    expect([...storage.data.keys()].filter((k) => k.indexOf('alice') >= 0)).toEqual([]);
  });

  test('patchSettings too', async () => {
    const { client, request, signIn } = setup();
    request.handler = (req) => {
      if (req.header.Authorization === 'Bearer ' + oldToken) {
        signIn(newToken);
        return refused;
      }
      return { statusCode: 200, data: { elderly_mode: 'on' } };
    };
    expect(await client.patchSettings({ elderly_mode: 'on' })).toEqual({ elderly_mode: 'on' });
  });
});

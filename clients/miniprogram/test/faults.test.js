'use strict';
// The faults of real phones (issue 22 section 1): a shared phone whose user changes while
// requests are in flight, a clock that is wrong and then corrected, storage that is full or
// damaged, Retry-After as an HTTP-date, what a flush stored, and settings the SDK changed itself.
// Each input failed on the SDK before its fix.

const { createLayoutClient, LayoutUnavailableError, IdentityChangedError } = require('../src');
const { fakeClock, fakeStorage, settle, tokenFor } = require('./helpers/fakes');
const standard = require('./fixtures/home-standard.json');
const elderly = require('./fixtures/home-elderly.json');

const CC = 'private, max-age=60, stale-while-revalidate=3600, stale-if-error=86400';
const CTX = { device: 'phone', width: 375, locale: 'zh-CN' };
const YEAR = 365 * 24 * 3600 * 1000;

/** A layout marked with its owner, so a test can tell whose layout the app was handed. */
function owned(base, owner) {
  return Object.assign({}, base, { variant: owner });
}

function ok(layout, etag, cacheControl, extraHeaders) {
  return { statusCode: 200, header: Object.assign({ ETag: etag, 'Cache-Control': cacheControl || CC },
    extraHeaders || {}), data: layout };
}

/**
 * wx.request over the fake clock: `handler(req)` answers (or 'fail'), delivered `delay(req)` ms
 * later by the clock's scheduler, so a test can change the user while a request is in flight.
 */
function delayedRequest(clock, handler, delay) {
  const requests = [];
  const request = (opts) => {
    const req = {
      url: opts.url, method: opts.method, header: opts.header,
      body: opts.data === undefined ? undefined : JSON.parse(opts.data),
      user: subOf(opts.header && opts.header.Authorization),
    };
    requests.push(req);
    const res = request.handler(req); // answered as the server stood when the request was sent
    const deliver = () => {
      if (res === 'fail') opts.fail({ errMsg: 'request:fail' });
      else opts.success(Object.assign({ header: {} }, res));
    };
    const ms = request.delay(req);
    if (ms > 0) clock.scheduler.setTimeout(deliver, ms);
    else Promise.resolve().then(deliver);
  };
  request.handler = handler || (() => 'fail');
  request.delay = delay || (() => 0);
  request.requests = requests;
  return request;
}

function subOf(authorization) {
  if (!authorization) return '';
  const claims = authorization.replace('Bearer ', '').split('.')[1];
  return JSON.parse(Buffer.from(claims, 'base64url').toString()).sub;
}

/** A layout for whoever the request's token names: Alice elderly, Bob standard. */
function perUser(req) {
  if (req.url.indexOf('/v1/layouts/') < 0) return { statusCode: 202, data: { accepted: 0, stored: 0 } };
  return req.user === 'alice' ? ok(owned(elderly, 'alice'), '"a1"') : ok(owned(standard, 'bob'), '"b1"');
}

function setup(extra) {
  const clock = fakeClock();
  const storage = fakeStorage();
  const request = delayedRequest(clock, perUser);
  let token = tokenFor('alice');
  let skew = 0;
  const errors = [];
  const make = (more) => createLayoutClient(Object.assign({
    baseUrl: 'https://ui.example.com',
    getToken: () => token,
    request, storage, now: () => clock.now() + skew, scheduler: clock.scheduler, random: () => 0.5,
    onAppHide: () => {}, onError: (e) => errors.push(e), register: false,
  }, extra, more));
  return {
    clock, storage, request, errors, make, client: make(),
    signIn: (user) => { token = user ? tokenFor(user) : ''; },
    setSkew: (ms) => { skew = ms; },
  };
}

const layoutGets = (request) => request.requests.filter((r) => r.url.indexOf('/v1/layouts/') >= 0);
const aliceKeys = (storage) => [...storage.data.keys()].filter((k) => k.indexOf('alice') >= 0);

// ------------------------------------------------------------------ identity switch in flight

describe('identity switch in flight', () => {
  test('Bob launching while Alice\'s revalidation is in flight gets his own layout, fetched with his token', async () => {
    const { client, request, clock, signIn } = setup();
    request.delay = (req) => (req.user === 'alice' ? 300 : 0);
    const alices = client.revalidate('home', CTX);
    await settle();
    signIn('bob');
    const launched = client.launch('home', CTX);
    await clock.advance(300);
    const bobs = await launched;
    expect(bobs.layout.variant).toBe('bob');
    expect(layoutGets(request).map((r) => r.user)).toEqual(['alice', 'bob']);
    expect((await alices).layout).toBeNull(); // Alice's answer came for a user no longer signed in
    expect((await alices).status).toBe('superseded');
  });

  test('with a default, onUpdate never hands Alice\'s layout to the app while Bob is signed in', async () => {
    const { client, request, clock, signIn } = setup({ defaults: { home: standard } });
    request.delay = (req) => (req.user === 'alice' ? 300 : 0);
    const shown = [];
    client.onUpdate((page, layout) => shown.push(layout.variant));
    const alices = await client.launch('home', CTX);
    expect(alices.source).toBe('default');
    signIn('bob');
    const bobs = await client.launch('home', CTX);
    expect(bobs.source).toBe('default');
    await clock.advance(300);
    await bobs.revalidation;
    await alices.revalidation;
    expect(shown).toEqual(['bob']);
  });

  test('a launch whose user changes while it waits for the network starts again for the new user', async () => {
    const { client, request, clock, signIn } = setup();
    request.delay = (req) => (req.user === 'alice' ? 300 : 0);
    const launched = client.launch('home', CTX);
    await settle();
    signIn('bob');
    await clock.advance(300);
    const result = await launched;
    expect(result.layout.variant).toBe('bob');
  });

  test('Alice\'s revalidation answering after Bob signed in is not stored as Alice\'s fresh copy either', async () => {
    // (Alice's stored copies stay hers; the point is the answer is dropped, not kept half-done)
    const { client, request, clock, signIn } = setup();
    request.delay = () => 300;
    const alices = client.revalidate('home', CTX);
    await settle();
    signIn('bob');
    await clock.advance(300);
    await alices;
    expect(client.storedKeys()).toEqual([]);
  });

  test('a flush sends Alice\'s events with Alice\'s token even when Bob signs in before the request goes', async () => {
    const clock = fakeClock();
    const request = delayedRequest(clock, () => ({ statusCode: 202, data: { accepted: 1, stored: 1 } }));
    let reads = 0;
    let switchAfter = Infinity;
    const client = createLayoutClient({
      baseUrl: 'https://ui.example.com',
      // an async token source: Bob's sign-in completes while the flush is under way
      getToken: () => Promise.resolve(tokenFor(++reads > switchAfter ? 'bob' : 'alice')),
      request, storage: fakeStorage(), now: clock.now, scheduler: clock.scheduler,
      onAppHide: () => {}, register: false,
    });
    await settle();
    expect(client.track('home', 'search', 'click')).toBe(true);
    await settle();
    switchAfter = reads + 2; // the flush's first two reads see Alice, any later one Bob
    await client.flush();
    const posts = request.requests.filter((r) => r.method === 'POST');
    expect(posts.map((p) => p.user)).toEqual(['alice']);
  });

  test('a revalidation answering after erase() does not store the erased user\'s layout again', async () => {
    const { client, request, clock, storage } = setup();
    request.delay = (req) => (req.method === 'GET' ? 300 : 0);
    request.handler = (req) => (req.method === 'DELETE' ? { statusCode: 200, data: { erased: true } } : perUser(req));
    const pending = client.revalidate('home', CTX);
    await settle();
    await client.erase();
    await clock.advance(300);
    await pending;
    expect(aliceKeys(storage)).toEqual([]);
    expect(client.storedKeys()).toEqual([]);
  });

  test('settings answered for Alice after Bob signed in are not handed to the app', async () => {
    const { client, request, clock, signIn } = setup();
    request.delay = () => 300;
    request.handler = () => ({ statusCode: 200, data: { elderly_mode: 'on', personalization: 1 } });
    const read = client.getSettings();
    const patched = client.patchSettings({ elderly_mode: 'on' });
    await settle();
    signIn('bob');
    await clock.advance(300);
    await expect(read).rejects.toBeInstanceOf(IdentityChangedError);
    await expect(patched).rejects.toMatchObject({ name: 'IdentityChangedError', code: 'identity_changed' });
  });
});

// ------------------------------------------------------------------ clocks

describe('clocks', () => {
  test('a layout stored while the clock was a year ahead is not fresh after the clock is corrected', async () => {
    const { client, request, clock, setSkew } = setup();
    setSkew(YEAR);
    await client.revalidate('home', CTX);
    setSkew(0);
    await clock.advance(2 * 3600 * 1000);
    const atTwoHours = await client.launch('home', CTX);
    await atTwoHours.revalidation;
    await clock.advance(30 * 24 * 3600 * 1000);
    const atThirtyDays = await client.launch('home', CTX);
    await atThirtyDays.revalidation;
    expect(layoutGets(request)).toHaveLength(3);
    // the answer restamps it with the corrected clock: fresh again for its max-age
    const again = await client.launch('home', CTX);
    expect(await again.revalidation).toBeNull();
    expect(layoutGets(request)).toHaveLength(3);
  });

  test('a copy stored "in the future" does not stand in for a failed request (its age is unknown)', async () => {
    const { client, request, setSkew } = setup({ defaults: { home: standard } });
    setSkew(10 * 24 * 3600 * 1000);
    await client.revalidate('home', CTX);
    setSkew(0);
    request.handler = () => 'fail';
    const result = await client.revalidate('home', CTX);
    expect(result.status).toBe('expired');
    expect(result.layout).toBe(standard);
  });

  test('an update after the clock went back is not marked applyNow long after the launch', async () => {
    const { client, request, clock, setSkew } = setup({ defaults: { home: standard } });
    request.handler = () => 'fail';
    const meta = [];
    client.onUpdate((p, l, m) => meta.push(m));
    await (await client.launch('home', CTX)).revalidation;
    setSkew(-3600 * 1000); // the clock is corrected back an hour
    await clock.advance(10 * 60 * 1000);
    request.handler = perUser;
    await client.revalidate('home', CTX);
    expect(meta.map((m) => m.applyNow)).toEqual([false]);
  });

  test('events tracked with a clock a year ahead are rebased on the server\'s clock, not dropped', async () => {
    const { client, request, setSkew, clock } = setup();
    setSkew(YEAR);
    client.track('home', 'search', 'click');
    client.track('home', 'categories', 'click');
    const serverNow = clock.now();
    request.handler = (req) => {
      const first = req.body.events[0];
      if (first.ts > serverNow / 1000 + 86400) {
        return { statusCode: 422, header: { Date: new Date(serverNow).toUTCString() },
          data: { error: { code: 'invalid', message: '`ts` is more than a day ahead', field: 'events[0].ts' } } };
      }
      return { statusCode: 202, data: { accepted: 2, stored: 2, ignored: 0, ignored_reasons: {} } };
    };
    const result = await client.flush();
    expect(result).toMatchObject({ sent: 2, dropped: 0, pending: 0 });
    const posts = request.requests.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(2);
    posts[1].body.events.forEach((e) => {
      expect(Math.abs(e.ts - serverNow / 1000)).toBeLessThan(5);
    });
  });

  test('a 422 about a future ts without a Date header: the events go without ts (the server takes now)', async () => {
    const { client, request, setSkew } = setup();
    setSkew(YEAR);
    client.track('home', 'search', 'click');
    request.handler = (req) => (req.body.events[0].ts !== undefined
      ? { statusCode: 422, data: { error: { code: 'invalid', message: '`ts` ahead', field: 'events[0].ts' } } }
      : { statusCode: 202, data: { accepted: 1, stored: 1, ignored: 0, ignored_reasons: {} } });
    expect(await client.flush()).toMatchObject({ sent: 1, dropped: 0 });
  });
});

// ------------------------------------------------------------------ Retry-After

describe('Retry-After', () => {
  const retryIn = async (header, extraHeaders, skew) => {
    const { client, request, clock, setSkew } = setup();
    const server = clock.now();
    if (skew) setSkew(skew);
    request.handler = () => ({ statusCode: 503,
      header: Object.assign({ 'Retry-After': typeof header === 'function' ? header(server) : header }, extraHeaders ? extraHeaders(server) : {}),
      data: {} });
    client.track('home', 'search', 'click');
    await client.flush();
    return clock.pendingTimers();
  };
  const httpDate = (ms) => new Date(ms).toUTCString();

  test('an HTTP-date 120 s ahead (RFC 9110 10.2.3) waits about 120 s, not a 1 s backoff', async () => {
    const timers = await retryIn((server) => httpDate(server + 120 * 1000));
    expect(Math.min(...timers)).toBeGreaterThanOrEqual(119 * 1000);
    expect(Math.min(...timers)).toBeLessThanOrEqual(121 * 1000);
  });

  test('an HTTP-date is read against the answer\'s Date header when the phone\'s clock is off', async () => {
    const timers = await retryIn((server) => httpDate(server + 120 * 1000),
      (server) => ({ Date: httpDate(server) }), YEAR);
    expect(Math.min(...timers)).toBeGreaterThanOrEqual(119 * 1000);
    expect(Math.min(...timers)).toBeLessThanOrEqual(121 * 1000);
  });

  test('the obsolete RFC 850 and asctime forms are dates too', async () => {
    const at = (server) => new Date(server + 120 * 1000);
    const rfc850 = (server) => {
      const d = at(server);
      const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
      const parts = d.toUTCString().split(' '); // "Tue, 14 Nov 2023 22:15:20 GMT"
      return days[d.getUTCDay()] + ', ' + parts[1] + '-' + parts[2] + '-' + parts[3].slice(2) + ' ' + parts[4] + ' GMT';
    };
    const asctime = (server) => {
      const parts = at(server).toUTCString().split(' ');
      return parts[0].slice(0, 3) + ' ' + parts[2] + ' ' + String(parseInt(parts[1], 10)).padStart(2, ' ') + ' ' + parts[4] + ' ' + parts[3];
    };
    for (const form of [rfc850, asctime]) {
      const timers = await retryIn(form);
      expect(Math.min(...timers)).toBeGreaterThanOrEqual(119 * 1000);
      expect(Math.min(...timers)).toBeLessThanOrEqual(121 * 1000);
    }
  });

  test('delta-seconds is bounded (a day-long Retry-After waits at most an hour)', async () => {
    const timers = await retryIn('99999999');
    expect(Math.min(...timers)).toBeLessThanOrEqual(3600 * 1000);
    expect(Math.min(...timers)).toBeGreaterThanOrEqual(3599 * 1000);
  });

  test('a date in the past, junk, or a negative number fall back to the backoff', async () => {
    for (const value of [(server) => httpDate(server - 60 * 1000), 'soon', '-5', '1e9', '']) {
      const timers = await retryIn(value);
      expect(Math.min(...timers)).toBeGreaterThanOrEqual(500);
      expect(Math.min(...timers)).toBeLessThanOrEqual(1000);
    }
  });
});

// ------------------------------------------------------------------ storage faults

/** wx-style storage with the platform's size limit (key + JSON bytes), as wx/my/tt enforce it. */
function quotaStorage(limit) {
  const data = new Map();
  const size = (except) => [...data.entries()].reduce((n, [k, v]) => (k === except ? n : n + k.length + v.length), 0);
  const storage = {
    data,
    limit, // change it to fill the storage
    getStorageSync: (key) => (data.has(key) ? JSON.parse(data.get(key)) : ''),
    setStorageSync: (key, value) => {
      const text = JSON.stringify(value);
      if (size(key) + key.length + text.length > storage.limit) throw new Error('setStorageSync:fail exceed storage max size');
      data.set(key, text);
    },
    removeStorageSync: (key) => { data.delete(key); },
    getStorageInfoSync: () => ({ keys: [...data.keys()], currentSize: size(null), limitSize: storage.limit }),
  };
  return storage;
}

describe('storage faults', () => {
  test('near the limit a failed overwrite orphans nothing: erase() finds it and an offline launch has no erased layout', async () => {
    const storage = quotaStorage(12000);
    const { client, request, clock } = setup({ storage });
    request.handler = () => ok(owned(standard, 'alice'), '"a1"');
    await client.revalidate('home', CTX);
    storage.setStorageSync('other-app:blob', 'x'.repeat(storage.limit - [...storage.data].reduce((n, [k, v]) => n + k.length + v.length, 0) - 40));
    const big = owned(elderly, 'alice');
    big.components = big.components.concat(big.components, big.components);
    request.handler = () => ok(big, '"a2"');
    await clock.advance(61 * 1000);
    await client.revalidate('home', CTX); // the overwrite fails: storage is full
    request.handler = (req) => (req.method === 'DELETE' ? { statusCode: 200, data: { erased: true } } : 'fail');
    await client.erase();
    expect(aliceKeys(storage)).toEqual([]);
    await expect(client.launch('home', CTX)).rejects.toBeInstanceOf(LayoutUnavailableError);
  });

  test('erase() removes a copy an older SDK left unindexed, and never a key outside its prefix', async () => {
    const storage = quotaStorage(1e6);
    storage.setStorageSync('uiserver:layout:alice|home|device=phone', { layout: elderly, etag: '"x"', storedAt: 0, cacheControl: {} });
    storage.setStorageSync('uiserver:index', [{ k: 'someone-elses-key', u: 'alice', t: 1 }]);
    storage.setStorageSync('someone-elses-key', 'keep me');
    storage.setStorageSync('uiserver:layout:alice|bob|home|x', { layout: elderly }); // user "alice|bob"
    const { client, request } = setup({ storage });
    request.handler = () => ({ statusCode: 200, data: { erased: true } });
    await client.erase();
    expect([...storage.data.keys()].filter((k) => k !== 'uiserver:index').sort())
      .toEqual(['someone-elses-key', 'uiserver:layout:alice|bob|home|x']);
    expect(storage.getStorageSync('uiserver:index')).toEqual([]);
  });

  test.each([
    ['[null]', [null]],
    ['junk items', [7, 'x', { k: 5, u: null, t: 'x' }, [], { k: 'uiserver:layout:alice|home|q' }]],
    ['an object', { k: 'uiserver:layout:alice|home|q' }],
  ])('a damaged index (%s) never breaks a launch and is repaired', async (name, index) => {
    const { client, storage, request } = setup();
    storage.setStorageSync('uiserver:index', index);
    const launched = await client.launch('home', CTX);
    expect(launched.layout.variant).toBe('alice');
    expect(layoutGets(request)).toHaveLength(1);
    const repaired = storage.getStorageSync('uiserver:index');
    expect(Array.isArray(repaired)).toBe(true);
    repaired.forEach((item) => {
      expect(typeof item.k).toBe('string');
      expect(typeof item.u).toBe('string');
      expect(Number.isFinite(item.t)).toBe(true);
    });
    expect(client.storedKeys()).toEqual(['uiserver:layout:alice|home|device=phone&width=375&locale=zh-CN']);
  });

  test.each([
    ['body replaced', (e) => { e.layout = { schema: 1 }; }],
    ['body a string', (e) => { e.layout = 'garbage'; }],
    ['components not a list', (e) => { e.layout.components = 'x'; }],
    ['storedAt junk', (e) => { e.storedAt = 'yesterday'; }],
    ['cacheControl junk', (e) => { e.cacheControl = 'max-age=60'; }],
  ])('a stored layout damaged (%s) with its ETag intact is not revived by a 304: dropped and fetched', async (name, damage) => {
    const { client, storage, request, clock } = setup();
    await client.revalidate('home', CTX);
    const key = client.storedKeys()[0];
    const entry = storage.getStorageSync(key);
    damage(entry);
    storage.setStorageSync(key, entry);
    await clock.advance(61 * 1000);
    request.handler = (req) => (req.header['If-None-Match'] ? { statusCode: 304, header: { ETag: '"a1"', 'Cache-Control': CC } } : perUser(req));
    const updates = [];
    client.onUpdate((p, layout) => updates.push(layout));
    const result = await client.revalidate('home', CTX);
    expect(layoutGets(request)[1].header['If-None-Match']).toBeUndefined();
    expect(result.status).toBe('updated');
    expect(result.layout.variant).toBe('alice');
    expect(updates.every((l) => Array.isArray(l.components))).toBe(true);
    expect(storage.getStorageSync(key).layout.components).toEqual(elderly.components);
  });

  test('a damaged event queue never breaks createLayoutClient', () => {
    const storage = fakeStorage();
    storage.setStorageSync('uiserver:events', [{ user: 'alice', event: 5 }, null, 7, { user: 3, event: { page: 'home' } },
      { user: 'alice', event: { page: 'home', component: 'search', kind: 'click', ts: 'x', id: 'abcdefgh1' } }]);
    const { client } = setup({ storage });
    expect(client.pendingEvents()).toEqual([]);
  });
});

// ------------------------------------------------------------------ what a flush stored

describe('flush reports what the server stored and ignored', () => {
  test('the 202 body\'s stored, ignored and reasons are summed into the flush result', async () => {
    const { client, request } = setup();
    client.track('home', 'search', 'click');
    client.track('home', 'nope', 'click');
    client.track('gone', 'x', 'view');
    request.handler = () => ({ statusCode: 202,
      data: { accepted: 3, stored: 1, ignored: 2, ignored_reasons: { unknown_component: 1, unknown_page: 1 } } });
    expect(await client.flush()).toEqual({ sent: 3, dropped: 0, pending: 0, stored: 1, ignored: 2,
      reasons: { unknown_component: 1, unknown_page: 1 } });
  });

  test('several requests add up; a server without the counts is taken as storing what it accepted', async () => {
    const { client, request } = setup({ events: { maxPerRequest: 2 } });
    ['a', 'b', 'c'].forEach((c) => client.track('home', c, 'click'));
    const answers = [{ accepted: 2, stored: 1, ignored: 1, ignored_reasons: { duplicate: 1 } }, {}];
    request.handler = () => ({ statusCode: 202, data: answers.shift() });
    expect(await client.flush()).toEqual({ sent: 3, dropped: 0, pending: 0, stored: 2, ignored: 1,
      reasons: { duplicate: 1 } });
  });
});

// ------------------------------------------------------------------ settings the SDK changed

describe('settings changed by the SDK itself', () => {
  test('after patchSettings the next launch never shows the old mode, not even for one render', async () => {
    const { client, request } = setup({ defaults: { home: standard } });
    request.handler = () => ok(standard, '"s1"');
    await client.revalidate('home', CTX);
    request.handler = (req) => (req.method === 'PATCH' ? { statusCode: 200, data: { elderly_mode: 'on', personalization: 1 } }
      : ok(elderly, '"e1"'));
    await client.patchSettings({ elderly_mode: 'on' });
    const launched = await client.launch('home', CTX);
    expect(launched.layout.mode).toBe('elderly');
    expect(launched.source).toBe('network');
  });

  test('a revalidation in flight when settings change is not stored as the fresh copy', async () => {
    const { client, request, clock } = setup();
    request.delay = (req) => (req.method === 'GET' ? 300 : 0);
    request.handler = () => ok(standard, '"s1"');
    const before = client.revalidate('home', CTX); // asked before the change: answers the old mode
    await settle();
    request.handler = (req) => (req.method === 'PUT' ? { statusCode: 200, data: req.body } : ok(elderly, '"e1"'));
    await client.putSettings({ elderly_mode: 'on' });
    await clock.advance(300);
    await before;
    const launched = client.launch('home', CTX);
    await settle();
    await clock.advance(300);
    expect((await launched).layout.mode).toBe('elderly');
  });

  test('offline right after a settings change: the stored copy still stands in (stale-if-error)', async () => {
    const { client, request } = setup();
    request.handler = () => ok(standard, '"s1"');
    await client.revalidate('home', CTX);
    request.handler = (req) => (req.method === 'PUT' ? { statusCode: 200, data: req.body } : 'fail');
    await client.putSettings({ elderly_mode: 'on' });
    const launched = await client.launch('home', CTX);
    expect(launched.source).toBe('cache');
    expect(launched.layout.mode).toBe('standard');
  });
});

// ------------------------------------------------------------------ more of the same kinds

describe('siblings of the same faults', () => {
  test('flush() called by Bob while Alice\'s flush is in flight reports Bob\'s, not Alice\'s', async () => {
    const { client, request, clock, signIn } = setup();
    request.delay = (req) => (req.user === 'alice' ? 300 : 0);
    request.handler = (req) => ({ statusCode: 202,
      data: { accepted: req.body.events.length, stored: req.body.events.length, ignored: 0, ignored_reasons: {} } });
    client.track('home', 'search', 'click');
    const alices = client.flush();
    await settle();
    signIn('bob');
    client.track('home', 'a', 'click');
    client.track('home', 'b', 'click');
    const bobs = client.flush();
    await settle(); // Bob's flush has begun while Alice's request is still out
    await clock.advance(300);
    expect((await alices).sent).toBe(1);
    expect(await bobs).toMatchObject({ sent: 2, stored: 2, pending: 0 });
  });

  test('a personalization flag that cannot be written (storage full) still turns tracking off', async () => {
    const storage = quotaStorage(1e6);
    const { client, request } = setup({ storage });
    request.handler = (req) => (req.method === 'PATCH' ? { statusCode: 200, data: { personalization: 1 } } : perUser(req));
    await client.patchSettings({ personalization: 1 });
    expect(storage.getStorageSync('uiserver:personalization:alice')).toBe(1);
    storage.limit = 0; // full: no write succeeds from now on
    request.handler = () => ({ statusCode: 200, data: { personalization: 0 } });
    await client.patchSettings({ personalization: 0 });
    expect(client.track('home', 'search', 'click')).toBe(false);
    // and the stale "1" is not left to turn it on again after a restart
    expect(storage.getStorageSync('uiserver:personalization:alice')).not.toBe(1);
  });

  test.each([['a string', '0'], ['an object', { v: 0 }], ['out of range', 7]])(
    'a damaged personalization flag (%s) reads as unknown and is removed', (name, value) => {
      const storage = fakeStorage();
      storage.setStorageSync('uiserver:personalization:alice', value);
      const { client } = setup({ storage });
      expect(client.track('home', 'search', 'click')).toBe(true);
      expect(storage.data.has('uiserver:personalization:alice')).toBe(false);
    });

  test('a damaged 200 body falls back like an error: the stored copy within stale-if-error, not the default', async () => {
    const { client, request, clock } = setup({ defaults: { home: standard } });
    await client.revalidate('home', CTX);
    await clock.advance(61 * 1000);
    request.handler = () => ({ statusCode: 200, header: { 'Cache-Control': CC }, data: '{"schema": 1, "page": "ho' });
    const result = await client.revalidate('home', CTX);
    expect(result.status).toBe('offline');
    expect(result.layout.variant).toBe('alice');
  });

  test('a layout answer with Retry-After holds further layout requests back for that long (bounded)', async () => {
    const { client, request, clock, setSkew } = setup({ defaults: { home: standard } });
    await client.revalidate('home', CTX);
    await clock.advance(61 * 1000);
    request.handler = () => ({ statusCode: 503, header: { 'Retry-After': '120' }, data: {} });
    expect((await client.revalidate('home', CTX)).status).toBe('offline');
    request.handler = perUser;
    await clock.advance(60 * 1000);
    expect((await client.revalidate('home', CTX)).status).toBe('offline'); // not asked again yet
    expect(layoutGets(request)).toHaveLength(2);
    await clock.advance(61 * 1000);
    expect((await client.revalidate('home', CTX)).status).toBe('updated');
    // a 429 the same; and a clock set back does not stretch the wait
    request.handler = () => ({ statusCode: 429, header: { 'Retry-After': '30' }, data: {} });
    await clock.advance(61 * 1000);
    expect((await client.revalidate('home', CTX)).status).toBe('offline');
    setSkew(-YEAR);
    request.handler = perUser;
    await clock.advance(31 * 1000);
    expect((await client.revalidate('home', CTX)).status).not.toBe('offline');
  });
});

describe('event times from a wrong clock', () => {
  test('with the clock a year behind, an event is timed on the server\'s clock (learned from a Date header)', async () => {
    const { client, request, clock, setSkew } = setup();
    const serverNow = clock.now();
    setSkew(-YEAR);
    request.handler = () => ok(elderly, '"e1"', CC, { Date: new Date(serverNow).toUTCString() });
    await client.revalidate('home', CTX);
    request.handler = () => ({ statusCode: 202, data: { accepted: 1, stored: 1, ignored: 0, ignored_reasons: {} } });
    client.track('home', 'search', 'click');
    await client.flush();
    const sent = request.requests.filter((r) => r.method === 'POST')[0].body.events[0];
    expect(Math.abs(sent.ts - serverNow / 1000)).toBeLessThan(5);
  });

  test('a clock within an hour of the server\'s is left alone; a Date header that is junk is ignored', async () => {
    const { client, request, clock, setSkew } = setup();
    setSkew(-10 * 60 * 1000);
    request.handler = () => ok(elderly, '"e1"', CC, { Date: new Date(clock.now() + 10 * 60 * 1000).toUTCString() });
    await client.revalidate('home', CTX);
    client.track('home', 'a', 'click');
    request.handler = () => ok(elderly, '"e1"', CC, { Date: 'yesterday' });
    await client.revalidate('home', CTX);
    client.track('home', 'b', 'click');
    const phone = (clock.now() - 10 * 60 * 1000) / 1000;
    client.pendingEvents().forEach((e) => expect(Math.abs(e.ts - phone)).toBeLessThan(1));
  });
});

test('a settings change with the storage full: a copy that cannot be marked is removed, never drawn in the old mode', async () => {
  const storage = quotaStorage(1e6);
  const { client, request } = setup({ storage });
  request.handler = () => ok(standard, '"s1"');
  await client.revalidate('home', CTX);
  storage.limit = 0; // nothing can be written from now on
  request.handler = (req) => (req.method === 'PUT' ? { statusCode: 200, data: req.body } : ok(elderly, '"e1"'));
  await client.putSettings({ elderly_mode: 'on' });
  const launched = await client.launch('home', CTX);
  expect(launched.layout.mode).toBe('elderly');
  expect(launched.source).toBe('network');
});

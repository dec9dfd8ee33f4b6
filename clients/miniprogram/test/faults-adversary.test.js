'use strict';
// Siblings of issue 22's fault kinds that the first tests did not cover: storage that cannot read
// its index (or whose index is damaged) never orphans a user's layout, an `Age` header counts
// towards freshness, a batch over the server's limit (422 on `events`) is split instead of kept
// forever, a 422 naming an event outside the batch never loops, ids given to an older SDK's
// events are the same on every restart even when they cannot be written back, a revalidation
// asked after a settings change never joins one asked before it, erasure waits for a flush in
// flight, and a capability registration answered with Retry-After holds the layout requests.
// Each failed on the SDK before its fix.

const { createLayoutClient, LayoutUnavailableError } = require('../src');
const { fakeClock, fakeStorage, settle, tokenFor } = require('./helpers/fakes');
const standard = require('./fixtures/home-standard.json');
const elderly = require('./fixtures/home-elderly.json');

const CC = 'private, max-age=60, stale-while-revalidate=3600, stale-if-error=86400';
const CTX = { device: 'phone', width: 375, locale: 'zh-CN' };
const QUERY = 'device=phone&width=375&locale=zh-CN';

function ok(layout, etag, extraHeaders) {
  return { statusCode: 200, header: Object.assign({ ETag: etag, 'Cache-Control': CC }, extraHeaders || {}), data: layout };
}

/** wx.request over the fake clock: answers `delay(req)` ms later (0: at once). */
function delayedRequest(clock, handler, delay) {
  const requests = [];
  const request = (opts) => {
    const req = {
      url: opts.url, method: opts.method, header: opts.header,
      body: opts.data === undefined ? undefined : JSON.parse(opts.data),
      user: subOf(opts.header && opts.header.Authorization),
    };
    requests.push(req);
    const deliver = () => {
      const res = request.handler(req);
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

function setup(extra) {
  const clock = fakeClock();
  const storage = (extra && extra.storage) || fakeStorage();
  const request = delayedRequest(clock, (req) => {
    if (req.method === 'DELETE') return { statusCode: 200, data: { erased: true } };
    if (req.url.indexOf('/v1/me/events') >= 0) return { statusCode: 202, data: { accepted: req.body.events.length, stored: req.body.events.length, ignored: 0 } };
    return ok(Object.assign({}, elderly, { variant: req.user }), '"e1"');
  });
  let token = tokenFor('alice');
  const errors = [];
  const make = (more) => createLayoutClient(Object.assign({
    baseUrl: 'https://ui.example.com', getToken: () => token,
    request, storage, now: clock.now, scheduler: clock.scheduler, random: () => 0.5,
    onAppHide: () => {}, onError: (e) => errors.push(e), register: false,
  }, extra, more));
  return { clock, storage, request, errors, make, client: make(), signIn: (u) => { token = u ? tokenFor(u) : ''; } };
}

const layoutGets = (request) => request.requests.filter((r) => r.url.indexOf('/v1/layouts/') >= 0);
const aliceKeys = (storage) => [...storage.data.keys()].filter((k) => k.indexOf('alice') >= 0);
const eraseOk = (req) => (req.method === 'DELETE' ? { statusCode: 200, data: { erased: true } } : 'fail');

// ------------------------------------------------------------------ storage: the index

describe('an index that cannot be read or was damaged never orphans a layout', () => {
  test('a launch while the index cannot be read (getStorageSync throws) does not wipe it: erase() still finds the copy', async () => {
    const { client, storage, request, clock } = setup();
    await client.revalidate('home', CTX);
    const read = storage.getStorageSync;
    storage.getStorageSync = (key) => {
      if (key === 'uiserver:index') throw new Error('getStorageSync:fail');
      return read(key);
    };
    await clock.advance(10 * 1000);
    const launched = await client.launch('home', CTX); // whose copy it is cannot be checked: the network's
    expect(launched.layout.variant).toBe('alice');
    storage.getStorageSync = read;
    request.handler = eraseOk;
    await client.erase(); // a platform with no key list: the index is all erase() has
    expect(aliceKeys(storage)).toEqual([]);
    await expect(client.launch('home', CTX)).rejects.toBeInstanceOf(LayoutUnavailableError);
  });

  test('a store while the index cannot be read is refused rather than leaving the other copies unindexed', async () => {
    const { client, storage, request, clock } = setup();
    await client.revalidate('home', CTX);
    const read = storage.getStorageSync;
    storage.getStorageSync = (key) => {
      if (key === 'uiserver:index') throw new Error('getStorageSync:fail');
      return read(key);
    };
    await client.revalidate('mine', CTX);
    storage.getStorageSync = read;
    expect(client.storedKeys()).toContain('uiserver:layout:alice|home|' + QUERY);
    request.handler = eraseOk;
    await clock.advance(1000);
    await client.erase();
    expect(aliceKeys(storage)).toEqual([]);
  });

  test.each([
    ['truncated JSON', '[{"k":"uiserver:layout:alice|home|'],
    ['a number', 42],
  ])('an index damaged to %s: the copies it named are never drawn again, for anyone, after erase()', async (name, damaged) => {
    const { client, storage, request } = setup();
    await client.revalidate('home', CTX);
    // the platform hands back the damaged text itself (fakeStorage would parse JSON)
    const read = storage.getStorageSync;
    storage.getStorageSync = (key) => (key === 'uiserver:index' && storage.damaged ? damaged : read(key));
    storage.damaged = true;
    request.handler = eraseOk;
    await client.erase();
    storage.damaged = false;
    await expect(client.launch('home', CTX)).rejects.toBeInstanceOf(LayoutUnavailableError);
    expect(aliceKeys(storage)).toEqual([]);
  });
});

// ------------------------------------------------------------------ clocks: the Age header

describe('an Age header counts towards freshness (RFC 9111 4.2.3)', () => {
  test('a layout that spent 50 s of its 60 s max-age in a cache on the way is revalidated after 10 s', async () => {
    const { client, request, clock } = setup();
    request.handler = () => ok(elderly, '"e1"', { Age: '50' });
    await client.revalidate('home', CTX);
    await clock.advance(20 * 1000);
    const launched = await client.launch('home', CTX);
    expect(launched.source).toBe('cache');
    await launched.revalidation;
    expect(layoutGets(request)).toHaveLength(2); // stale: revalidated in the background
  });

  test('an Age larger than any interval makes the copy expired at once; junk Age is ignored', async () => {
    const { client, request, clock } = setup();
    request.handler = () => ok(elderly, '"e1"', { Age: '999999999' });
    await client.revalidate('home', CTX);
    request.handler = () => 'fail';
    await expect(client.launch('home', CTX)).rejects.toBeInstanceOf(LayoutUnavailableError);
    request.handler = () => ok(elderly, '"e2"', { Age: 'soon' });
    await client.revalidate('mine', CTX);
    await clock.advance(30 * 1000);
    const launched = await client.launch('mine', CTX);
    expect(launched.source).toBe('cache');
    expect(layoutGets(request)).toHaveLength(3); // fresh: no request
  });
});

// ------------------------------------------------------------------ events over the server's limits

describe('a batch over the server\'s limits', () => {
  test('a 422 on `events` (more than the server takes) splits the batch: every event is sent, none kept forever', async () => {
    const { make, request } = setup();
    const client = make({ events: { maxPerRequest: 1000, batchSize: 10000 } });
    const bodies = [];
    request.handler = (req) => {
      if (req.url.indexOf('/v1/me/events') < 0) return ok(elderly, '"e1"');
      const n = req.body.events.length;
      if (n > 500) {
        return { statusCode: 422, data: { error: { code: 'invalid', message: 'Expected `array` of length <= 500', field: 'events' } } };
      }
      bodies.push(n);
      return { statusCode: 202, data: { accepted: n, stored: n, ignored: 0 } };
    };
    for (let i = 0; i < 700; i++) client.track('home', 'search', 'click');
    const result = await client.flush();
    expect(result.sent).toBe(700);
    expect(result.pending).toBe(0);
    expect(bodies.reduce((a, b) => a + b, 0)).toBe(700);
    expect(client.pendingEvents()).toEqual([]);
  });

  test('a 422 naming an event outside the batch drops nothing and does not loop', async () => {
    const { client, request } = setup();
    let posts = 0;
    request.handler = (req) => {
      if (req.url.indexOf('/v1/me/events') < 0) return ok(elderly, '"e1"');
      posts += 1;
      return { statusCode: 422, data: { error: { code: 'invalid', message: 'bad', field: 'events[7].component' } } };
    };
    client.track('home', 'search', 'click');
    client.track('home', 'search', 'click');
    const result = await client.flush();
    expect(posts).toBeLessThanOrEqual(2);
    expect(result.pending + result.dropped).toBe(2);
  });
});

// ------------------------------------------------------------------ event ids across restarts

test('an older SDK\'s events get the same ids on every restart, even when storage cannot take them back', async () => {
  const storage = fakeStorage();
  storage.setStorageSync('uiserver:events', [
    { user: 'alice', event: { page: 'home', component: 'search', kind: 'click', ts: 1700000000 } },
    { user: 'alice', event: { page: 'home', component: 'search', kind: 'click', ts: 1700000000 } },
  ]);
  storage.setStorageSync = () => { throw new Error('setStorageSync:fail exceed storage max size'); };
  const first = setup({ storage }).client.pendingEvents().map((e) => e.id);
  const second = setup({ storage }).client.pendingEvents().map((e) => e.id);
  expect(first).toEqual(second);
  expect(new Set(first).size).toBe(2); // two clicks in one second are two events
});

// ------------------------------------------------------------------ identity: settings and in-flight work

test('revalidate() after a settings change never joins the revalidation asked before it (which is dropped)', async () => {
  const { client, request, clock } = setup();
  request.delay = (req) => (req.url.indexOf('/v1/layouts/') >= 0 && layoutGets(request).length === 1 ? 300 : 0);
  const before = client.revalidate('home', CTX); // in flight 300 ms
  await Promise.resolve();
  request.handler = (req) => (req.method === 'PATCH' ? { statusCode: 200, data: { mode: 'standard' } }
    : ok(Object.assign({}, standard, { variant: 'after' }), '"s1"'));
  await client.patchSettings({ mode: 'standard' });
  const after = client.revalidate('home', CTX);
  await clock.advance(400);
  expect((await before).status).toBe('superseded');
  const result = await after;
  expect(result.status).toBe('updated');
  expect(result.layout.variant).toBe('after');
});

test('erase() while a flush is in flight deletes after the events were answered, so none lands after the erasure', async () => {
  const { client, request, clock } = setup();
  const order = [];
  request.delay = (req) => (req.url.indexOf('/v1/me/events') >= 0 ? 300 : 0);
  const handler = request.handler;
  request.handler = (req) => { order.push(req.method + ' ' + req.url.replace('https://ui.example.com', '')); return handler(req); };
  client.track('home', 'search', 'click');
  const flushing = client.flush();
  await settle();
  expect(request.requests.map((r) => r.method)).toEqual(['POST']);
  const erasing = client.erase();
  await clock.advance(400);
  await flushing;
  await erasing;
  // the recorded order is when each request was answered; the DELETE must be sent after the POST's answer
  const sent = request.requests.map((r) => r.method);
  expect(sent.indexOf('DELETE')).toBeGreaterThan(sent.indexOf('POST'));
  expect(order).toEqual(['POST /v1/me/events', 'DELETE /v1/me']);
});

test('a capability registration answered 503 with Retry-After holds the layout requests back for that long', async () => {
  const { client, request, clock } = setup();
  let posts = 0;
  request.handler = (req) => {
    if (req.url.indexOf('/v1/capabilities') >= 0) {
      posts += 1;
      return { statusCode: 503, header: { 'Retry-After': '120' }, data: { error: { code: 'unavailable' } } };
    }
    return { statusCode: 428, data: { error: { code: 'capabilities_unknown' } } };
  };
  await client.revalidate('home', CTX);
  await clock.advance(30 * 1000);
  await client.revalidate('home', CTX);
  expect(posts).toBe(1);
  expect(layoutGets(request)).toHaveLength(1);
  await clock.advance(100 * 1000);
  await client.revalidate('home', CTX);
  expect(posts).toBe(2);
});

test('a preview poll answered 503 or 429 with Retry-After waits that long before polling again', async () => {
  const { make, request, clock } = setup();
  const client = make({ preview: { token: 'tok.en', pollMs: 3000 } });
  let busy = false;
  request.handler = (req) => {
    if (req.url.indexOf('/v1/preview/') < 0) return ok(elderly, '"e1"');
    if (busy) return { statusCode: 503, header: { 'Retry-After': '60' }, data: { error: { code: 'unavailable' } } };
    return { statusCode: 200, header: { 'Cache-Control': 'no-store' }, data: Object.assign({}, standard, { title: 'draft' }) };
  };
  await client.launch('home', CTX);
  busy = true;
  const polls = () => request.requests.filter((r) => r.url.indexOf('/v1/preview/') >= 0).length;
  await clock.advance(3000); // the first poll: 503, Retry-After 60 s
  expect(polls()).toBe(2);
  await clock.advance(30 * 1000);
  expect(polls()).toBe(2); // not every 3 s meanwhile
  busy = false;
  await clock.advance(31 * 1000);
  expect(polls()).toBe(3);
  expect(client.previewing()).toBe(true);
});

describe('two clients on one storage', () => {
  test('each client\'s pending events survive the other\'s write: a restart sends both', async () => {
    const storage = fakeStorage();
    const first = setup({ storage });
    const second = setup({ storage });
    first.request.handler = () => 'fail';
    second.request.handler = () => 'fail';
    first.client.track('home', 'search', 'click');
    first.client.track('home', 'banner', 'click');
    await first.client.flush(); // fails: stored
    second.client.track('home', 'cart', 'click');
    await second.client.flush(); // fails: stored, over the first's
    const restarted = setup({ storage }).client;
    expect(restarted.pendingEvents().map((e) => e.component).sort()).toEqual(['banner', 'cart', 'search']);
    // what one client sent is not merged back by the other's next write
    first.request.handler = (req) => ({ statusCode: 202, data: { accepted: req.body.events.length, stored: req.body.events.length } });
    await first.client.flush();
    second.client.track('home', 'cart', 'convert');
    await second.client.flush();
    expect(setup({ storage }).client.pendingEvents().map((e) => e.component + ':' + e.kind).sort())
      .toEqual(['cart:click', 'cart:convert']);
  });

  test('personalization turned off through one client stops the other tracking the user', async () => {
    const storage = fakeStorage();
    const first = setup({ storage });
    const second = setup({ storage });
    await second.client.revalidate('home', CTX); // its layout says personalization 1: remembered
    expect(second.client.track('home', 'search', 'click')).toBe(true);
    first.request.handler = () => ({ statusCode: 200, data: { personalization: 0 } });
    await first.client.patchSettings({ personalization: 0 });
    expect(second.client.track('home', 'search', 'click')).toBe(false);
  });
});

test('with an async token source, a tap right after Bob replaced Alice is Bob\'s event, sent with Bob\'s token', async () => {
  const { make, request, signIn } = setup();
  let token = tokenFor('alice');
  const client = make({ getToken: () => Promise.resolve(token) });
  signIn('alice');
  await client.launch('home', CTX); // the SDK read Alice last
  token = tokenFor('bob');
  expect(client.track('home', 'search', 'click')).toBe(true);
  const result = await client.flush();
  const posts = request.requests.filter((r) => r.url.indexOf('/v1/me/events') >= 0);
  expect(posts.map((r) => r.user)).toEqual(['bob']);
  expect(result.sent).toBe(1);
  expect(client.pendingEvents()).toEqual([]);
});

test('with an async token source, a tap after signing out is not queued for the user who left', async () => {
  const { make, request } = setup();
  let token = tokenFor('alice');
  const client = make({ getToken: () => Promise.resolve(token) });
  await client.launch('home', CTX);
  token = '';
  client.track('home', 'search', 'click');
  await client.flush();
  token = tokenFor('alice');
  await client.flush();
  expect(request.requests.filter((r) => r.url.indexOf('/v1/me/events') >= 0)).toEqual([]);
  expect(client.pendingEvents()).toEqual([]);
});

test('a stored event queue far over maxQueued is cut to the newest maxQueued on restore, not sent in full', async () => {
  const storage = fakeStorage();
  const queued = [];
  for (let i = 0; i < 1200; i++) {
    queued.push({ user: 'alice', event: { page: 'home', component: 'c' + i, kind: 'click', ts: 1700000000 + i, id: 'id-' + String(100000 + i) } });
  }
  storage.setStorageSync('uiserver:events', queued);
  const { client } = setup({ storage, events: { maxQueued: 1000 } });
  const pending = client.pendingEvents();
  expect(pending).toHaveLength(1000);
  expect(pending[0].component).toBe('c200');
  expect(storage.getStorageSync('uiserver:events')).toHaveLength(1000);
});

test('events: a 503 with Retry-After holds flush() and app-hide flushes back until then, not only the retry timer', async () => {
  const hides = [];
  const { make, request, clock } = setup();
  const client = make({ onAppHide: (fn) => hides.push(fn) });
  const posts = () => request.requests.filter((r) => r.url.indexOf('/v1/me/events') >= 0);
  request.handler = (req) => (req.url.indexOf('/v1/me/events') >= 0
    ? { statusCode: 503, header: { 'Retry-After': '120' }, data: { error: { code: 'unavailable' } } }
    : ok(elderly, '"e1"'));
  client.track('home', 'search', 'click');
  await client.flush();
  expect(posts()).toHaveLength(1);
  await clock.advance(10 * 1000);
  const held = await client.flush();
  hides.forEach((fn) => fn());
  await clock.advance(10 * 1000);
  expect(posts()).toHaveLength(1); // the server asked for 120 s
  expect(held.pending).toBe(1);
  request.handler = (req) => ({ statusCode: 202, data: { accepted: req.body.events.length, stored: req.body.events.length } });
  await clock.advance(101 * 1000);
  expect(posts()).toHaveLength(2);
  expect(client.pendingEvents()).toEqual([]);
});

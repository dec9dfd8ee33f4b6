'use strict';
// Event batching with a manual scheduler: 50 events, 10 s, app hide, flush(); 500 a request;
// backoff on 5xx/network; what each 4xx does; nothing sent when personalization is 0.

const { createLayoutClient } = require('../src');
const { fakeClock, fakeStorage, fakeRequest, settle, tokenFor } = require('./helpers/fakes');

function setup(extra) {
  const clock = fakeClock();
  const storage = fakeStorage();
  const request = fakeRequest(() => ({ statusCode: 202, data: { accepted: 1, stored: 1 } }));
  const hide = [];
  const errors = [];
  const make = () => createLayoutClient(Object.assign({
    baseUrl: 'https://ui.example.com',
    getToken: () => tokenFor('alice'),
    request, storage, now: clock.now, scheduler: clock.scheduler, random: () => 0.5,
    onAppHide: (fn) => hide.push(fn), onError: (e) => errors.push(e), register: false,
  }, extra));
  return { clock, storage, request, hide, errors, make, client: make() };
}

const posts = (request) => request.requests.filter((r) => r.method === 'POST');
const ids = (req) => req.body.events.map((e) => e.id);
// what the server takes: 8-64 characters of A-Z a-z 0-9 _ - (uiserver/schema.py EventId)
const ID = /^[A-Za-z0-9_-]{8,64}$/;

test('49 events wait; the 50th flushes them in one request', async () => {
  const { client, request } = setup();
  for (let i = 0; i < 49; i++) client.track('home', 'search', 'click');
  await settle();
  expect(posts(request)).toHaveLength(0);
  client.track('home', 'coupons', 'convert', 12.5);
  await settle();
  expect(posts(request)).toHaveLength(1);
  const batch = posts(request)[0].body.events;
  expect(batch).toHaveLength(50);
  expect(batch[49]).toEqual({ page: 'home', component: 'coupons', kind: 'convert', ts: 1700000000, value: 12.5, id: expect.stringMatching(ID) });
  expect(posts(request)[0].header.Authorization).toBe('Bearer ' + tokenFor('alice'));
});

test('one event is sent 10 s after it was tracked, not before', async () => {
  const { client, request, clock } = setup();
  client.track('home', 'search', 'view');
  await clock.advance(9999);
  expect(posts(request)).toHaveLength(0);
  await clock.advance(1);
  expect(posts(request)).toHaveLength(1);
});

test('the app hiding flushes at once', async () => {
  const { client, request, hide } = setup();
  client.track('home', 'search', 'click');
  hide.forEach((fn) => fn());
  await settle();
  expect(posts(request)).toHaveLength(1);
});

test('at most 500 events a request', async () => {
  const { client, request } = setup();
  // the automatic 50-event flushes fail (network down), so 1200 events wait for flush()
  request.handler = () => 'fail';
  for (let i = 0; i < 1200; i++) client.track('home', 'c' + (i % 7), 'view');
  await settle();
  request.handler = () => ({ statusCode: 202, data: {} });
  request.requests.length = 0;
  const result = await client.flush();
  expect(posts(request).map((r) => r.body.events.length)).toEqual([500, 500, 200]);
  expect(result).toMatchObject({ sent: 1200, dropped: 0, pending: 0 });
});

test('5xx and network failures are retried with exponential backoff, honouring Retry-After', async () => {
  const { client, request, clock } = setup();
  const answers = ['fail', { statusCode: 503, header: { 'Retry-After': '30' }, data: {} }, 'fail'];
  request.handler = () => (answers.length ? answers.shift() : { statusCode: 202, data: {} });
  client.track('home', 'search', 'click');
  await client.flush(); // fail -> retry in base * 2^0 * (0.5 + 0.5 * 0.5) = 750 ms
  expect(clock.pendingTimers()).toEqual([750]);
  await clock.advance(750); // 503 with Retry-After: 30 s beats 1500 ms
  expect(clock.pendingTimers()).toEqual([30000]);
  await clock.advance(30000); // fail -> 3000 ms (attempt 2)
  expect(clock.pendingTimers()).toEqual([3000]);
  client.track('home', 'search', 'click'); // does not cut the backoff short
  expect(clock.pendingTimers()).toEqual([3000]);
  await clock.advance(3000);
  expect(posts(request)).toHaveLength(4);
  expect(posts(request)[3].body.events).toHaveLength(2);
  expect(clock.pendingTimers()).toEqual([]);
});

test('a 4xx it cannot fix (401) drops nothing: the events wait for the next flush', async () => {
  const { client, request, errors } = setup();
  request.handler = () => ({ statusCode: 401, data: { error: { code: 'expired_token', message: 'expired' } } });
  client.track('home', 'search', 'click');
  client.track('home', 'cart_shortcut', 'click');
  const result = await client.flush();
  expect(result).toMatchObject({ sent: 0, dropped: 0, pending: 2 });
  expect(errors.map((e) => e.code)).toEqual(['expired_token']);
  request.handler = () => ({ statusCode: 202, data: {} });
  expect(await client.flush()).toMatchObject({ sent: 2, dropped: 0, pending: 0 });
});

test('a 422 about `value` (a server older than the field) strips values and resends everything', async () => {
  const { client, request } = setup();
  request.handler = (req) => (req.body.events.some((e) => 'value' in e)
    ? { statusCode: 422, data: { error: { code: 'invalid', message: 'Object contains unknown field `value`', field: 'events[1]' } } }
    : { statusCode: 202, data: {} });
  client.track('home', 'search', 'click');
  client.track('home', 'coupons', 'convert', 30);
  expect(await client.flush()).toMatchObject({ sent: 2, dropped: 0, pending: 0 });
  expect(posts(request)[1].body.events[1]).toEqual({ page: 'home', component: 'coupons', kind: 'convert', ts: 1700000000, id: posts(request)[0].body.events[1].id });
});

test('a 422 naming one event drops only that event; a 413 halves the batch', async () => {
  const { client, request, errors } = setup();
  request.handler = (req) => {
    const events = req.body.events;
    if (events.length > 2) return { statusCode: 413, data: { error: { code: 'too_large', message: 'big' } } };
    const bad = events.findIndex((e) => e.component.length > 64);
    if (bad >= 0) return { statusCode: 422, data: { error: { code: 'invalid', message: 'too long', field: `events[${bad}].component` } } };
    return { statusCode: 202, data: {} };
  };
  client.track('home', 'a', 'click');
  client.track('home', 'x'.repeat(65), 'click');
  client.track('home', 'b', 'click');
  client.track('home', 'c', 'click');
  expect(await client.flush()).toMatchObject({ sent: 3, dropped: 1, pending: 0 });
  const sent = posts(request).filter((r) => r.body.events.length <= 2 && r.body.events.every((e) => e.component.length < 64));
  expect(sent.flatMap((r) => r.body.events.map((e) => e.component))).toEqual(['a', 'b', 'c']);
  expect(errors.map((e) => e.field)).toEqual(['events[1].component']);
});

test('nothing is queued or sent while personalization is 0, and turning it off drops the queue', async () => {
  const { client, request } = setup();
  client.track('home', 'search', 'click');
  request.handler = (req) => (req.method === 'PUT' ? { statusCode: 200, data: req.body } : { statusCode: 202, data: {} });
  await client.putSettings({ elderly_mode: 'auto', personalization: 0 });
  expect(client.pendingEvents()).toEqual([]);
  expect(client.track('home', 'search', 'click')).toBe(false);
  await client.flush();
  expect(posts(request)).toHaveLength(0);
  await client.putSettings({ elderly_mode: 'auto', personalization: 0.5 });
  expect(client.track('home', 'search', 'click')).toBe(true);
});

test('a layout served with personalization strength 0 also turns tracking off', async () => {
  const { client, request } = setup();
  const layout = Object.assign({}, require('./fixtures/home-standard.json'));
  layout.personalization = Object.assign({}, layout.personalization, { strength: 0 });
  request.handler = () => ({ statusCode: 200, header: { ETag: '"z"', 'Cache-Control': 'max-age=60' }, data: layout });
  await client.revalidate('home', {});
  expect(client.track('home', 'search', 'click')).toBe(false);
});

test('anonymous users are not tracked', async () => {
  const { make } = setup({ getToken: () => '' });
  expect(make().track('home', 'search', 'click')).toBe(false);
});

test('pending events survive an app restart', async () => {
  const { client, request, make, hide } = setup();
  request.handler = () => 'fail';
  client.track('home', 'search', 'click');
  hide.forEach((fn) => fn());
  await settle();
  request.handler = () => ({ statusCode: 202, data: {} });
  const restarted = make();
  expect(restarted.pendingEvents()).toHaveLength(1);
  expect(await restarted.flush()).toMatchObject({ sent: 1, dropped: 0, pending: 0 });
});

test('bad arguments are refused at track time', () => {
  const { client } = setup();
  expect(() => client.track('home', 'search', 'hover')).toThrow(TypeError);
  expect(() => client.track('home', 'search', 'convert', -1)).toThrow(TypeError);
});

// ----------------------------------------------------------------------------- event ids

test('each event gets an id when it is tracked: unique, of the form the server takes', async () => {
  const { client, request } = setup();
  for (let i = 0; i < 120; i++) client.track('home', 'search', 'click');
  await client.flush();
  const sent = posts(request).flatMap(ids);
  expect(sent).toHaveLength(120);
  sent.forEach((id) => expect(id).toMatch(ID));
  expect(new Set(sent).size).toBe(120);
  expect(client.pendingEvents()).toEqual([]);
});

test('the id is made at track time, not at send time', async () => {
  const { client, request } = setup();
  client.track('home', 'search', 'click');
  const queued = client.pendingEvents()[0].id;
  expect(queued).toMatch(ID);
  await client.flush();
  expect(ids(posts(request)[0])).toEqual([queued]);
});

test('a retried flush sends the same ids (network failure, 503, a lost answer)', async () => {
  const { client, request, clock } = setup();
  const answers = ['fail', { statusCode: 503, data: {} }];
  request.handler = () => (answers.length ? answers.shift() : 'fail'); // the last: stored, answer lost
  client.track('home', 'coupons', 'convert', 99);
  client.track('home', 'search', 'click');
  await client.flush();
  await clock.advance(750);
  await clock.advance(1500);
  request.handler = () => ({ statusCode: 202, data: { stored: 0, ignored: 2, ignored_reasons: { duplicate: 2 } } });
  expect(await client.flush()).toMatchObject({ sent: 2, dropped: 0, pending: 0 });
  const attempts = posts(request).map(ids);
  expect(attempts).toHaveLength(4);
  expect(attempts[0]).toEqual([expect.stringMatching(ID), expect.stringMatching(ID)]);
  attempts.forEach((sent) => expect(sent).toEqual(attempts[0]));
});

test('ids survive an app restart: the resend after a restart carries the first attempt\'s ids', async () => {
  const { client, request, make, hide } = setup();
  request.handler = () => 'fail'; // e.g. the server stored the batch and the answer was lost
  client.track('home', 'coupons', 'convert', 99);
  client.track('home', 'search', 'click');
  hide.forEach((fn) => fn()); // the app hides: stored, then a flush that fails
  await settle();
  const first = ids(posts(request)[0]);
  expect(first).toEqual([expect.stringMatching(ID), expect.stringMatching(ID)]);
  request.handler = () => ({ statusCode: 202, data: {} });
  const restarted = make();
  expect(restarted.pendingEvents().map((e) => e.id)).toEqual(first);
  expect(await restarted.flush()).toMatchObject({ sent: 2, dropped: 0, pending: 0 });
  expect(ids(posts(request)[posts(request).length - 1])).toEqual(first);
});

test('events stored by an older SDK (no id) get one on restore, the same on every restart', async () => {
  const { storage, request, make } = setup();
  const old = [{ user: 'alice', event: { page: 'home', component: 'search', kind: 'click', ts: 1699999000 } }];
  storage.setStorageSync('uiserver:events', old);
  const restored = make().pendingEvents();
  expect(restored).toHaveLength(1);
  expect(restored[0].id).toMatch(ID);
  request.handler = () => 'fail';
  const again = make(); // a second restart before anything was delivered
  expect(again.pendingEvents()[0].id).toBe(restored[0].id);
  request.handler = () => ({ statusCode: 202, data: {} });
  await again.flush();
  expect(ids(posts(request)[posts(request).length - 1])).toEqual([restored[0].id]);
});

test('a stored id that is not of the server\'s form is replaced on restore', () => {
  const { storage, make } = setup();
  storage.setStorageSync('uiserver:events', [
    { user: 'alice', event: { page: 'home', component: 'search', kind: 'click', ts: 1, id: 'bad id!' } },
  ]);
  expect(make().pendingEvents()[0].id).toMatch(ID);
});

test('a server older than event ids (422: unknown field `id`) gets the events without ids, none dropped', async () => {
  const { client, request, errors } = setup();
  request.handler = (req) => (req.body.events.some((e) => 'id' in e)
    ? { statusCode: 422, data: { error: { code: 'invalid', message: 'Object contains unknown field `id`', field: 'events[0].id' } } }
    : { statusCode: 202, data: {} });
  client.track('home', 'search', 'click');
  client.track('home', 'coupons', 'convert', 5);
  expect(await client.flush()).toMatchObject({ sent: 2, dropped: 0, pending: 0 });
  expect(posts(request)[1].body.events).toEqual([
    { page: 'home', component: 'search', kind: 'click', ts: 1700000000 },
    { page: 'home', component: 'coupons', kind: 'convert', ts: 1700000000, value: 5 },
  ]);
  expect(errors).toEqual([]);
});

test('halving a batch (413) keeps every event\'s id', async () => {
  const { client, request } = setup();
  request.handler = (req) => (req.body.events.length > 2 ? { statusCode: 413, data: {} } : { statusCode: 202, data: {} });
  for (let i = 0; i < 4; i++) client.track('home', 'search', 'click');
  const queued = client.pendingEvents().map((e) => e.id);
  await client.flush();
  const tooBig = ids(posts(request)[0]);
  const delivered = posts(request).slice(1).flatMap(ids);
  expect(queued).toHaveLength(4);
  queued.forEach((id) => expect(id).toMatch(ID));
  expect(tooBig).toEqual(queued);
  expect(delivered).toEqual(queued);
});

test('a custom id maker (events.newId) is used as it is', async () => {
  let n = 0;
  const { client, request } = setup({ events: { newId: () => 'app-id-' + String(++n).padStart(4, '0') } });
  client.track('home', 'search', 'click');
  client.track('home', 'search', 'view');
  await client.flush();
  expect(ids(posts(request)[0])).toEqual(['app-id-0001', 'app-id-0002']);
});

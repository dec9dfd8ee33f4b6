'use strict';
// Preview mode (a designer's draft through a preview token) with the fake clock, storage and
// transport: the preview route instead of the layout route, storage untouched, no events,
// polling hands each changed draft to onUpdate, a 401 ends preview and goes back to live.

const { createLayoutClient, previewFromQuery } = require('../src');
const { fakeClock, fakeStorage, fakeRequest, settle, tokenFor } = require('./helpers/fakes');
const standard = require('./fixtures/home-standard.json');
const elderly = require('./fixtures/home-elderly.json');

const CC = 'private, max-age=60, stale-while-revalidate=3600, stale-if-error=86400';
const CTX = { device: 'phone', width: 375, locale: 'zh-CN' };
const NO_STORE = { 'Cache-Control': 'no-store' };

function setup(options) {
  const clock = fakeClock();
  const storage = fakeStorage();
  const request = fakeRequest();
  const errors = [];
  const client = createLayoutClient(Object.assign({
    baseUrl: 'https://ui.example.com',
    getToken: () => tokenFor('designer-phone'),
    request, storage, now: clock.now, scheduler: clock.scheduler,
    onAppHide: () => {}, onError: (e) => errors.push(e), register: false,
  }, options));
  const updates = [];
  client.onUpdate((page, layout, meta) => updates.push({ page, layout, meta }));
  return { clock, storage, request, errors, client, updates };
}

const draft = (label) => Object.assign({}, standard, { title: label });

test('preview mode fetches the draft from the preview route and leaves storage untouched', async () => {
  const { client, storage, request } = setup({ preview: { token: 'tok.en' } });
  request.handler = (req) => (req.url.indexOf('/v1/preview/layouts/home?preview_token=tok.en') >= 0
    ? { statusCode: 200, header: NO_STORE, data: draft('draft one') }
    : { statusCode: 200, header: { ETag: '"live"', 'Cache-Control': CC }, data: elderly });
  expect(client.previewing()).toBe(true);
  const shown = await client.launch('home', CTX);
  expect(shown).toMatchObject({ source: 'network', etag: null });
  expect(shown.layout.title).toBe('draft one');
  expect((await client.revalidate('home', CTX)).layout.title).toBe('draft one');
  expect(request.requests.every((r) => r.url.indexOf('/v1/preview/layouts/') > 0)).toBe(true);
  expect(request.requests.every((r) => !r.header.Authorization)).toBe(true); // the token is the credential
  expect(storage.data.size).toBe(0);
  expect(client.storedKeys()).toEqual([]);
});

test('no events are queued or sent in preview mode', async () => {
  const { client, request, clock } = setup({ preview: { token: 't' } });
  request.handler = () => ({ statusCode: 200, header: NO_STORE, data: draft('d') });
  await client.launch('home', CTX);
  expect(client.track('home', 'search', 'click')).toBe(false);
  expect(client.track('home', 'search', 'impression', { version: 'v', mode: 'standard' })).toBe(false);
  expect(client.pendingEvents()).toEqual([]);
  await client.flush();
  await clock.advance(60000);
  client.stopPreview();
  await settle();
  expect(request.requests.some((r) => r.url.indexOf('/v1/me/events') >= 0)).toBe(false);
});

test('polling hands each changed draft to onUpdate, once, and stopPreview goes back to live', async () => {
  const { client, request, clock, updates, storage } = setup();
  let label = 'draft one';
  request.handler = (req) => (req.url.indexOf('/v1/preview/') >= 0
    ? { statusCode: 200, header: NO_STORE, data: draft(label) }
    : { statusCode: 200, header: { ETag: '"live"', 'Cache-Control': CC }, data: elderly });
  client.startPreview('t', { pollMs: 2000 });
  await client.launch('home', CTX);
  await clock.advance(2000);
  expect(updates).toEqual([]); // the same draft: nothing new
  label = 'draft two'; // the designer saves
  await clock.advance(2000);
  expect(updates.map((u) => u.layout.title)).toEqual(['draft two']);
  expect(updates[0].meta).toMatchObject({ preview: true, applyNow: true, etag: null });
  await clock.advance(6000);
  expect(updates.length).toBe(1);
  expect(storage.data.size).toBe(0);
  client.stopPreview();
  await settle();
  expect(client.previewing()).toBe(false);
  expect(updates.map((u) => u.layout.mode)).toEqual(['standard', 'elderly']); // the live layout
  expect(updates[1].meta.preview).toBeUndefined();
  const polls = request.requests.filter((r) => r.url.indexOf('/v1/preview/') >= 0).length;
  await clock.advance(20000);
  expect(request.requests.filter((r) => r.url.indexOf('/v1/preview/') >= 0).length).toBe(polls);
  expect(clock.pendingTimers()).toEqual([]);
});

test('a 401 (the token expired) ends preview mode and goes back to the live layout', async () => {
  const { client, request, clock, updates } = setup({ preview: { token: 't', pollMs: 1000 } });
  let expired = false;
  request.handler = (req) => {
    if (req.url.indexOf('/v1/preview/') < 0) return { statusCode: 200, header: { ETag: '"live"', 'Cache-Control': CC }, data: elderly };
    if (expired) return { statusCode: 401, data: { error: { code: 'bad_preview_token', message: 'expired', field: 'preview_token' } } };
    return { statusCode: 200, header: NO_STORE, data: draft('d') };
  };
  expect((await client.launch('home', CTX)).layout.title).toBe('d');
  expired = true;
  await clock.advance(1000);
  await settle();
  expect(client.previewing()).toBe(false);
  expect(updates.map((u) => u.layout.mode)).toEqual(['elderly']);
  // a launch now is the live one, stored as usual
  const live = await client.launch('home', CTX);
  expect(live.layout.mode).toBe('elderly');
  expect(client.storedKeys().length).toBe(1);
});

test('a launch with a refused token shows the live layout; a 422 draft rejects, a poll reports it', async () => {
  const refused = setup({ preview: { token: 'forged' } });
  refused.request.handler = (req) => (req.url.indexOf('/v1/preview/') >= 0
    ? { statusCode: 401, data: { error: { code: 'bad_preview_token' } } }
    : { statusCode: 200, header: { ETag: '"live"', 'Cache-Control': CC }, data: elderly });
  expect((await refused.client.launch('home', CTX)).layout.mode).toBe('elderly');
  expect(refused.client.previewing()).toBe(false);

  const { client, request, clock, errors } = setup({ preview: { token: 't', pollMs: 1000 } });
  let broken = true;
  request.handler = () => (broken
    ? { statusCode: 422, data: { error: { code: 'invalid', message: 'the saved draft fails lint', field: 'draft' } } }
    : { statusCode: 200, header: NO_STORE, data: draft('fixed') });
  await expect(client.launch('home', CTX)).rejects.toMatchObject({ status: 422, code: 'invalid' });
  broken = false;
  await client.launch('home', CTX);
  broken = true;
  await clock.advance(1000);
  expect(errors.map((e) => e.status)).toEqual([422]);
  expect(client.previewing()).toBe(true);
  expect(clock.pendingTimers()).toEqual([1000]); // still polling
  client.stopPreview();
});

test('previewFromQuery reads preview_token or the scanned URL in q', () => {
  expect(previewFromQuery({ preview_token: 'abc.def' })).toBe('abc.def');
  const url = 'https://ui.example.com/v1/preview/layouts/home?preview_token=x.y.z';
  expect(previewFromQuery({ q: encodeURIComponent(url) })).toBe('x.y.z');
  expect(previewFromQuery({ q: '%E0%A4%A' })).toBeNull();
  expect(previewFromQuery({ q: 'https://x/?a=1' })).toBeNull();
  expect(previewFromQuery({})).toBeNull();
  expect(previewFromQuery(null)).toBeNull();
  expect(() => createLayoutClient({ baseUrl: 'x', request: () => {}, storage: fakeStorage(), register: false })
    .startPreview('')).toThrow(TypeError);
});

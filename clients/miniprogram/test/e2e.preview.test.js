'use strict';
// Preview mode end to end against a real `uiserver serve`: a designer (a token signed with the
// server's secret) saves a draft through the console's API, mints a preview token, and the SDK
// shows the draft, follows the next save, stores nothing and sends no events.

const { createLayoutClient, previewFromQuery } = require('../src');
const { startServer, signToken, nodeRequest } = require('./helpers/server');
const { fakeStorage } = require('./helpers/fakes');

const CTX = { device: 'phone', width: 375, locale: 'zh-CN' };
let server;
let designer;

/** A JSON request as the console sends it. */
async function api(method, path, body) {
  const res = await fetch(server.baseUrl + path, {
    method,
    headers: { Authorization: 'Bearer ' + designer, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  server = await startServer();
  designer = signToken(server.secret, 'designer-preview-e2e', 3600, { role: 'designer' });
});

afterAll(async () => {
  if (server) await server.stop();
});

test('a designer\'s saved drafts reach the SDK through a preview token, each save reloads', async () => {
  const live = await api('GET', '/v1/admin/templates/cart');
  expect(live.status).toBe(200);
  const template = live.body.template;
  const target = template.components[1].id;
  const published = template.components[1].label;
  const save = async (label) => {
    template.components[1].label = label;
    const saved = await api('PUT', '/v1/admin/drafts/cart', {
      text: JSON.stringify(template), base_version: live.body.version || '',
    });
    expect(saved.status).toBe(200);
  };
  await save('草稿一 Draft one');
  const minted = await api('POST', '/v1/admin/preview-tokens/cart', { persona: 'default' });
  expect(minted.status).toBe(201);
  // what the mini-program gets when the QR code (the URL) opens it: WeChat's `q`
  const token = previewFromQuery({ q: encodeURIComponent(minted.body.url) });
  expect(token).toBe(minted.body.token);

  const log = [];
  const storage = fakeStorage();
  const client = createLayoutClient({
    baseUrl: server.baseUrl, getToken: () => signToken(server.secret, 'phone-user'),
    request: nodeRequest(log), storage, onAppHide: () => {}, register: false,
    preview: { token, pollMs: 200 },
  });
  const label = (layout) => layout.components.find((c) => c.id === target).label;
  const shown = await client.launch('cart', CTX);
  expect(label(shown.layout)).toBe('草稿一 Draft one');
  expect(log[0].headers['cache-control']).toBe('no-store');
  expect(log[0].url).toMatch(/\/v1\/preview\/layouts\/cart\?preview_token=/);

  const next = new Promise((resolve) => { client.onUpdate((page, layout, meta) => resolve({ layout, meta })); });
  await save('草稿二 Draft two');
  const update = await next;
  expect(label(update.layout)).toBe('草稿二 Draft two');
  expect(update.meta.preview).toBe(true);

  expect(client.track('cart', target, 'click')).toBe(false);
  await client.flush();
  expect(storage.data.size).toBe(0);
  expect(log.filter((e) => !/\/v1\/preview\/layouts\/cart\?preview_token=/.test(e.url))).toEqual([]);
  expect(log.length).toBeGreaterThanOrEqual(2); // the launch and at least one poll

  // stopPreview: back to the live layout (announced), stored as usual
  const back = new Promise((resolve) => { client.onUpdate((page, layout, meta) => { if (!meta.preview) resolve(layout); }); });
  client.stopPreview();
  const liveLayout = await back;
  expect(label(liveLayout)).toBe(published);
  expect(client.storedKeys().length).toBe(1);
});

test('a forged preview token: the SDK shows the live layout and leaves preview mode', async () => {
  const client = createLayoutClient({
    baseUrl: server.baseUrl, getToken: () => signToken(server.secret, 'phone-user-2'),
    request: nodeRequest([]), storage: fakeStorage(), onAppHide: () => {}, register: false,
    preview: { token: signToken(server.secret, 'designer-preview-e2e', 600, { aud: 'uiserver-preview', page: 'cart' }) },
  });
  const shown = await client.launch('cart', CTX);
  expect(shown.layout.page).toBe('cart');
  expect(client.previewing()).toBe(false);
  expect(client.storedKeys().length).toBe(1);
});

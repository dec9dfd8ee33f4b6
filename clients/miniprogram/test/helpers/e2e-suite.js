'use strict';
// End to end against a real `uiserver serve` the suite starts (and kills), once per platform
// adapter (test/e2e*.test.js): the SDK runs over the platform's own API shapes (helpers/runtimes:
// a `wx`, `my` or `tt` object over Node's HTTP client, or a web window with Node's real
// `fetch`), tokens are HS256 JWTs signed with the server's secret.

const fs = require('fs');
const { createLayoutClient, RENDERER_VERSION, typesHash } = require('../../src');
const rendererTypes = require('../../src/components/ui-layout/types');
const { startServer, freePort, signToken, get } = require('./server');
const bundledHome = require('../../example/defaults/home.js');

const CTX = { device: 'phone', width: 375, locale: 'zh-CN' };
const user = 'e2e-' + process.pid + '-' + Date.now();
let port;
let secret;
let dataDir;
let server = null;
let log;
let storage;
let client;
let clock;
let hideHandlers;
// Set to lose the answer of the next events POST: the server gets and stores the batch, the
// SDK sees a network failure (a connection dropped on the way back). Bodies and answers kept.
const wire = { loseNext: false, eventPosts: [] };
const eventPosts = wire.eventPosts;

/** @param {{name: string, build: Function}} runtime helpers/runtimes.js */
module.exports = function e2eSuite(runtime) {
  describe('end to end on ' + runtime.name, () => {
    beforeAll(async () => {
      port = await freePort();
      secret = require('crypto').randomBytes(32).toString('hex');
      dataDir = fs.mkdtempSync(require('path').join(require('os').tmpdir(), 'uiserver-mp-e2e-'));
      log = [];
      const built = runtime.build(log, wire);
      storage = built;
      clock = Date.now();
      hideHandlers = [];
      client = createLayoutClient({
        baseUrl: 'http://127.0.0.1:' + port,
        getToken: () => signToken(secret, user),
        platform: built.platform,
        defaults: { home: bundledHome },
        now: () => clock,
        onAppHide: (fn) => hideHandlers.push(fn),
        register: false,
      });
    });

    afterAll(async () => {
      if (server) await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    const start = async () => { server = await startServer({ port, secret, dataDir }); };
    const metric = async (name) => {
      const text = (await get(port, '/metrics')).text;
      const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '_total '));
      return line ? parseFloat(line.split(' ').pop()) : 0;
    };

    test('1. first launch with the server down: the bundled default', async () => {
      const launched = await client.launch('home', CTX);
      expect(launched.source).toBe('default');
      expect(launched.layout).toBe(bundledHome);
      const background = await launched.revalidation;
      expect(background.status).toBe('expired'); // nothing stored yet, the network failed
      expect(log[0].error).toBe('ECONNREFUSED');
    });

    test('2. server up: revalidate -> "updated", stored with the server\'s Cache-Control', async () => {
      await start();
      const result = await client.revalidate('home', CTX);
      expect(result.status).toBe('updated');
      expect(result.layout.schema).toBe(1);
      expect(result.layout.page).toBe('home');
      expect(result.layout.mode).toBe('standard');
      const last = log[log.length - 1];
      expect(last.statusCode).toBe(200);
      expect(last.headers['cache-control']).toMatch(/max-age=\d+/);
      expect(result.etag).toBe(last.headers.etag);
      // the next launch is served from storage
      const launched = await client.launch('home', CTX);
      expect(launched.source).toBe('cache');
      expect(launched.etag).toBe(result.etag);
    });

    test('3. again: "not_modified" (sent If-None-Match, the server answered 304)', async () => {
      const before = await metric('uiserver_not_modified');
      const result = await client.revalidate('home', CTX);
      expect(result.status).toBe('not_modified');
      const last = log[log.length - 1];
      expect(last.requestHeaders['If-None-Match']).toBe(result.etag);
      expect(last.statusCode).toBe(304);
      expect(await metric('uiserver_not_modified')).toBe(before + 1);
    });

    test('4. settings to elderly -> "updated", mode elderly', async () => {
      const saved = await client.patchSettings({ elderly_mode: 'on', handedness: 'left' });
      expect(saved.elderly_mode).toBe('on');
      expect(saved.personalization).toBe(1); // the rest kept (merge patch, or GET + PUT on an older server)
      expect((await client.getSettings()).handedness).toBe('left');
      // PATCH where the server has it (merge patch), else 405 then GET + PUT; on Alipay, whose
      // my.request documents no PATCH, GET + PUT at once
      const calls = log.filter((e) => /\/v1\/me\/settings$/.test(e.url)).map((e) => e.method + ' ' + e.statusCode);
      if (runtime.name === 'alipay') expect(calls).toEqual(['GET 200', 'PUT 200', 'GET 200']);
      else expect([['PATCH 200', 'GET 200'], ['PATCH 405', 'GET 200', 'PUT 200', 'GET 200']]).toContainEqual(calls);
      if (process.env.E2E_DEBUG) console.log(calls);
      // within max-age, yet the changed settings make the next launch wait for the new layout:
      // the old mode is never drawn
      const launched = await client.launch('home', CTX);
      expect(launched.source).toBe('network');
      expect(launched.layout.mode).toBe('elderly');
      const result = await launched.revalidation;
      expect(result.status).toBe('updated');
      expect(result.layout.mode).toBe('elderly');
      expect(result.layout.components.some((c) => c.type === 'ad_slot')).toBe(false);
      const search = result.layout.components.find((c) => c.id === 'search');
      expect(search.font_px).toBeGreaterThanOrEqual(24);
      expect(search.min_target_px).toBeGreaterThanOrEqual(60);
    });

    test('5. tracked events are stored (seen in /v1/me/data)', async () => {
      const before = JSON.stringify((await client.exportData()).data);
      expect(client.track('home', 'search', 'click')).toBe(true);
      expect(client.track('home', 'categories', 'click')).toBe(true);
      expect(client.track('home', 'fresh_grid', 'view')).toBe(true);
      hideHandlers.forEach((fn) => fn()); // the app hides: flush
      const result = await client.flush();
      expect(result.pending).toBe(0);
      expect(result.stored + result.ignored).toBe(3); // the 202 body's counts, summed
      expect(result.stored).toBeGreaterThanOrEqual(2);
      const posts = log.filter((e) => e.method === 'POST' && /\/v1\/me\/events$/.test(e.url));
      expect(posts.length).toBeGreaterThanOrEqual(1);
      expect(posts.every((p) => p.statusCode === 202)).toBe(true);
      const exported = await client.exportData();
      expect(exported.user).toBe(user);
      const after = JSON.stringify(exported.data);
      if (process.env.E2E_DEBUG) console.log(before, after);
      expect(after).not.toBe(before);
      expect(after).toMatch(/search/);
      expect(after).toMatch(/categories/);
      expect(before).not.toMatch(/categories/);
    });

    test('5b. a batch whose answer was lost is sent again with the same ids and counted once', async () => {
      const activity = async () => (await client.exportData()).data.activity || {};
      const before = await activity();
      expect(client.track('home', 'coupons', 'convert', 99)).toBe(true);
      expect(client.track('home', 'coupons', 'click')).toBe(true);
      wire.loseNext = true;
      const lost = await client.flush();
      expect(lost.pending).toBe(2); // the SDK saw a network failure and keeps the events...
      const first = eventPosts[eventPosts.length - 1];
      expect(first.lost).toBe(true);
      expect(first.statusCode).toBe(202); // ...which the server had stored
      expect(first.answer.stored).toBe(2);
      const retried = await client.flush(); // the retry (the backoff timer's job, done now)
      // and the flush says so: the server stored none of them, both were duplicates
      expect(retried).toEqual({ sent: 2, dropped: 0, pending: 0, stored: 0, ignored: 2, reasons: { duplicate: 2 } });
      const second = eventPosts[eventPosts.length - 1];
      expect(second.body.events.map((e) => e.id)).toEqual(first.body.events.map((e) => e.id));
      expect(second.answer).toEqual({ accepted: 2, stored: 0, ignored: 2, ignored_reasons: { duplicate: 2 } });
      const after = await activity();
      expect((after.converts || 0) - (before.converts || 0)).toBe(1);
      expect((after.value || 0) - (before.value || 0)).toBe(99);
    });

    test('5c. capabilities sent and known; impressions and render errors counted per version and mode', async () => {
      const launched = await client.launch('home', CTX);
      const layout = (await launched.revalidation || launched).layout || launched.layout;
      const gets = log.filter((e) => /\/v1\/layouts\//.test(e.url));
      const sent = gets[gets.length - 1].requestHeaders['X-UI-Capabilities'];
      expect(sent).toBe('r=' + RENDERER_VERSION + ';t=' + typesHash(rendererTypes));
      // the renderer's types are the server's catalogue: its hash is known, nothing to register
      expect(log.some((e) => /\/v1\/capabilities$/.test(e.url))).toBe(false);
      const drawn = { version: layout.template_version, mode: layout.mode };
      expect(client.track('home', 'search', 'impression', drawn)).toBe(true);
      expect(client.track('home', 'fresh_title', 'impression', drawn)).toBe(true);
      expect(client.track('home', 'search', 'render_error', drawn)).toBe(true);
      const result = await client.flush();
      expect(result).toMatchObject({ sent: 3, stored: 3, ignored: 0 });
      const readout = await get(port, '/v1/admin/telemetry/home?version=' + layout.template_version,
        signToken(secret, 'designer-e2e', 3600, { role: 'designer' }));
      expect(readout.status).toBe(200);
      const rows = JSON.parse(readout.text).rows;
      const search = rows.find((r) => r.component === 'search' && r.mode === layout.mode);
      expect(search).toMatchObject({ version: layout.template_version, impressions: 1, render_errors: 1 });
      expect(rows.find((r) => r.component === 'fresh_title').impressions).toBe(1);
    });

    test('6. server killed: "offline", the elderly layout kept', async () => {
      await server.stop('SIGKILL');
      server = null;
      clock += 5 * 60 * 1000; // past max-age: a launch would revalidate
      const result = await client.revalidate('home', CTX);
      expect(result.status).toBe('offline');
      expect(result.layout.mode).toBe('elderly');
      const launched = await client.launch('home', CTX);
      expect(launched.source).toBe('cache');
      expect(launched.layout.mode).toBe('elderly');
      expect((await launched.revalidation).status).toBe('offline');
    });

    test('7. erase(): the server\'s data and the SDK\'s storage are gone', async () => {
      await start();
      const body = await client.erase();
      expect(body).toEqual({ erased: true });
      const keys = storage.keys().filter((k) => k.indexOf(user) >= 0);
      expect(keys).toEqual([]);
      expect(client.storedKeys()).toEqual([]);
      expect(client.pendingEvents()).toEqual([]);
      const exported = await client.exportData();
      const settings = await client.getSettings();
      expect(settings.elderly_mode).toBe('auto'); // defaults again
      expect(JSON.stringify(exported.data)).not.toMatch(/search|categories|elderly/);
      // and the next launch starts from the bundled default again
      expect((await client.launch('home', CTX)).source).toBe('default');
    });
  });
};

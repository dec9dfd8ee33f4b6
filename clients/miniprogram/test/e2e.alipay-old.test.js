'use strict';
// End to end on an Alipay client older than 10.1.82 (my.request sends GET and POST only; asked
// for PUT or DELETE this one sends a GET, as a base library that ignores an unknown method
// would) against a real `uiserver serve`, which has no method override: putSettings,
// patchSettings and erase() reject with UnsupportedMethodError and send nothing; the user's
// settings and data on the server are untouched, and launches, settings reads and events work.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { createLayoutClient, platforms, UnsupportedMethodError } = require('../src');
const { startServer, signToken } = require('./helpers/server');
const { fakeMy } = require('./helpers/runtimes');

const CTX = { device: 'phone', width: 375, locale: 'zh-CN' };
const user = 'e2e-old-alipay-' + process.pid + '-' + Date.now();
let server;
let dataDir;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'uiserver-mp-old-alipay-'));
  server = await startServer({ dataDir });
});
afterAll(async () => {
  if (server) await server.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('an Alipay client before 10.1.82: settings changes and erasure are refused clearly, nothing reaches the server', async () => {
  const log = [];
  const data = new Map();
  const my = fakeMy(log, { loseNext: false, eventPosts: [] }, data);
  const request = my.request;
  my.request = (opts) => request(Object.assign({}, opts, {
    method: opts.method === 'GET' || opts.method === 'POST' ? opts.method : 'GET', // the old client's way
  }));
  my.getSystemInfoSync = () => ({ app: 'alipay', version: '10.1.80', platform: 'Android', windowWidth: 375 });
  const client = createLayoutClient({
    baseUrl: server.baseUrl, getToken: () => signToken(server.secret, user), platform: platforms.alipay(my),
    register: false, onAppHide: () => {},
  });
  const launched = await client.launch('home', CTX);
  expect(launched.source).toBe('network');
  const before = await client.getSettings();
  expect(client.track('home', 'search', 'click')).toBe(true);
  expect((await client.flush()).pending).toBe(0);
  log.length = 0;

  for (const change of [() => client.putSettings(Object.assign({}, before, { elderly_mode: 'on' })),
    () => client.patchSettings({ elderly_mode: 'on' }), () => client.erase()]) {
    const err = await change().then(() => null, (e) => e);
    expect(err).toBeInstanceOf(UnsupportedMethodError);
    expect(err.code).toBe('method_unsupported');
  }
  expect(log).toEqual([]); // nothing was sent, not even as a GET

  // the server still has the user as they were: settings unchanged, data not erased
  expect(await client.getSettings()).toEqual(before);
  const exported = await client.exportData();
  expect(exported.user).toBe(user);
  expect(JSON.stringify(exported.data)).toContain('search');
  expect((await client.launch('home', CTX)).source).toBe('cache'); // stored copies kept
});

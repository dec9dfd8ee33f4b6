'use strict';
// An Alipay client older than 10.1.82: its my.request sends GET and POST only (Alipay's my.request
// page: PUT and DELETE from client 10.1.82 on), and the server has no method override. Such a
// client, asked for PUT or DELETE, either fails the request or sends it as a GET; neither may
// become a settings change or an erasure the app is told happened. putSettings, patchSettings
// and erase() reject with UnsupportedMethodError, sending nothing and changing nothing stored.

const { createLayoutClient, platforms, UnsupportedMethodError } = require('../src');
const { methodsOf } = require('../src/platforms/alipay');
const { fakeClock, tokenFor } = require('./helpers/fakes');
const elderly = require('./fixtures/home-elderly.json');

const CTX = { device: 'phone', width: 375, locale: 'zh-CN' };
const CC = 'private, max-age=60, stale-while-revalidate=3600, stale-if-error=86400';
const SETTINGS = { elderly_mode: 'off', personalization: 1 };

/**
 * Alipay's `my` at client `version`; `oldMethod` says what its my.request does with a method it
 * does not have: 'get' (sent as a GET) or 'fail' (fails, error 2).
 */
function oldMy(version, oldMethod, app, methods) {
  const data = new Map();
  const wire = []; // what reached the server: "METHOD path"
  const server = (method, url) => {
    const path = url.replace('https://ui.example.com', '').split('?')[0];
    wire.push(method + ' ' + path);
    if (path.indexOf('/v1/layouts/') === 0) return { status: 200, headers: { etag: '"e"', 'cache-control': CC }, data: elderly };
    if (path === '/v1/me/settings' && method === 'GET') return { status: 200, headers: {}, data: SETTINGS };
    if (path === '/v1/me/settings') return { status: 200, headers: {}, data: { elderly_mode: 'on', personalization: 1 } };
    if (path === '/v1/me' && method === 'DELETE') return { status: 200, headers: {}, data: { erased: true } };
    if (path === '/v1/me') return { status: 405, headers: { allow: 'DELETE' }, data: { error: { code: 'method_not_allowed', message: 'GET' } } };
    if (path === '/v1/me/events') return { status: 202, headers: {}, data: { stored: 0, ignored: 0 } };
    return { status: 404, headers: {}, data: { error: { code: 'not_found', message: path } } };
  };
  const has = methods || ['GET', 'POST'];
  const api = {
    request(opts) {
      Promise.resolve().then(() => {
        let method = opts.method || 'GET';
        if (has.indexOf(method) < 0) {
          if (oldMethod === 'fail') return opts.fail({ error: 2, errorMessage: 'invalid method' });
          method = 'GET';
        }
        const res = server(method, opts.url);
        const answer = { status: res.status, headers: res.headers, data: res.data };
        return res.status >= 400 ? opts.fail(Object.assign({ error: 19 }, answer)) : opts.success(answer);
      });
    },
    getStorageSync: ({ key }) => ({ data: data.has(key) ? JSON.parse(data.get(key)) : null }),
    setStorageSync: ({ key, data: value }) => { data.set(key, JSON.stringify(value)); return { success: true }; },
    removeStorageSync: ({ key }) => { data.delete(key); return { success: true }; },
    getStorageInfoSync: () => ({ keys: [...data.keys()] }),
    getSystemInfoSync: () => ({ app: app === undefined ? 'alipay' : app, version, platform: 'iOS', windowWidth: 375 }),
  };
  return { api, wire, data };
}

function setup(version, oldMethod, config, app, methods) {
  const clock = fakeClock();
  const my = oldMy(version, oldMethod, app, methods);
  const client = createLayoutClient({
    baseUrl: 'https://ui.example.com', getToken: () => tokenFor('alice'), platform: platforms.alipay(my.api, config),
    now: clock.now, scheduler: clock.scheduler, onAppHide: () => {}, register: false, capabilities: false,
  });
  return Object.assign({ client, clock }, my);
}

describe.each(['get', 'fail'])('an Alipay client before 10.1.82 whose my.request %s-s a PUT or DELETE', (oldMethod) => {
  test('erase() rejects with UnsupportedMethodError, sends nothing and keeps what is stored', async () => {
    const { client, wire, data } = setup('10.1.80', oldMethod);
    await client.launch('home', CTX);
    const stored = [...data.keys()].sort();
    wire.length = 0;
    const err = await client.erase().then(() => null, (e) => e);
    expect(err).toBeInstanceOf(UnsupportedMethodError);
    expect(err).toMatchObject({ code: 'method_unsupported', method: 'DELETE' });
    expect(err.message).toMatch(/cannot send DELETE/);
    expect(wire).toEqual([]);
    expect([...data.keys()].sort()).toEqual(stored); // nothing cleared: the server still has the user
  });

  test.each(['putSettings', 'patchSettings'])('%s rejects with UnsupportedMethodError, never resolving with unchanged settings', async (method) => {
    const { client, wire, clock } = setup('10.1.81', oldMethod);
    await client.launch('home', CTX);
    wire.length = 0;
    const arg = method === 'putSettings' ? { elderly_mode: 'on' } : { elderly_mode: 'on' };
    const err = await client[method](arg).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(UnsupportedMethodError);
    expect(err.method).toBe('PUT');
    expect(wire).toEqual([]);
    // nothing was sent: the stored layout is still fresh (not invalidated as "maybe applied")
    await clock.advance(1000);
    expect((await client.launch('home', CTX)).source).toBe('cache');
    expect(wire).toEqual([]);
  });

  test('GET and POST still work: launch, getSettings, events', async () => {
    const { client, wire } = setup('10.1.60', oldMethod);
    expect((await client.launch('home', CTX)).source).toBe('network');
    expect(await client.getSettings()).toEqual(SETTINGS);
    client.track('home', 'search', 'click');
    await client.flush();
    expect(wire).toEqual(['GET /v1/layouts/home', 'GET /v1/me/settings', 'POST /v1/me/events']);
  });
});

test('the adapter itself refuses a method its client lacks, through fail (never sent, never sent as GET)', async () => {
  const my = oldMy('10.1.80', 'get');
  const platform = platforms.alipay(my.api);
  expect(platform.methods).toEqual(['GET', 'POST']);
  const err = await new Promise((resolve) => {
    platform.request({ url: 'https://ui.example.com/v1/me', method: 'DELETE', success: () => resolve(null), fail: resolve });
  });
  expect(err.errMsg).toMatch(/request:fail DELETE is not supported/);
  expect(my.wire).toEqual([]);
});

test('from client 10.1.82, and where the version is unknown, PUT and DELETE are sent', async () => {
  for (const version of ['10.1.82', '10.2.0', '11.0.0', undefined]) {
    const { client, wire } = setup(version, 'get', undefined, 'alipay', ['GET', 'POST', 'PUT', 'DELETE']);
    await client.putSettings({ elderly_mode: 'on' });
    await client.erase();
    expect(wire).toEqual(['PUT /v1/me/settings', 'DELETE /v1/me']);
  }
});

describe.each(['get', 'fail'])('a current Alipay client whose my.request %s-s a PATCH (its documentation lists GET, POST, PUT and DELETE)', (oldMethod) => {
  test.each(['10.1.82', '10.5.0', undefined])('patchSettings on %s goes straight to GET + PUT: never a PATCH, never unchanged settings', async (version) => {
    const { client, wire, api } = setup(version, oldMethod, undefined, 'alipay', ['GET', 'POST', 'PUT', 'DELETE']);
    const asked = [];
    const inner = api.request;
    api.request = (opts) => { asked.push(opts.method || 'GET'); return inner(opts); };
    const saved = await client.patchSettings({ elderly_mode: 'on' });
    expect(saved.elderly_mode).toBe('on'); // a PATCH sent as a GET answered 'off': the old settings
    expect(asked).not.toContain('PATCH');
    expect(wire).toEqual(['GET /v1/me/settings', 'PUT /v1/me/settings']);
  });
});

test('platforms.alipay(my) lists the documented methods for a current client: PATCH is not one', () => {
  for (const version of ['10.1.82', '10.3.0', undefined]) {
    expect(platforms.alipay(oldMy(version, 'get').api).methods).toEqual(['GET', 'POST', 'PUT', 'DELETE']);
  }
  // a host that says its my.request sends PATCH is taken at its word
  expect(platforms.alipay(oldMy('10.3.0', 'get').api, { methods: ['GET', 'PATCH'] }).methods).toEqual(['GET', 'PATCH']);
});

test('methodsOf: the Alipay client version decides; another host (mPaaS, DingTalk) or no version says nothing', () => {
  expect(methodsOf({ app: 'alipay', version: '10.1.81' })).toEqual(['GET', 'POST']);
  expect(methodsOf({ version: '10.0.99' })).toEqual(['GET', 'POST']);
  expect(methodsOf({ app: 'alipay', version: '9.9.9.1234' })).toEqual(['GET', 'POST']);
  expect(methodsOf({ app: 'alipay', version: '10.1.82' })).toBeUndefined();
  expect(methodsOf({ app: 'alipay', version: '10.3.0.8000' })).toBeUndefined();
  expect(methodsOf({ app: 'DingTalk', version: '6.0.0' })).toBeUndefined();
  expect(methodsOf({ app: 'alipay' })).toBeUndefined();
  expect(methodsOf({ app: 'alipay', version: 'banana' })).toBeUndefined();
  expect(methodsOf({})).toBeUndefined();
});

test('platforms.alipay(my, {methods}) for a host whose numbering differs: mPaaS with GET, POST and DELETE', async () => {
  const { client, wire } = setup('5.0.0', 'get', { methods: ['get', 'post', 'delete'] }, 'mPaaS', ['GET', 'POST', 'DELETE']);
  await expect(client.putSettings({ elderly_mode: 'on' })).rejects.toBeInstanceOf(UnsupportedMethodError);
  expect(await client.erase()).toEqual({ erased: true });
  expect(wire).toEqual(['DELETE /v1/me']);
});

test('an app\'s own request (no platform) sends every method', async () => {
  const sent = [];
  const client = createLayoutClient({
    baseUrl: 'https://ui.example.com', getToken: () => tokenFor('alice'), register: false, onAppHide: () => {},
    platform: platforms.alipay(oldMy('10.1.80', 'get').api),
    request: (opts) => { sent.push(opts.method); Promise.resolve().then(() => opts.success({ statusCode: 200, header: {}, data: { erased: true } })); },
    storage: { getStorageSync: () => '', setStorageSync: () => {}, removeStorageSync: () => {} },
  });
  expect(await client.erase()).toEqual({ erased: true });
  expect(sent).toEqual(['DELETE']);
});

'use strict';
// The platform adapters over each runtime's own API shapes (helpers/runtimes.js): the same
// SDK behaviour on WeChat, Alipay and Douyin; detect() picks the runtime it runs in.

const { createLayoutClient, platforms, NetworkError } = require('../src');
const { fakeWx, fakeMy } = require('./helpers/runtimes');
const { tokenFor } = require('./helpers/fakes');
const elderly = require('./fixtures/home-elderly.json');

const CTX = { device: 'phone', width: 375 };
const CC = 'private, max-age=60, stale-while-revalidate=3600, stale-if-error=86400';

/** A runtime whose HTTP is scripted: `answer(opts)` -> {statusCode, header, data} or 'fail'. */
function scripted(make, answer) {
  const data = new Map();
  const wire = { loseNext: false, eventPosts: [] };
  const api = make([], wire, data);
  const seen = [];
  // replace the Node transport under the runtime's own shapes with the script
  const inner = (opts) => {
    seen.push(opts);
    Promise.resolve().then(() => {
      const res = answer(opts);
      if (res === 'fail') opts.fail({ errMsg: 'request:fail' });
      else opts.success(Object.assign({ header: {} }, res));
    });
  };
  return { api, data, seen, inner };
}

function withTransport(name, answer) {
  const made = scripted(name === 'alipay' ? fakeMy : fakeWx, answer);
  if (name === 'alipay') {
    const original = made.api.request;
    made.api.request = (opts) => {
      // my.request's shapes around the script: `headers` in, {status, headers} out, 4xx to fail
      made.seen.push(opts);
      Promise.resolve().then(() => {
        const res = answer(Object.assign({}, opts, { header: opts.headers }));
        if (res === 'fail') return opts.fail({ error: 12, errorMessage: 'network' });
        const a = { status: res.statusCode, headers: res.header || {}, data: res.data };
        return res.statusCode >= 400 ? opts.fail(Object.assign({ error: 19 }, a)) : opts.success(a);
      });
    };
    made.original = original;
  } else {
    made.api.request = made.inner;
  }
  return made;
}

describe.each(['wechat', 'alipay', 'douyin'])('%s', (name) => {
  const client = (made) => createLayoutClient({
    baseUrl: 'https://ui.example.com', getToken: () => tokenFor('alice'),
    platform: platforms[name](made.api), register: false, onAppHide: () => {},
  });

  test('a launch stores the layout in the runtime\'s storage and the next one uses it', async () => {
    const made = withTransport(name, () => ({ statusCode: 200, header: { ETag: '"e1"', 'Cache-Control': CC }, data: elderly }));
    const c = client(made);
    expect((await c.launch('home', CTX)).source).toBe('network');
    expect([...made.data.keys()].some((k) => k.indexOf('uiserver:layout:alice|home|') === 0)).toBe(true);
    expect((await c.launch('home', CTX)).source).toBe('cache');
    expect(made.seen).toHaveLength(1);
    const header = made.seen[0].header || made.seen[0].headers;
    expect(header.Authorization).toBe('Bearer ' + tokenFor('alice'));
  });

  test('a 4xx is an answer (ApiError), a network failure a NetworkError', async () => {
    const made = withTransport(name, (opts) => (opts.url.indexOf('/settings') >= 0
      ? { statusCode: 401, data: { error: { code: 'unauthorized', message: 'token expired', field: null } } } : 'fail'));
    const c = client(made);
    await expect(c.getSettings()).rejects.toMatchObject({ name: 'ApiError', status: 401, code: 'unauthorized' });
    await expect(c.exportData()).rejects.toBeInstanceOf(NetworkError);
  });

  test('erase() finds every key through the runtime\'s key list', async () => {
    const made = withTransport(name, () => ({ statusCode: 200, data: { erased: true } }));
    made.api.setStorageSync(name === 'alipay' ? { key: 'uiserver:layout:alice|home|x', data: { layout: elderly } }
      : 'uiserver:layout:alice|home|x', { layout: elderly });
    await client(made).erase();
    expect([...made.data.keys()].filter((k) => k.indexOf('alice') >= 0)).toEqual([]);
  });
});

test('Alipay: a full storage answered as {error} (not thrown) counts as a failed write', () => {
  const made = withTransport('alipay', () => 'fail');
  made.api.setStorageSync = () => ({ error: 10, errorMessage: 'storage full' });
  const storage = platforms.alipay(made.api).storage;
  expect(() => storage.setStorageSync('k', 1)).toThrow(/setStorageSync:fail/);
  expect(storage.getStorageSync('missing')).toBe('');
});

test('detect() picks WeChat, then Alipay, then Douyin, then a web page; null elsewhere', () => {
  const request = () => {};
  const names = [];
  const set = (g) => { Object.keys(g).forEach((k) => { global[k] = g[k]; }); };
  const clear = () => { ['wx', 'my', 'tt', 'window'].forEach((k) => { delete global[k]; }); };
  try {
    expect(platforms.detect()).toBeNull();
    set({ window: { fetch: request, localStorage: {} } });
    names.push(platforms.detect().name);
    set({ tt: { request } });
    names.push(platforms.detect().name);
    set({ my: { request, getStorageSync: () => ({}) } });
    names.push(platforms.detect().name);
    set({ wx: { request } });
    names.push(platforms.detect().name);
  } finally {
    clear();
  }
  expect(names).toEqual(['web', 'douyin', 'alipay', 'wechat']);
});

test('without a runtime and without request/storage options, createLayoutClient says what is missing', () => {
  expect(() => createLayoutClient({ baseUrl: 'https://x' })).toThrow(/request is required/);
});

test.each(['alipay', 'douyin'])('%s: the runtime\'s onAppHide flushes, and its system info gives the context', async (name) => {
  const made = withTransport(name, () => ({ statusCode: 202, data: { accepted: 1, stored: 1, ignored: 0, ignored_reasons: {} } }));
  const hide = [];
  made.api.onAppHide = (fn) => hide.push(fn);
  made.api.getSystemInfoSync = () => ({ windowWidth: 414, language: 'zh_CN', fontSizeSetting: 24 });
  const c = createLayoutClient({ baseUrl: 'https://ui.example.com', getToken: () => tokenFor('alice'),
    platform: platforms[name](made.api), register: false });
  expect(c.context()).toMatchObject({ device: 'phone', width: 414, locale: 'zh-CN', font_px: 24 });
  c.track('home', 'search', 'click');
  hide.forEach((fn) => fn());
  await new Promise((r) => { setTimeout(r, 10); });
  expect(c.pendingEvents()).toEqual([]);
  made.api.getSystemInfoSync = () => { throw new Error('not here'); };
  expect(c.context()).toEqual({ device: 'phone' });
});

'use strict';
// erase() on a phone whose storage refuses to remove a stored key and to blank it, in each
// platform's own shapes: wx throws, Alipay's `my` answers {success: false, error}, tt answers
// removal as done but keeps the value (and throws on the blanking write), a web page's
// localStorage throws on removeItem (SecurityError) and setItem (QuotaExceededError). The SDK
// used to resolve {erased: true} and leave the erased user's layout readable: it now rejects
// with EraseIncompleteError naming the keys, tries every other one, and never draws the kept
// copy again, in this run or a later one (a tombstone in storage), which tries removing it again.

const { createLayoutClient, platforms, EraseIncompleteError, LayoutUnavailableError } = require('../src');
const { fakeClock, tokenFor } = require('./helpers/fakes');
const elderly = require('./fixtures/home-elderly.json');

const CTX = { device: 'phone', width: 375, locale: 'zh-CN' };
const CC = 'private, max-age=60, stale-while-revalidate=3600, stale-if-error=86400';
const PLATFORMS = ['wechat', 'alipay', 'douyin', 'web'];

/**
 * A runtime of `name` over `map` (key -> JSON text) whose storage refuses to remove or write the
 * keys in `refused` (a Set), each in the platform's own way; `net.down` makes requests fail.
 */
function runtime(name, map, refused, net) {
  const wire = [];
  const answer = (method, url) => {
    const path = url.replace('https://ui.example.com', '').split('?')[0];
    wire.push(method + ' ' + path);
    if (net.down) return 'fail';
    if (path.indexOf('/v1/layouts/') === 0) return { status: 200, headers: { ETag: '"e1"', 'Cache-Control': CC }, data: elderly };
    if (path === '/v1/me' && method === 'DELETE') return { status: 200, headers: {}, data: { erased: true } };
    if (path === '/v1/me/settings') return { status: 200, headers: {}, data: { elderly_mode: 'on', personalization: 0.5 } };
    return { status: 404, headers: {}, data: { error: { code: 'not_found', message: path } } };
  };
  const later = (fn) => { Promise.resolve().then(fn); };
  if (name === 'alipay') {
    const api = {
      request(opts) {
        later(() => {
          const res = answer(opts.method || 'GET', opts.url);
          if (res === 'fail') return opts.fail({ error: 12, errorMessage: 'network' });
          const a = { status: res.status, headers: res.headers, data: res.data };
          return res.status >= 400 ? opts.fail(Object.assign({ error: 19 }, a)) : opts.success(a);
        });
      },
      getStorageSync: ({ key }) => ({ data: map.has(key) ? JSON.parse(map.get(key)) : null }),
      setStorageSync: ({ key, data }) => {
        if (refused.has(key)) return { success: false, error: 15, errorMessage: 'refused' };
        map.set(key, JSON.stringify(data));
        return { success: true };
      },
      removeStorageSync: ({ key }) => {
        if (refused.has(key)) return { success: false, error: 15, errorMessage: 'refused' };
        map.delete(key);
        return { success: true };
      },
      getStorageInfoSync: () => ({ keys: [...map.keys()] }),
    };
    return { platform: platforms.alipay(api), wire };
  }
  if (name === 'web') {
    const win = {
      fetch(url, init) {
        const res = answer(init.method || 'GET', url);
        if (res === 'fail') return Promise.reject(new TypeError('Failed to fetch'));
        const text = res.data === undefined ? '' : JSON.stringify(res.data);
        return Promise.resolve({ status: res.status, headers: new Headers(res.headers), text: async () => text });
      },
      localStorage: {
        getItem: (k) => (map.has(k) ? map.get(k) : null),
        setItem: (k, v) => {
          if (refused.has(k)) throw new Error('QuotaExceededError');
          map.set(k, String(v));
        },
        removeItem: (k) => {
          if (refused.has(k)) throw new Error('SecurityError');
          map.delete(k);
        },
        key: (i) => [...map.keys()][i] || null,
        get length() { return map.size; },
      },
      setTimeout: () => 0,
      clearTimeout: () => {},
    };
    return { platform: platforms.web(win), wire };
  }
  const api = {
    request(opts) {
      later(() => {
        const res = answer(opts.method || 'GET', opts.url);
        if (res === 'fail') return opts.fail({ errMsg: 'request:fail' });
        return opts.success({ statusCode: res.status, header: res.headers, data: res.data });
      });
    },
    getStorageSync: (k) => (map.has(k) ? JSON.parse(map.get(k)) : ''),
    setStorageSync: (k, v) => {
      if (refused.has(k)) throw new Error('setStorageSync:fail refused');
      map.set(k, JSON.stringify(v));
    },
    removeStorageSync: (k) => {
      if (!refused.has(k)) map.delete(k);
      else if (name === 'wechat') throw new Error('removeStorageSync:fail refused');
      // tt: answered as done, the value kept
    },
    getStorageInfoSync: () => ({ keys: [...map.keys()] }),
  };
  return { platform: (name === 'wechat' ? platforms.wechat : platforms.douyin)(api), wire };
}

function setup(name) {
  const map = new Map();
  const refused = new Set();
  const net = { down: false };
  const clock = fakeClock();
  const make = () => {
    const made = runtime(name, map, refused, net);
    const client = createLayoutClient({
      baseUrl: 'https://ui.example.com', getToken: () => tokenFor('alice'), platform: made.platform,
      now: clock.now, scheduler: clock.scheduler, onAppHide: () => {}, capabilities: false,
      onError: () => {}, register: false,
    });
    return Object.assign({ client }, made);
  };
  return Object.assign({ map, refused, net, clock, make }, make());
}

const layoutKeys = (map) => [...map.keys()].filter((k) => k.indexOf('uiserver:layout:alice|') === 0);
/** What a stored value reads as: its JSON, '' (blanked) counting as nothing. */
const readable = (map, k) => map.has(k) && JSON.parse(map.get(k)) !== '';

describe.each(PLATFORMS)('%s: erase() when the storage refuses to remove and to blank a key', (name) => {
  test('rejects with EraseIncompleteError naming the key, after removing everything else', async () => {
    const s = setup(name);
    await s.client.revalidate('home', CTX);
    await s.client.revalidate('profile', CTX);
    await s.client.getSettings(); // the personalization flag is stored too
    const [home, profile] = layoutKeys(s.map).sort();
    expect(home).toMatch(/\|home\|/);
    expect(readable(s.map, 'uiserver:personalization:alice')).toBe(true);
    s.refused.add(home);
    const err = await s.client.erase().catch((e) => e);
    expect(err).toBeInstanceOf(EraseIncompleteError);
    expect(err).toMatchObject({ code: 'erase_incomplete', keys: [home], result: { erased: true } });
    expect(s.wire.filter((w) => w === 'DELETE /v1/me')).toHaveLength(1);
    // the rest was still removed
    expect(readable(s.map, profile)).toBe(false);
    expect(readable(s.map, 'uiserver:personalization:alice')).toBe(false);
    expect(readable(s.map, home)).toBe(true); // what the platform kept (the reason for the error)
    expect(s.client.storedKeys()).toEqual([]);
  });

  test('the kept copy is never drawn again: not in this run, not in a later launch', async () => {
    const s = setup(name);
    await s.client.revalidate('home', CTX);
    const [home] = layoutKeys(s.map);
    s.refused.add(home);
    await expect(s.client.erase()).rejects.toBeInstanceOf(EraseIncompleteError);
    s.net.down = true;
    await expect(s.client.launch('home', CTX)).rejects.toBeInstanceOf(LayoutUnavailableError);
    // a later launch (the app restarted) on the same storage, which still refuses
    const later = s.make();
    await expect(later.client.launch('home', CTX)).rejects.toBeInstanceOf(LayoutUnavailableError);
    expect(later.client.storedKeys()).toEqual([]);
    expect(readable(s.map, home)).toBe(true); // still refused: still tombstoned
    expect(readable(s.map, 'uiserver:erased')).toBe(true);
  });

  test('a later launch removes the kept copy once the storage takes removals again', async () => {
    const s = setup(name);
    await s.client.revalidate('home', CTX);
    const [home] = layoutKeys(s.map);
    s.refused.add(home);
    await expect(s.client.erase()).rejects.toBeInstanceOf(EraseIncompleteError);
    s.refused.clear();
    const later = s.make();
    expect(readable(s.map, home)).toBe(false);
    expect(readable(s.map, 'uiserver:erased')).toBe(false); // nothing left to remember
    // the user signs in again after the erasure: a new copy is stored and drawn as usual
    await later.client.revalidate('home', CTX);
    s.net.down = true;
    expect((await later.client.launch('home', CTX)).source).toBe('cache');
  });

  test('a stored event queue the storage keeps: erase() says so, and no later launch sends the user\'s events', async () => {
    const s = setup(name);
    expect(s.client.track('home', 'search', 'click')).toBe(true);
    s.net.down = true;
    await s.client.flush(); // fails: the queue is stored for the next start
    expect(readable(s.map, 'uiserver:events')).toBe(true);
    s.refused.add('uiserver:events');
    s.net.down = false;
    const err = await s.client.erase().catch((e) => e);
    expect(err).toBeInstanceOf(EraseIncompleteError);
    expect(err.keys).toContain('uiserver:events');
    expect(s.client.pendingEvents()).toEqual([]);
    const later = s.make(); // the app restarted, the storage still refusing
    expect(later.client.pendingEvents()).toEqual([]);
    await later.client.flush();
    expect(later.wire.filter((w) => w === 'POST /v1/me/events')).toEqual([]);
  });
});

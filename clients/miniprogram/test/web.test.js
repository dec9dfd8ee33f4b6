/**
 * @jest-environment jsdom
 */
'use strict';
// The web adapter in jsdom: the page's real localStorage (with its quota), `visibilitychange`
// for the app hiding, the window for the context; `fetch` is a script (jsdom has none).

const { createLayoutClient, platforms, NetworkError } = require('../src');
const { tokenFor } = require('./helpers/fakes');
const elderly = require('./fixtures/home-elderly.json');
const standard = require('./fixtures/home-standard.json');

const CC = 'private, max-age=60, stale-while-revalidate=3600, stale-if-error=86400';
const CTX = { device: 'phone', width: 375 };

function response(status, body, headers) {
  const h = Object.assign({ 'content-type': 'application/json' }, headers || {});
  return {
    status,
    headers: { forEach: (fn) => Object.keys(h).forEach((k) => fn(h[k], k.toLowerCase())) },
    text: async () => (body === undefined ? '' : JSON.stringify(body)),
  };
}

let calls;
beforeEach(() => {
  localStorage.clear();
  calls = [];
  window.fetch = async (url, init) => {
    calls.push({ url, init });
    if (init.method === 'DELETE') return response(200, { erased: true });
    if (init.method === 'POST') return response(202, { accepted: 1, stored: 1, ignored: 0, ignored_reasons: {} });
    return response(200, window.nextLayout || elderly, { ETag: '"e1"', 'Cache-Control': CC });
  };
});

const make = (extra) => createLayoutClient(Object.assign({
  baseUrl: 'https://ui.example.com', getToken: () => tokenFor('alice'), register: false,
}, extra));

test('detect() finds the web page; layouts go to localStorage as JSON', async () => {
  expect(platforms.detect().name).toBe('web');
  const client = make();
  const launched = await client.launch('home', CTX);
  expect(launched.layout.mode).toBe('elderly');
  expect(calls[0].init.headers.Authorization).toBe('Bearer ' + tokenFor('alice'));
  expect(calls[0].init.credentials).toBe('omit');
  const key = client.storedKeys()[0];
  expect(JSON.parse(localStorage.getItem(key)).etag).toBe('"e1"');
});

test('localStorage full (QuotaExceededError): the failed overwrite leaves nothing for erase() to miss', async () => {
  const client = make();
  window.nextLayout = standard;
  await client.revalidate('home', CTX);
  // fill the page's storage (jsdom: 5,000,000 code units) to just short of its limit
  let filler = 'x'.repeat(4000000);
  for (let n = 0; ; n++) {
    try {
      localStorage.setItem('filler' + n, filler);
    } catch (e) {
      expect(e.name).toBe('QuotaExceededError');
      if (filler.length < 1000) break;
      filler = filler.slice(0, filler.length / 2);
    }
  }
  expect(() => localStorage.setItem('probe', 'x'.repeat(4000))).toThrow(); // full: a bigger copy fails
  const big = Object.assign({}, elderly, { components: elderly.components.concat(elderly.components) });
  window.nextLayout = big;
  await client.revalidate('home', { device: 'phone', width: 375, dark: false }); // a second copy
  await client.revalidate('home', CTX);
  await client.erase();
  const left = [];
  for (let i = 0; i < localStorage.length; i++) left.push(localStorage.key(i));
  expect(left.filter((k) => k.indexOf('alice') >= 0)).toEqual([]);
  window.nextLayout = undefined;
});

test('the page turning hidden flushes the events', async () => {
  const client = make();
  await Promise.resolve();
  client.track('home', 'search', 'click');
  Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
  document.dispatchEvent(new Event('visibilitychange'));
  await new Promise((r) => { setTimeout(r, 20); });
  expect(calls.filter((c) => c.init.method === 'POST')).toHaveLength(1);
  expect(client.pendingEvents()).toEqual([]);
  delete document.visibilityState;
});

test('a fetch that does not answer within timeoutMs is a network failure; a rejected one too', async () => {
  window.fetch = () => new Promise(() => {});
  const client = make({ timeoutMs: 30 });
  await expect(client.exportData()).rejects.toBeInstanceOf(NetworkError);
  window.fetch = async () => { throw new TypeError('Failed to fetch'); };
  await expect(client.exportData()).rejects.toThrow(/Failed to fetch/);
});

test('the context comes from the window: width, language, dark scheme, a larger root font', () => {
  window.matchMedia = (q) => ({ matches: q === '(prefers-color-scheme: dark)' });
  document.documentElement.style.fontSize = '24px';
  Object.defineProperty(window, 'innerWidth', { value: 390, configurable: true });
  const client = make();
  const ctx = client.context();
  expect(ctx).toMatchObject({ width: 390, dark: true, font_px: 24 });
  expect(ctx.locale).toBe(navigator.language);
  delete window.matchMedia;
  document.documentElement.style.fontSize = '';
});

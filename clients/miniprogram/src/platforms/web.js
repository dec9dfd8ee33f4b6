'use strict';
/**
 * A web page (H5, or a WebView inside an app): `fetch` for requests (a timeout aborts it; any
 * HTTP status is an answer, a rejected fetch a network failure), `localStorage` holding JSON
 * (a full storage throws QuotaExceededError, which the store handles as wx's failure; a value
 * that is not JSON reads as its text, which the store repairs),
 * `visibilitychange` to hidden for the app hiding, and the window for the context: width,
 * `prefers-color-scheme`, the root font size (a user's larger default font) and
 * `navigator.language`.
 */

/** @typedef {import('../../index').Platform} Platform */
/**
 * @typedef {{status: number, headers: unknown, text(): Promise<string>}} FetchResponse a fetch
 *   Response: `headers` a Headers (forEach), or a polyfill's without forEach (entries())
 */
/**
 * @typedef {{getItem(key: string): string | null, setItem(key: string, value: string): void,
 *   removeItem(key: string): void, key(index: number): string | null, length: number}} WebStorage
 */
/**
 * The part of `window` the SDK uses.
 * @typedef {object} WebWindow
 * @property {(url: string, init: {method?: string, headers?: Record<string, string>, body?: string,
 *   signal?: unknown, credentials?: string}) => Promise<FetchResponse>} fetch
 * @property {WebStorage} localStorage
 * @property {{visibilityState?: string, documentElement?: unknown,
 *   addEventListener(type: string, fn: () => void): void}} [document]
 * @property {{language?: string, userAgent?: string}} [navigator]
 * @property {number} [innerWidth]
 * @property {(query: string) => {matches: boolean}} [matchMedia]
 * @property {(element: unknown) => {fontSize?: string}} [getComputedStyle]
 * @property {new () => {signal: unknown, abort(): void}} [AbortController]
 * @property {(fn: () => void, ms: number) => unknown} setTimeout
 * @property {(id: unknown) => void} clearTimeout
 */

/**
 * @param {WebWindow} win
 * @returns {Platform}
 */
function web(win) {
  /** @type {import('../../index').SyncStorage} */
  const storage = {
    getStorageSync(key) {
      const text = win.localStorage.getItem(key);
      if (text === null) return '';
      try {
        return JSON.parse(text);
      } catch (e) {
        // damaged (cut short) or another script's: handed over as the text it is, a value the
        // store does not take and repairs; a throw would be a read that failed, which the store
        // never writes over, so the damage would stay for good
        return text;
      }
    },
    setStorageSync(key, value) {
      win.localStorage.setItem(key, JSON.stringify(value));
    },
    removeStorageSync(key) {
      win.localStorage.removeItem(key);
    },
    getStorageInfoSync() {
      const keys = [];
      for (let i = 0; i < win.localStorage.length; i++) {
        const key = win.localStorage.key(i);
        if (key !== null) keys.push(key);
      }
      return { keys };
    },
  };

  return {
    name: 'web',
    request(options) {
      // what the core reads of an answer (http.js), not every field the wx typings list
      const success = /** @type {(res: object) => void} */ (options.success || (() => {}));
      const failed = /** @type {(err: object) => void} */ (options.fail || (() => {}));
      let settled = false;
      const Abort = win.AbortController;
      const controller = typeof Abort === 'function' ? new Abort() : null;
      /** @param {string} why */
      const fail = (why) => {
        if (settled) return;
        settled = true;
        failed({ errMsg: 'request:fail ' + why });
      };
      const timer = options.timeout ? win.setTimeout(() => {
        if (controller) controller.abort();
        fail('timeout');
      }, options.timeout) : null;
      const done = () => { if (timer !== null) win.clearTimeout(timer); };
      win.fetch(options.url, {
        method: options.method || 'GET',
        headers: /** @type {Record<string, string>} */ (options.header || {}),
        body: typeof options.data === 'string' ? options.data : undefined,
        signal: controller ? controller.signal : undefined,
        credentials: 'omit', // the user is the bearer token, never a cookie
      }).then((res) => res.text().then((text) => {
        done();
        if (settled) return;
        settled = true;
        // the Headers as they are: the core reads them (forEach, or a polyfill's entries())
        success({ statusCode: res.status, header: res.headers, data: text });
      })).catch((/** @type {{message?: string} | null} */ err) => {
        done();
        fail((err && err.message) || 'network');
      });
    },
    storage,
    onAppHide(fn) {
      const doc = win.document;
      if (!doc) return;
      doc.addEventListener('visibilitychange', () => { if (doc.visibilityState === 'hidden') fn(); });
    },
    systemInfo: () => systemInfo(win),
  };
}

/**
 * wx's system-info fields from the window.
 * @param {WebWindow} win
 * @returns {Record<string, unknown>}
 */
function systemInfo(win) {
  /** @type {Record<string, unknown>} */
  const info = {};
  if (win.innerWidth) info.windowWidth = win.innerWidth;
  const ua = (win.navigator && win.navigator.userAgent) || '';
  if (/iPad/.test(ua)) info.deviceType = 'pad';
  else if (!/Mobi|Android|iPhone/.test(ua)) {
    info.platform = /Windows/.test(ua) ? 'windows' : /Macintosh/.test(ua) ? 'mac' : /Linux/.test(ua) ? 'linux' : '';
  }
  try {
    if (typeof win.matchMedia === 'function') {
      info.theme = win.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
    }
    if (typeof win.getComputedStyle === 'function' && win.document && win.document.documentElement) {
      const root = parseFloat(win.getComputedStyle(win.document.documentElement).fontSize || '');
      if (root > 0 && root !== 16) info.fontSizeSetting = root; // the browser's default is 16 px
    }
  } catch (e) {
    // a window without them: the context says less
  }
  if (win.navigator && win.navigator.language) info.language = win.navigator.language;
  return info;
}

module.exports = { web };

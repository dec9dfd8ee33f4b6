'use strict';
/**
 * Alipay (`my`): `my.request` takes `headers` (not `header`) and answers `{status, headers,
 * data}`; an HTTP error status (4xx/5xx) comes to `fail` with `{error: 19, status, headers,
 * data}` on many base libraries, so a `fail` that carries a status is an answer, not a network
 * failure. Storage takes and returns objects: `my.getStorageSync({key})` -> `{data}`,
 * `my.setStorageSync({key, data})`, `my.removeStorageSync({key})`; `my.getStorageInfoSync()`
 * lists the keys. A storage call that fails answers `{error, errorMessage}` (or `{success:
 * false}`) instead of throwing: the adapter throws for it, as wx does, reads included.
 *
 * `my.request` sends PUT and DELETE from Alipay client 10.1.82 on (Alipay's my.request
 * documentation); an older client sends GET and POST only. The adapter lists the methods its
 * request can send (`methods`): GET and POST when `my.getSystemInfoSync()` names the Alipay app
 * (`app` 'alipay' or none) at a version before 10.1.82, otherwise (the client's version unknown
 * too) the documented GET, POST, PUT and DELETE, never PATCH: patchSettings goes straight to its
 * GET + PUT; `platforms.alipay(my, {methods})` says it
 * for a host whose numbering differs (mPaaS, DingTalk). The core then refuses the rest
 * (UnsupportedMethodError) before sending anything, and so does the adapter's own request.
 */

const { appHide, systemInfoOf } = require('./runtime-parts');

/** @typedef {import('../../index').Platform} Platform */
/**
 * @typedef {{status?: number, statusCode?: number, headers?: Record<string, string>,
 *   header?: Record<string, string>, data?: unknown, error?: number, errorMessage?: string}} MyAnswer
 */
/**
 * The part of `my` the SDK uses.
 * @typedef {object} MyApi
 * @property {(options: {url: string, method?: string, headers?: Record<string, string>,
 *   data?: unknown, timeout?: number, dataType?: string, success?: (res: MyAnswer) => void,
 *   fail?: (err: MyAnswer) => void}) => unknown} request
 * @property {(options: {key: string}) => {data?: unknown} | null | undefined} getStorageSync
 * @property {(options: {key: string, data: unknown}) => unknown} setStorageSync
 * @property {(options: {key: string}) => unknown} removeStorageSync
 * @property {() => {keys?: string[]}} [getStorageInfoSync]
 * @property {(fn: () => void) => void} [onAppHide]
 * @property {() => Record<string, unknown>} [getSystemInfoSync]
 * @property {(options: object) => import('../alipay/ui-layout/index').AlipayObserver} [createIntersectionObserver]
 *   the Alipay <ui-layout>'s impressions (base library 1.11.0+)
 */

/**
 * @param {MyAnswer} res
 * @returns {{statusCode: number, header: Record<string, string>, data: any, cookies: string[], errMsg: string}}
 */
function answer(res) {
  return {
    // as given: the core reads a status given as text, and takes none for a network failure
    statusCode: /** @type {number} */ (res.status || res.statusCode),
    header: res.headers || res.header || {},
    data: res.data,
    cookies: [],
    errMsg: 'request:ok',
  };
}

/**
 * The methods Alipay's my.request documentation lists (no PATCH: a client asked for one may fail
 * it or send it as another method, a GET whose unchanged settings would pass for the patch's).
 */
const DOCUMENTED = ['GET', 'POST', 'PUT', 'DELETE'];

/** The first Alipay client whose my.request sends PUT and DELETE (Alipay's my.request page). */
const PUT_DELETE_SINCE = [10, 1, 82];

/**
 * GET and POST on an Alipay client before 10.1.82, else undefined (not known to be an old
 * client: the adapter then takes the documented GET, POST, PUT and DELETE).
 * @param {Record<string, unknown>} info my.getSystemInfoSync()
 * @returns {string[] | undefined}
 */
function methodsOf(info) {
  const app = typeof info.app === 'string' ? info.app : '';
  if (app && !/^alipay$/i.test(app)) return undefined; // another host's numbering: unknown
  const version = typeof info.version === 'string' ? info.version.match(/^(\d+)\.(\d+)\.(\d+)/) : null;
  if (!version) return undefined;
  const parts = version.slice(1, 4).map((x) => parseInt(x, 10));
  for (let i = 0; i < 3; i++) {
    if (parts[i] !== PUT_DELETE_SINCE[i]) return parts[i] < PUT_DELETE_SINCE[i] ? ['GET', 'POST'] : undefined;
  }
  return undefined;
}

/**
 * @param {MyApi} api `my`
 * @param {{methods?: string[]}} [config] `methods`: what this host's my.request sends (default:
 *   from the Alipay client's version)
 * @returns {Platform}
 */
function alipay(api, config) {
  const systemInfo = systemInfoOf(api);
  const given = config && Array.isArray(config.methods) ? config.methods.map((m) => String(m).toUpperCase()) : null;
  const methods = given || methodsOf(systemInfo()) || DOCUMENTED.slice();
  /** @type {import('../../index').SyncStorage} */
  const storage = {
    getStorageSync(key) {
      const res = /** @type {{data?: unknown, success?: boolean, error?: number} | null | undefined} */ (
        api.getStorageSync({ key }));
      // a read that failed answers {error} rather than throwing: throw, as wx does, so the store
      // knows the value could not be read (never "nothing stored", which it would write over)
      if (res && (res.success === false || res.error)) throw new Error('getStorageSync:fail ' + res.error);
      return res && res.data !== undefined && res.data !== null ? res.data : '';
    },
    setStorageSync(key, data) {
      const res = /** @type {{success?: boolean, error?: number} | undefined} */ (api.setStorageSync({ key, data }));
      // a full storage answers {error} rather than throwing: throw, as wx does
      if (res && (res.success === false || res.error)) throw new Error('setStorageSync:fail ' + res.error);
    },
    removeStorageSync(key) {
      const res = /** @type {{success?: boolean, error?: number} | undefined} */ (api.removeStorageSync({ key }));
      // a removal that failed answers {error} too: throw, so the store blanks the value
      if (res && (res.success === false || res.error)) throw new Error('removeStorageSync:fail ' + res.error);
    },
    getStorageInfoSync() {
      const info = typeof api.getStorageInfoSync === 'function' ? api.getStorageInfoSync() : null;
      return { keys: (info && info.keys) || [] };
    },
  };
  return {
    name: 'alipay',
    methods,
    request(options) {
      // what the core reads of an answer (http.js), not every field the wx typings list
      const success = /** @type {(res: object) => void} */ (options.success || (() => {}));
      const failed = /** @type {(err: object) => void} */ (options.fail || (() => {}));
      const method = String(options.method || 'GET').toUpperCase();
      if (methods && methods.indexOf(method) < 0) {
        // never handed to a my.request that would fail it, or send it as another method
        failed({ errMsg: 'request:fail ' + method + ' is not supported by this Alipay client\'s my.request' });
        return;
      }
      api.request({
        url: options.url,
        method: options.method,
        headers: /** @type {Record<string, string>} */ (options.header || {}),
        data: options.data,
        timeout: options.timeout,
        // the body as text, decoded by the core (http.js): with 'json' a client fails an empty
        // body (a 304) or a gateway's HTML page as a decoding error (14), its status lost
        dataType: 'text',
        success: (res) => success(answer(res)),
        fail: (err) => {
          // an HTTP error comes with its status (a number, or its text on some clients)
          if (err && /^\d{3}$/.test(String(err.status || err.statusCode || '').trim())) success(answer(err));
          else failed({ errMsg: 'request:fail ' + ((err && err.errorMessage) || (err && err.error) || '') });
        },
      });
    },
    storage,
    onAppHide: appHide(api),
    systemInfo,
  };
}

module.exports = { alipay, methodsOf };

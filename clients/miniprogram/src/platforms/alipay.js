'use strict';
/**
 * Alipay (`my`): `my.request` takes `headers` (not `header`) and answers `{status, headers,
 * data}`; an HTTP error status (4xx/5xx) comes to `fail` with `{error: 19, status, headers,
 * data}` on many base libraries, so a `fail` that carries a status is an answer, not a network
 * failure. Storage takes and returns objects: `my.getStorageSync({key})` -> `{data}`,
 * `my.setStorageSync({key, data})`, `my.removeStorageSync({key})`; `my.getStorageInfoSync()`
 * lists the keys. A storage call that fails answers `{error, errorMessage}` (or `{success:
 * false}`) instead of throwing: the adapter throws for it, as wx does, reads included.
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
    statusCode: /** @type {number} */ (res.status || res.statusCode),
    header: res.headers || res.header || {},
    data: res.data,
    cookies: [],
    errMsg: 'request:ok',
  };
}

/**
 * @param {MyApi} api `my`
 * @returns {Platform}
 */
function alipay(api) {
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
    request(options) {
      // what the core reads of an answer (http.js), not every field the wx typings list
      const success = /** @type {(res: object) => void} */ (options.success || (() => {}));
      const failed = /** @type {(err: object) => void} */ (options.fail || (() => {}));
      api.request({
        url: options.url,
        method: options.method,
        headers: /** @type {Record<string, string>} */ (options.header || {}),
        data: options.data,
        timeout: options.timeout,
        dataType: 'json',
        success: (res) => success(answer(res)),
        fail: (err) => {
          if (err && typeof (err.status || err.statusCode) === 'number') success(answer(err));
          else failed({ errMsg: 'request:fail ' + ((err && err.errorMessage) || (err && err.error) || '') });
        },
      });
    },
    storage,
    onAppHide: appHide(api),
    systemInfo: systemInfoOf(api),
  };
}

module.exports = { alipay };

'use strict';
/**
 * Douyin (ByteDance `tt`): `tt.request` takes wx.request's options and answers `{statusCode,
 * header, data}`; storage is `tt.getStorageSync(key)` / `setStorageSync(key, data)` /
 * `removeStorageSync(key)` / `getStorageInfoSync()`, as on WeChat.
 */

/** @typedef {import('../../index').Platform} Platform */
/**
 * The part of `tt` the SDK uses.
 * @typedef {import('../../index').SyncStorage & {
 *   request: import('../../index').RequestFn,
 *   onAppHide?: (fn: () => void) => void,
 *   getSystemInfoSync?: () => Record<string, unknown>,
 * }} TtApi
 */

/**
 * @param {TtApi} api `tt`
 * @returns {Platform}
 */
function douyin(api) {
  return {
    name: 'douyin',
    request: (options) => api.request(options),
    storage: api,
    onAppHide: typeof api.onAppHide === 'function' ? (fn) => { /** @type {any} */ (api).onAppHide(fn); } : undefined,
    systemInfo: () => {
      try {
        return typeof api.getSystemInfoSync === 'function' ? api.getSystemInfoSync() : {};
      } catch (e) {
        return {};
      }
    },
  };
}

module.exports = { douyin };

'use strict';
/**
 * Douyin (ByteDance `tt`): `tt.request` takes wx.request's options and answers `{statusCode,
 * header, data}`; storage is `tt.getStorageSync(key)` / `setStorageSync(key, data)` /
 * `removeStorageSync(key)` / `getStorageInfoSync()`, as on WeChat.
 */

const { appHide, systemInfoOf } = require('./runtime-parts');

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
    onAppHide: appHide(api),
    systemInfo: systemInfoOf(api),
  };
}

module.exports = { douyin };

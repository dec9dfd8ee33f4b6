'use strict';
/** What the mini-program runtimes other than WeChat's share: the app-hide hook and system info. */

/**
 * @typedef {{onAppHide?: (fn: () => void) => void, getSystemInfoSync?: () => Record<string, unknown>}} RuntimeApi
 */

/**
 * The runtime's onAppHide, if it has one.
 * @param {RuntimeApi} api
 * @returns {((fn: () => void) => void) | undefined}
 */
function appHide(api) {
  const hook = api.onAppHide;
  return typeof hook === 'function' ? (fn) => { hook.call(api, fn); } : undefined;
}

/**
 * The runtime's getSystemInfoSync, {} when it has none or it throws.
 * @param {RuntimeApi} api
 * @returns {() => Record<string, unknown>}
 */
function systemInfoOf(api) {
  return () => {
    try {
      return typeof api.getSystemInfoSync === 'function' ? api.getSystemInfoSync() : {};
    } catch (e) {
      return {};
    }
  };
}

module.exports = { appHide, systemInfoOf };

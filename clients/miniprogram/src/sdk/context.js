'use strict';
/**
 * The launch context the server adapts to (DESIGN section 2: keep it small, every field
 * multiplies cache keys): device class, window width in px, dark mode, the system font size
 * (WeChat `fontSizeSetting`: care mode reports ~24 px, which counts towards elderly mode) and
 * the locale. Read from the runtime's system info; tests inject `systemInfo`.
 */

/** @typedef {import('../../index').LayoutContext} LayoutContext */
/**
 * What the runtime says about itself (`deviceType`, "pad" on iPads and Android tablets, is
 * reported by getDeviceInfo but not in the typings).
 * @typedef {Partial<WechatMiniprogram.SystemInfo> & {deviceType?: string}} SystemInfo
 */

const ORDER = ['device', 'width', 'dark', 'low_power', 'font_px', 'locale', 'daypart', 'weather'];

/**
 * @param {WechatMiniprogram.Wx} [api] `wx` (default the runtime's)
 * @returns {SystemInfo}
 */
function defaultSystemInfo(api) {
  const runtime = api || globalWx();
  if (!runtime) return {};
  // base library >= 2.20.1 splits getSystemInfoSync (now deprecated) into these three
  if (typeof runtime.getWindowInfo === 'function' && typeof runtime.getAppBaseInfo === 'function') {
    /** @type {SystemInfo} */
    const info = {};
    /** @type {Array<(() => object) | undefined>} */
    const readers = [runtime.getWindowInfo, runtime.getAppBaseInfo, runtime.getDeviceInfo];
    readers.forEach((fn) => {
      if (typeof fn !== 'function') return;
      try { Object.assign(info, fn.call(runtime)); } catch (e) { /* not in this runtime */ }
    });
    return info;
  }
  try {
    return runtime.getSystemInfoSync();
  } catch (e) {
    return {};
  }
}

/**
 * @param {SystemInfo} info
 * @returns {NonNullable<LayoutContext['device']>}
 */
function deviceClass(info) {
  const platform = String(info.platform || '').toLowerCase();
  if (platform === 'windows' || platform === 'mac' || platform === 'linux') return 'desktop';
  const model = String(info.model || '').toLowerCase();
  const deviceType = String(info.deviceType || '').toLowerCase();
  const width = info.windowWidth || info.screenWidth || 0;
  if (deviceType === 'pad' || model.indexOf('ipad') >= 0 || width >= 600) return 'tablet';
  return 'phone';
}

/** @param {string | null | undefined} language */
function normalizeLocale(language) {
  if (!language) return undefined;
  // WeChat reports "zh_CN", "en", "zh_HK"; the server expects BCP 47 ("zh-CN")
  return String(language).replace(/_/g, '-').slice(0, 35);
}

/**
 * The context object from a system-info object (wx.getSystemInfoSync's shape).
 * @param {SystemInfo | null | undefined} info
 * @returns {LayoutContext}
 */
function contextFromSystemInfo(info) {
  /** @type {LayoutContext} */
  const ctx = { device: deviceClass(info || {}) };
  const width = info && (info.windowWidth || info.screenWidth);
  if (width) ctx.width = Math.round(width);
  if (info && info.theme) ctx.dark = info.theme === 'dark';
  if (info && typeof info.fontSizeSetting === 'number' && info.fontSizeSetting > 0) {
    ctx.font_px = info.fontSizeSetting;
  }
  const locale = normalizeLocale(info && info.language);
  if (locale) ctx.locale = locale;
  return ctx;
}

/**
 * A canonical query string for a context: fixed field order, so one context is one cache key.
 * @param {LayoutContext} ctx
 */
function contextQuery(ctx) {
  // fields beyond the contract's pass through too, sorted after them
  const fields = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (ctx));
  /** @type {string[]} */
  const parts = [];
  /** @type {Record<string, boolean>} */
  const seen = {};
  /** @param {string} key */
  const add = (key) => {
    seen[key] = true;
    const value = fields[key];
    if (value === undefined || value === null || value === '') return;
    const text = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
    parts.push(encodeURIComponent(key) + '=' + encodeURIComponent(text));
  };
  ORDER.forEach(add);
  Object.keys(fields).sort().forEach((key) => { if (!seen[key]) add(key); });
  return parts.join('&');
}

/** @returns {WechatMiniprogram.Wx | undefined} the runtime's `wx`, if there is one */
function globalWx() {
  return typeof wx === 'undefined' ? undefined : wx;
}

module.exports = { contextFromSystemInfo, contextQuery, defaultSystemInfo, deviceClass };

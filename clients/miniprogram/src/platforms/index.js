'use strict';
/**
 * The runtimes the SDK runs on, each an adapter over its own API to the four parts the core
 * takes (core modules never name a runtime): `request` with wx.request's signature, `storage`
 * with wx's sync storage signature (plus `getStorageInfoSync` for erasure), `onAppHide` and
 * `systemInfo`. `detect()` picks the runtime it finds: WeChat (`wx`), Alipay (`my`), Douyin
 * (`tt`), else a web page (`window` with `fetch` and `localStorage`).
 */

const { wechat } = require('./wechat');
const { alipay } = require('./alipay');
const { douyin } = require('./douyin');
const { web } = require('./web');

/** @typedef {import('../../index').Platform} Platform */

/** @returns {Platform | null} the runtime this code runs in, or null outside any */
function detect() {
  if (typeof wx !== 'undefined' && wx && typeof wx.request === 'function') return wechat(wx);
  if (typeof my !== 'undefined' && my && typeof my.request === 'function') return alipay(my);
  if (typeof tt !== 'undefined' && tt && typeof tt.request === 'function') return douyin(tt);
  if (typeof window !== 'undefined' && window && typeof window.fetch === 'function') return web(window);
  return null;
}

module.exports = { detect, wechat, alipay, douyin, web };

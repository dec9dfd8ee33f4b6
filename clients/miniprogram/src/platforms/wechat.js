'use strict';
/** WeChat: `wx` already has the signatures the core takes. */

const { defaultSystemInfo } = require('../sdk/context');

/** @typedef {import('../../index').Platform} Platform */

/**
 * @param {WechatMiniprogram.Wx} api `wx`
 * @returns {Platform}
 */
function wechat(api) {
  return {
    name: 'wechat',
    request: api.request.bind(api),
    storage: api,
    onAppHide: typeof api.onAppHide === 'function' ? api.onAppHide.bind(api) : undefined,
    systemInfo: () => defaultSystemInfo(api),
  };
}

module.exports = { wechat };

const { createLayoutClient } = require('uiserver-miniprogram');
const config = require('./config');
const home = require('./defaults/home');

App({
  globalData: { client: null },
  onLaunch() {
    this.globalData.client = createLayoutClient({
      baseUrl: config.baseUrl,
      getToken: () => config.token || wx.getStorageSync('demo-token') || '',
      defaults: { home },
      onError: (err) => console.warn('[uiserver]', err.message),
    });
  },
});

// Where the example finds uiserver, and who it is. For a local server, turn off domain checks
// in DevTools (Details > Local settings > "Do not verify valid domain names") and paste a token
// from `uiserver token alice` (a real app gets one from its own backend after wx.login).
module.exports = {
  baseUrl: 'http://127.0.0.1:8000',
  token: '',
};

'use strict';
// The example app: complete files for WeChat DevTools, and its home page's logic run against
// the SDK (wx.request and storage replaced by the test doubles).

const fs = require('fs');
const path = require('path');
const acorn = require('acorn');
const { fakeStorage, fakeRequest, settle, tokenFor } = require('./helpers/fakes');

const EXAMPLE = path.join(__dirname, '..', 'example');
const SRC = path.join(__dirname, '..', 'src');

jest.mock('uiserver-miniprogram', () => require('../src'), { virtual: true });

test('app.json, project.config.json and every page\'s four files are there', () => {
  const app = JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'app.json'), 'utf8'));
  const project = JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'project.config.json'), 'utf8'));
  expect(project.compileType).toBe('miniprogram');
  expect(app.pages).toContain('pages/home/index');
  for (const page of app.pages) {
    for (const ext of ['js', 'json', 'wxml', 'wxss']) {
      expect(fs.existsSync(path.join(EXAMPLE, `${page}.${ext}`))).toBe(true);
    }
    const json = JSON.parse(fs.readFileSync(path.join(EXAMPLE, `${page}.json`), 'utf8'));
    for (const target of Object.values(json.usingComponents || {})) {
      const file = target.startsWith('uiserver-miniprogram/')
        ? path.join(SRC, target.slice('uiserver-miniprogram/'.length))
        : path.join(EXAMPLE, path.dirname(page), target);
      expect(fs.existsSync(file + '.json')).toBe(true);
    }
  }
});

test('the example\'s scripts are ES2017', () => {
  const files = ['app.js', 'config.js', 'defaults/home.js', 'pages/home/index.js', 'components/big-search/index.js'];
  for (const f of files) {
    expect(() => acorn.parse(fs.readFileSync(path.join(EXAMPLE, f), 'utf8'), { ecmaVersion: 2017 })).not.toThrow();
  }
});

test('the bundled default is a schema-1 home layout', () => {
  const home = require('../example/defaults/home');
  expect(home.schema).toBe(1);
  expect(home.page).toBe('home');
  expect(home.components.length).toBeGreaterThan(10);
});

test('the home page shows the bundled default, then applies the server\'s layout', async () => {
  const elderly = require('./fixtures/home-elderly.json');
  const storage = fakeStorage();
  const request = fakeRequest(() => ({
    statusCode: 200, header: { ETag: '"e"', 'Cache-Control': 'private, max-age=60' }, data: elderly,
  }));
  const toasts = [];
  global.wx = Object.assign(storage, {
    request,
    onAppHide: () => {},
    getSystemInfoSync: () => ({ windowWidth: 375, fontSizeSetting: 24, language: 'zh_CN', platform: 'ios' }),
    showToast: (o) => toasts.push(o.title),
    stopPullDownRefresh: () => {},
  });
  storage.setStorageSync('demo-token', tokenFor('grandma'));
  let appDef;
  let pageDef;
  global.App = (def) => { appDef = def; };
  global.Page = (def) => { pageDef = def; };
  global.getApp = () => appDef;
  jest.isolateModules(() => {
    require('../example/app');
    appDef.onLaunch();
    require('../example/pages/home/index');
  });
  const page = Object.assign({}, pageDef, { data: Object.assign({}, pageDef.data) });
  const shown = [];
  page.setData = function setData(d) { Object.assign(this.data, d); shown.push(d.source); };
  await page.onLoad();
  expect(shown[0]).toBe('default');
  await settle();
  expect(page.data.layout.mode).toBe('elderly');
  expect(shown).toEqual(['default', 'network']);
  expect(request.requests[0].url).toBe('http://127.0.0.1:8000/v1/layouts/home?device=phone&width=375&font_px=24&locale=zh-CN');
  expect(request.requests[0].header.Authorization).toBe('Bearer ' + tokenFor('grandma'));
  page.onAction({ detail: { id: 'tab_bar', props: { page: 'cart' } } });
  expect(toasts).toEqual(['cart']);
  page.onUnload();
  delete global.wx;
  delete global.App;
  delete global.Page;
  delete global.getApp;
});

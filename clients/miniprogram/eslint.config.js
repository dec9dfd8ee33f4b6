'use strict';
// ESLint (flat config). What each folder runs on decides its globals and syntax:
// - src/ and example/ run in the mini-program runtime: ES2017 syntax (the README's promise; a
//   parse error beyond it), the runtime's globals (wx, Component, Page, App, getApp...) and no
//   Node built-ins (no process, Buffer, __dirname);
// - test/ runs under jest in Node (and jsdom for the renderer); test/components/ are
//   mini-program components the tests load;
// - scripts/ and this file run in Node.
const js = require('@eslint/js');
const globals = require('globals');

/**
 * The globals of the runtimes this package and its example run in: WeChat's, and the runtime
 * objects platforms/index.js looks for (Alipay `my`, Douyin `tt`, a web page's `window`).
 */
const miniprogram = {
  wx: 'readonly',
  my: 'readonly',
  tt: 'readonly',
  window: 'readonly',
  App: 'readonly',
  Page: 'readonly',
  Component: 'readonly',
  Behavior: 'readonly',
  getApp: 'readonly',
  getCurrentPages: 'readonly',
  console: 'readonly',
  setTimeout: 'readonly',
  clearTimeout: 'readonly',
  setInterval: 'readonly',
  clearInterval: 'readonly',
};

const rules = {
  // ES2017 has no optional catch binding (`catch {}`), so an unused `catch (e)` is the idiom
  'no-unused-vars': ['error', { caughtErrors: 'none' }],
  'no-var': 'error',
  'prefer-const': 'error',
  eqeqeq: ['error', 'always'],
  'no-shadow': ['error', { builtinGlobals: false, hoist: 'functions' }],
  'no-implicit-coercion': ['error', { boolean: false }],
  'no-throw-literal': 'error',
  'no-return-await': 'error',
  'prefer-promise-reject-errors': 'error',
  'no-promise-executor-return': 'error',
  'no-unreachable-loop': 'error',
  'no-constant-binary-expression': 'error',
  'no-use-before-define': ['error', { functions: false, classes: true, variables: true }],
  'no-useless-concat': 'error',
  'no-console': 'off',
  strict: ['error', 'global'],
};

module.exports = [
  {
    ignores: ['node_modules/', 'example/miniprogram_npm/', 'example/node_modules/', 'coverage/'],
  },
  js.configs.recommended,
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', ecmaVersion: 2022, globals: {} },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules,
  },
  {
    files: ['src/**/*.js'],
    languageOptions: { ecmaVersion: 2017, globals: miniprogram },
  },
  {
    // the example is an app's code, as WeChat DevTools compiles it (no 'use strict' needed)
    files: ['example/**/*.js'],
    languageOptions: { ecmaVersion: 2017, globals: miniprogram },
    rules: { strict: 'off' },
  },
  {
    files: ['test/**/*.js'],
    languageOptions: { globals: { ...globals.node, ...globals.jest } },
  },
  {
    // the renderer's tests run in jsdom (`@jest-environment jsdom`)
    files: ['test/renderer.test.js', 'test/cases.test.js', 'test/example.test.js', 'test/helpers/render.js',
      'test/web.test.js', 'test/web-renderer.test.js', 'test/web-measure.test.js'],
    languageOptions: { globals: { ...globals.node, ...globals.jest, ...globals.browser } },
  },
  {
    files: ['test/components/**/*.js'],
    languageOptions: { ecmaVersion: 2017, globals: miniprogram },
    rules: { strict: 'off' },
  },
  {
    files: ['scripts/**/*.js', 'eslint.config.js'],
    languageOptions: { globals: globals.node },
  },
];

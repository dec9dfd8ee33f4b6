// The runtimes' globals platforms/index.js looks for (WeChat's `wx` is typed by
// miniprogram-api-typings); each adapter types the part of its API it uses.
declare const my: import('./alipay').MyApi | undefined;
declare const tt: import('./douyin').TtApi | undefined;
declare const window: import('./web').WebWindow | undefined;

'use strict';
// End to end on WeChat's `wx` against a real `uiserver serve` (the suite: helpers/e2e-suite.js).
require('./helpers/e2e-suite')(require('./helpers/runtimes').runtime('wechat'));

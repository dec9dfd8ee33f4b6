'use strict';
// End to end on the web adapter against a real `uiserver serve` (the suite: helpers/e2e-suite.js).
require('./helpers/e2e-suite')(require('./helpers/runtimes').runtime('web'));

#!/usr/bin/env node
'use strict';
// Put the package where WeChat DevTools' "Build npm" would (example/miniprogram_npm/), so the
// example opens without an npm install: copies src/ (the package's `miniprogram` folder).
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const dest = path.join(root, 'example', 'miniprogram_npm', 'uiserver-miniprogram');
fs.rmSync(dest, { recursive: true, force: true });
fs.cpSync(path.join(root, 'src'), dest, { recursive: true });
console.log('copied src/ to', path.relative(process.cwd(), dest));

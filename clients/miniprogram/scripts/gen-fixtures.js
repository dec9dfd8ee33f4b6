#!/usr/bin/env node
'use strict';
// Regenerate the layouts the tests and the example bundle, from a real `uiserver serve` and the
// repository's layouts/: test/fixtures/home-standard.json (anonymous), home-elderly.json (a user
// in elderly mode) and example/defaults/home.js (the example app's bundled default).
const fs = require('fs');
const path = require('path');
const { startServer, signToken, get } = require('../test/helpers/server');

async function main() {
  const server = await startServer();
  const root = path.join(__dirname, '..');
  try {
    const standard = await get(server.port, '/v1/layouts/home?device=phone&width=375&locale=zh-CN');
    if (standard.status !== 200) throw new Error('standard layout: ' + standard.status);
    const token = signToken(server.secret, 'fixture-elderly');
    const put = await new Promise((resolve, reject) => {
      const body = JSON.stringify({ elderly_mode: 'on', font_scale: 1.0, high_contrast: false,
        reduce_motion: false, screen_reader: false, handedness: 'left', personalization: 1.0,
        age_band: '60_plus' });
      const req = require('http').request({ hostname: '127.0.0.1', port: server.port,
        path: '/v1/me/settings', method: 'PUT',
        headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' } }, resolve);
      req.on('error', reject);
      req.end(body);
    });
    if (put.statusCode !== 200) throw new Error('settings: ' + put.statusCode);
    const elderly = await get(server.port, '/v1/layouts/home?device=phone&width=375&locale=zh-CN', token);
    if (elderly.status !== 200) throw new Error('elderly layout: ' + elderly.status);
    const pretty = (text) => JSON.stringify(JSON.parse(text), null, 2) + '\n';
    fs.mkdirSync(path.join(root, 'test', 'fixtures'), { recursive: true });
    fs.writeFileSync(path.join(root, 'test', 'fixtures', 'home-standard.json'), pretty(standard.text));
    fs.writeFileSync(path.join(root, 'test', 'fixtures', 'home-elderly.json'), pretty(elderly.text));
    fs.mkdirSync(path.join(root, 'example', 'defaults'), { recursive: true });
    fs.writeFileSync(path.join(root, 'example', 'defaults', 'home.js'),
      '// The home layout bundled with the app: shown on a first launch while the network answers.\n' +
      '// Generated from the real server by `npm run gen:fixtures` (anonymous, phone, zh-CN).\n' +
      'module.exports = ' + pretty(standard.text).trimEnd() + ';\n');
    console.log('wrote fixtures from', server.baseUrl);
  } finally {
    await server.stop();
    fs.rmSync(server.dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => { console.error(err); process.exit(1); });

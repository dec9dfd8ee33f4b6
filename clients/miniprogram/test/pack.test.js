'use strict';
// Installation from a release tarball, as the README says: scripts/pack-sdk builds it (npm pack),
// a fresh project installs it offline (`npm install --offline <tarball>`: the package has no
// dependencies), the SDK loads from node_modules, and a "Build npm" (WeChat DevTools copies the
// package's `miniprogram` folder to miniprogram_npm/<name>/) leaves the component where the
// README's usingComponents path points.

const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const REPO = path.resolve(__dirname, '..', '..', '..');
let dir;

beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uiserver-pack-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

test('scripts/pack-sdk builds a tarball that installs offline into a mini-program project', () => {
  const out = execFileSync(path.join(REPO, 'scripts', 'pack-sdk'), [path.join(dir, 'dist')], { encoding: 'utf8' });
  const tarball = out.trim().split('\n').pop();
  const pkg = require('../package.json');
  expect(tarball).toBe(path.join(dir, 'dist', pkg.name + '-' + pkg.version + '.tgz'));
  const listed = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
  expect(listed).toEqual(expect.arrayContaining(['package/package.json', 'package/index.d.ts',
    'package/README.md', 'package/src/index.js', 'package/src/components/ui-layout/index.wxml',
    'package/src/platforms/web.js']));
  expect(listed.filter((f) => /^package\/(test|example|scripts|node_modules)\//.test(f))).toEqual([]);

  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'an-app', private: true }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball],
    { cwd: app, encoding: 'utf8', env: Object.assign({}, process.env, { npm_config_cache: path.join(dir, 'cache') }) });
  const installed = path.join(app, 'node_modules', pkg.name);
  const sdk = require(installed);
  expect(typeof sdk.createLayoutClient).toBe('function');
  expect(typeof sdk.platforms.detect).toBe('function');
  expect(JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8')).dependencies[pkg.name])
    .toMatch(/^file:/);

  // "Build npm": the package's `miniprogram` folder to miniprogram_npm/<name>/
  const built = path.join(app, 'miniprogram_npm', pkg.name);
  fs.cpSync(path.join(installed, pkg.miniprogram), built, { recursive: true });
  ['index.js', 'components/ui-layout/index.json', 'components/ui-layout/index.wxml',
    'components/ui-block/index.js'].forEach((f) => expect(fs.existsSync(path.join(built, f))).toBe(true));
});

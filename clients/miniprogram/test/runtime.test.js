'use strict';
// What ships runs in the mini-program runtime: ES2017 CommonJS, no Node built-ins, relative
// requires only; the renderer's generated dispatch matches the component catalogue.

const fs = require('fs');
const path = require('path');
const acorn = require('acorn');

const SRC = path.join(__dirname, '..', 'src');
const files = [];
(function walk(dir) {
  fs.readdirSync(dir, { withFileTypes: true }).forEach((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) walk(p);
    else if (p.endsWith('.js')) files.push(p);
  });
})(SRC);

test.each(files.map((f) => [path.relative(SRC, f), f]))('%s is ES2017 without Node built-ins', (name, file) => {
  const code = fs.readFileSync(file, 'utf8');
  expect(() => acorn.parse(code, { ecmaVersion: 2017, sourceType: 'script' })).not.toThrow();
  const requires = [...code.matchAll(/require\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]);
  for (const r of requires) expect(r).toMatch(/^\.\.?\//);
  expect(code).not.toMatch(/\b(process|Buffer|setImmediate|__dirname|globalThis)\b/);
  expect(code).not.toMatch(/\.finally\(|\.flatMap\(|Object\.fromEntries/); // ES2018+ library calls
});

test('every WXML/JSON/WXSS quartet is complete', () => {
  for (const name of ['ui-layout', 'ui-block']) {
    for (const ext of ['js', 'json', 'wxml', 'wxss']) {
      expect(fs.existsSync(path.join(SRC, 'components', name, 'index.' + ext))).toBe(true);
    }
  }
});

const catalogue = path.join(__dirname, '..', '..', '..', 'components');
test('the renderer has an abstract node for every component type in the catalogue', () => {
  const types = fs.readdirSync(catalogue).filter((f) => /\.ya?ml$/.test(f)).map((f) => f.replace(/\.ya?ml$/, '')).sort();
  expect(require('../src/components/ui-layout/types')).toEqual(types);
  const json = require('../src/components/ui-layout/index.json');
  expect(Object.keys(json.componentGenerics).sort()).toEqual(types);
  const wxml = fs.readFileSync(path.join(SRC, 'components', 'ui-layout', 'index.wxml'), 'utf8');
  for (const t of types) expect(wxml).toContain(`<${t} `);
});

test('npm pack ships the SDK, both components, the declarations and the README, no tests', () => {
  const { execFileSync } = require('child_process');
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--silent'], {
    cwd: path.join(__dirname, '..'), encoding: 'utf8',
  });
  const packed = JSON.parse(out)[0].files.map((f) => f.path).sort();
  for (const f of ['index.d.ts', 'README.md', 'package.json', 'src/index.js', 'src/sdk/client.js',
    'src/components/ui-layout/index.wxml', 'src/components/ui-layout/index.json',
    'src/components/ui-block/index.wxss']) {
    expect(packed).toContain(f);
  }
  expect(packed.filter((f) => /^(test|example|scripts|node_modules)\//.test(f))).toEqual([]);
  const pkg = require('../package.json');
  expect(fs.existsSync(path.join(__dirname, '..', pkg.main))).toBe(true);
  expect(fs.existsSync(path.join(__dirname, '..', pkg.miniprogram, 'components', 'ui-layout', 'index.js'))).toBe(true);
});

#!/usr/bin/env node
'use strict';
// The layout of each shared persona case (tests/cases/*.json, which the server's tests check),
// made by the server's engine (scripts/case-layouts.py, with the Python that has uiserver:
// $UISERVER_PYTHON, else the `python` next to the `uiserver` command), written to
// test/fixtures/cases/<case>.json with the hash of the case file it was made from.
// `--check` writes nothing and fails when a committed fixture differs from what the engine makes.
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { findUiserver, REPO } = require('../test/helpers/server');
const { CASES, FIXTURES, caseHash } = require('../test/helpers/cases');

function findPython() {
  if (process.env.UISERVER_PYTHON) return process.env.UISERVER_PYTHON;
  const beside = path.join(path.dirname(findUiserver()), 'python');
  return fs.existsSync(beside) ? beside : 'python3';
}

/** {case name: fixture document} as the engine makes them now. */
function makeFixtures() {
  const out = execFileSync(findPython(), [path.join(__dirname, 'case-layouts.py'), REPO], {
    encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
  });
  const layouts = JSON.parse(out);
  const fixtures = {};
  Object.keys(layouts).sort().forEach((name) => {
    fixtures[name] = {
      case: name,
      case_sha256: caseHash(path.join(CASES, name + '.json')),
      layout: layouts[name],
    };
  });
  return fixtures;
}

const pretty = (value) => JSON.stringify(value, null, 2) + '\n';

function main() {
  const check = process.argv.includes('--check');
  const fixtures = makeFixtures();
  const names = Object.keys(fixtures);
  const stale = [];
  if (!check) fs.mkdirSync(FIXTURES, { recursive: true });
  for (const name of names) {
    const file = path.join(FIXTURES, name + '.json');
    const text = pretty(fixtures[name]);
    if (check) {
      if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) stale.push(name);
    } else {
      fs.writeFileSync(file, text);
    }
  }
  const extra = fs.existsSync(FIXTURES)
    ? fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.json') && !names.includes(f.slice(0, -5)))
    : [];
  if (check) {
    if (stale.length || extra.length) {
      console.error('stale case fixtures (run `npm run gen:cases`):', stale.concat(extra).join(', '));
      process.exit(1);
    }
    console.log('case fixtures match the engine:', names.length);
  } else {
    extra.forEach((f) => fs.rmSync(path.join(FIXTURES, f)));
    console.log('wrote', names.length, 'case fixtures to', path.relative(process.cwd(), FIXTURES));
  }
}

module.exports = { makeFixtures, pretty, findPython };

if (require.main === module) main();

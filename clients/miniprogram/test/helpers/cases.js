'use strict';
// The shared persona cases: tests/cases/*.json at the repository root (the server's tests read
// the same files) and, for each, the layout the server's engine made for it
// (test/fixtures/cases/<case>.json, written by `npm run gen:cases`).
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const CASES = path.resolve(__dirname, '..', '..', '..', '..', 'tests', 'cases');
const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'cases');

/** The sha256 of a case file's bytes: a fixture names the version of the case it was made from. */
function caseHash(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Every case, by file name: {name, file, case, fixtureFile}. */
function readCases() {
  return fs.readdirSync(CASES).filter((f) => f.endsWith('.json')).sort().map((f) => ({
    name: f.slice(0, -'.json'.length),
    file: path.join(CASES, f),
    case: JSON.parse(fs.readFileSync(path.join(CASES, f), 'utf8')),
    fixtureFile: path.join(FIXTURES, f),
  }));
}

module.exports = { CASES, FIXTURES, caseHash, readCases };

'use strict';
// The committed case layouts (test/fixtures/cases/) are what the server's engine makes now: the
// Python that has uiserver (next to the `uiserver` command, or $UISERVER_PYTHON) makes them
// again and they must match, so a change to a case, a template, the catalogue, the policy or the
// engine without `npm run gen:cases` fails here, not silently in test/cases.test.js.
const fs = require('fs');
const { makeFixtures } = require('../scripts/gen-cases');
const { readCases } = require('./helpers/cases');

test('every case fixture is the layout the engine makes for the case now', () => {
  const made = makeFixtures();
  const cases = readCases();
  expect(Object.keys(made)).toEqual(cases.map((c) => c.name));
  for (const c of cases) {
    const committed = JSON.parse(fs.readFileSync(c.fixtureFile, 'utf8'));
    expect({ case: c.name, fixture: committed }).toEqual({ case: c.name, fixture: made[c.name] });
  }
});

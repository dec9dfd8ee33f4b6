/** @jest-environment jsdom */
'use strict';
// The persona cases the server is held to (tests/cases/*.json; tests/cases/test_cases.py checks
// the engine's layout for each), held against the renderer too: <ui-layout> draws the layout the
// engine made for the case (test/fixtures/cases/<case>.json, `npm run gen:cases`), and every
// expectation a client can see is checked on what it drew: mode, the components present and
// absent, their order, placements, font sizes, target sizes and line height, the theme, and the
// props and theme each per-type component receives. One set of cases, two implementations.
//
// Expectations about how the server chose (reasons, changes, personalization figures, variant)
// are checked on the layout document; the two that compare with other layouts
// (order_equals_base, order_same_as_context) only the server can check. A key in no table fails.

const fs = require('fs');
const path = require('path');
const { renderLayout } = require('./helpers/render');
const { readCases, caseHash } = require('./helpers/cases');
const { isUsableLayout } = require('../src');
const types = require('../src/components/ui-layout/types');

// Every component type drawn by the probe, which shows what <ui-layout> handed it.
const PROBE = path.join(__dirname, 'components', 'probe', 'index');
const GENERICS = {};
types.forEach((type) => { GENERICS[type] = PROBE; });

const REGIONS = [
  ['.ui-layout--ui-bar-left', 'bottom_left'],
  ['.ui-layout--ui-bar-center', 'bottom_center'],
  ['.ui-layout--ui-bar-right', 'bottom_right'],
  ['.ui-layout--ui-floating-left', 'floating_left'],
  ['.ui-layout--ui-floating-right', 'floating_right'],
  ['.ui-layout--ui-top-left', 'top_left'],
  ['.ui-layout--ui-top-right', 'top_right'],
  ['.ui-layout--ui-flow', 'flow'],
];

/** What <ui-layout> drew, read from the DOM. */
function drawn(comp) {
  const root = comp.dom.querySelector('.ui-layout--ui-root');
  const items = Array.from(comp.dom.querySelectorAll('.ui-layout--ui-item'));
  const byId = new Map(items.map((el) => [el.dataset.id, el]));
  const px = (el, prop) => parseFloat(el.style.getPropertyValue(prop));
  const el = (id) => {
    const found = byId.get(id);
    if (!found) throw new Error(`${id} is not drawn`);
    return found;
  };
  return {
    root,
    ids: items.map((e) => e.dataset.id),
    flowIds: Array.from(comp.dom.querySelectorAll('.ui-layout--ui-flow-item')).map((e) => e.dataset.id),
    has: (id) => byId.has(id),
    el,
    font: (id) => px(el(id), 'font-size'),
    target: (id) => px(el(id), 'min-height'),
    width: (id) => px(el(id), 'min-width'),
    lineHeight: (id) => parseFloat(el(id).style.getPropertyValue('line-height')),
    placement: (id) => {
      const region = REGIONS.find(([selector]) => el(id).closest(selector));
      return region ? region[1] : null;
    },
    /** What the per-type component received: {id, type, props, theme}. */
    received: (id) => JSON.parse(el(id).textContent),
    rootFont: () => px(root, 'font-size'),
    rootClasses: () => root.className.split(/\s+/),
  };
}

const all = (d, fn) => d.ids.map(fn);
/** The distinct values of theme[key] the per-type components received. */
const receivedTheme = (d, key) => Array.from(new Set(all(d, (id) => d.received(id).theme[key])));

// theme.<key>: on the root (font size, line height, motion class, direction, palette) and in the
// theme every per-type component receives.
const THEME = {
  font_px: (d, v) => expect(d.rootFont()).toBe(v),
  line_height: (d, v) => expect(parseFloat(d.root.style.getPropertyValue('line-height'))).toBe(v),
  motion: (d, v) => expect(d.rootClasses()).toContain(`ui-layout--ui-motion-${v}`),
  direction: (d, v) => expect(d.root.style.getPropertyValue('direction')).toBe(v),
  high_contrast: (d, v) => expect(receivedTheme(d, 'high_contrast')).toEqual([v]),
  dark: (d, v) => expect(receivedTheme(d, 'dark')).toEqual([v]),
  palette: (d, v) => {
    for (const [name, colour] of Object.entries(v)) {
      expect(d.root.style.getPropertyValue('--ui-' + name.replace('_', '-'))).toBe(colour);
    }
  },
};

// Each key of a case's `expect` checked on what was drawn (d) given the layout document (layout).
const RENDERED = {
  mode: (d, v) => expect(d.rootClasses()).toContain(`ui-layout--ui-mode-${v}`),
  present: (d, v) => expect(v.filter((id) => !d.has(id))).toEqual([]),
  absent: (d, v) => expect(v.filter((id) => d.has(id))).toEqual([]),
  theme: (d, v) => {
    for (const [key, value] of Object.entries(v)) {
      if (!THEME[key]) throw new Error(`no renderer check for theme.${key}`);
      THEME[key](d, value);
    }
  },
  theme_font_px_at_least: (d, v) => expect(d.rootFont()).toBeGreaterThanOrEqual(v),
  line_height_at_least: (d, v) => {
    expect(Math.min(...all(d, d.lineHeight))).toBeGreaterThanOrEqual(v);
  },
  min_font_px: (d, v) => expect(Math.min(...all(d, d.font))).toBeGreaterThanOrEqual(v),
  max_font_px_at_least: (d, v) => expect(Math.max(...all(d, d.font))).toBeGreaterThanOrEqual(v),
  fonts_at_least: (d, v) => {
    for (const [id, low] of Object.entries(v)) expect([id, d.font(id)]).toEqual([id, atLeast(low)]);
  },
  targets_at_least: (d, v) => {
    for (const [id, low] of Object.entries(v)) {
      expect([id, d.target(id)]).toEqual([id, atLeast(low)]);
      // a button placed off the flow is a target in both directions
      if (d.placement(id) !== 'flow') expect([id, d.width(id)]).toEqual([id, atLeast(low)]);
    }
  },
  placements: (d, v) => {
    for (const [id, placement] of Object.entries(v)) expect([id, d.placement(id)]).toEqual([id, placement]);
  },
  props: (d, v) => {
    for (const [id, props] of Object.entries(v)) {
      expect([id, d.received(id).props]).toEqual([id, expect.objectContaining(props)]);
    }
  },
  order_prefix: (d, v) => expect(d.flowIds.slice(0, v.length)).toEqual(v),
  first_movable: (d, v, layout) => {
    const pinned = new Set(layout.components.filter((c) => c.pinned).map((c) => c.id));
    expect(d.flowIds.find((id) => !pinned.has(id))).toBe(v);
  },
};

// How the server chose, as the layout document says (nothing a renderer draws differently).
const DOCUMENT = {
  variant: (layout, v) => expect(layout.variant).toBe(v),
  changes_include: (layout, v) => expect(layout.personalization.changes).toEqual(expect.arrayContaining(v)),
  reasons_include: (layout, v) => {
    for (const [id, reasons] of Object.entries(v)) {
      const component = layout.components.find((c) => c.id === id);
      expect([id, component.reasons]).toEqual([id, expect.arrayContaining(reasons)]);
    }
  },
  page_reasons_include: (layout, v) => expect(layout.reasons).toEqual(expect.arrayContaining(v)),
  strength: (layout, v) => expect(layout.personalization.strength).toBe(v),
  capped: (layout, v) => expect(layout.personalization.capped).toBe(v),
  changed_ratio: (layout, v) => expect(layout.personalization.changed_ratio).toBe(v),
  max_changed_ratio: (layout, v) => expect(layout.personalization.changed_ratio).toBeLessThanOrEqual(v),
  min_changed_ratio: (layout, v) => expect(layout.personalization.changed_ratio).toBeGreaterThanOrEqual(v),
};

// They compare the layout with the same user's layout in another context or with
// personalization off: one layout document cannot show them.
const SERVER_ONLY = new Set(['order_equals_base', 'order_same_as_context']);

/** An asymmetric matcher: a number >= low (so a failure names the component and its value). */
function atLeast(low) {
  return {
    $$typeof: Symbol.for('jest.asymmetricMatcher'),
    asymmetricMatch: (n) => typeof n === 'number' && n >= low,
    toAsymmetricMatcher: () => `>= ${low}`,
  };
}

const cases = readCases();

test('the shared cases are all here, each with its layout', () => {
  expect(cases.map((c) => c.name)).toEqual(expect.arrayContaining([
    'default_adult', 'elderly_auto_60_plus', 'low_vision_left_handed', 'screen_reader',
    'personalization_off', 'churn_risk_segment', 'coupon_clicker',
  ]));
  const fixtures = fs.readdirSync(path.dirname(cases[0].fixtureFile)).sort();
  expect(fixtures).toEqual(cases.map((c) => c.name + '.json'));
});

describe.each(cases.map((c) => [c.name, c]))('%s', (name, shared) => {
  const expected = shared.case.expect;
  const fixture = fs.existsSync(shared.fixtureFile)
    ? JSON.parse(fs.readFileSync(shared.fixtureFile, 'utf8')) : null;
  const layout = fixture && fixture.layout;
  let d;
  beforeAll(() => {
    if (layout) d = drawn(renderLayout(layout, GENERICS));
  });

  test('its layout was made from this version of the case (else `npm run gen:cases`)', () => {
    expect(fixture).not.toBeNull();
    expect(fixture.case_sha256).toBe(caseHash(shared.file));
    expect(isUsableLayout(layout)).toBe(true);
    expect(layout.page).toBe(shared.case.page);
  });

  test('every expectation has a check here or is the server\'s alone', () => {
    const unknown = Object.keys(expected).filter((k) => !RENDERED[k] && !DOCUMENT[k] && !SERVER_ONLY.has(k));
    expect(unknown).toEqual([]);
  });

  test('every component drawn once, in layout order, with its size, role and accessible name', () => {
    const components = layout.components.filter((c) => c.hidden !== true && c.visible !== false);
    expect([...d.ids].sort()).toEqual(components.map((c) => c.id).sort());
    expect(d.flowIds).toEqual(components.filter((c) => c.placement === 'flow').map((c) => c.id));
    for (const c of components) {
      const el = d.el(c.id);
      expect([c.id, el.getAttribute('aria-role'), el.getAttribute('aria-label')])
        .toEqual([c.id, c.role, c.speech || c.label]); // elderly mode speaks `speech`
      expect(c.label.trim()).not.toBe('');
      expect([c.id, d.font(c.id), d.target(c.id), d.placement(c.id)])
        .toEqual([c.id, c.font_px, c.min_target_px, c.placement]);
      expect(d.received(c.id)).toMatchObject({ id: c.id, type: c.type, props: c.props });
    }
  });

  const rendered = Object.keys(expected).filter((k) => RENDERED[k]);
  if (rendered.length) {
    test.each(rendered)('drawn: %s', (key) => RENDERED[key](d, expected[key], layout));
  }
  const documented = Object.keys(expected).filter((k) => DOCUMENT[k]);
  if (documented.length) {
    test.each(documented)('in the layout document: %s', (key) => DOCUMENT[key](layout, expected[key]));
  }
});

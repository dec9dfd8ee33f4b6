/**
 * @jest-environment jsdom
 */
'use strict';
// The web <ui-layout> measures impressions as the mini-program renderer does (>= 50% visible
// for 800 ms, once per launch, through the page's IntersectionObserver, with the version and
// mode drawn); a page hidden mid-dwell does not count; no IntersectionObserver: no impressions,
// no error. Failed before: the web renderer measured taps only.

const { defineUiLayout } = require('../src/web/ui-layout-element');
const registry = require('../src/registry');
const standard = require('./fixtures/home-standard.json');

defineUiLayout(window);

/** window.IntersectionObserver double: the test says what is visible. */
function installObserver() {
  const made = [];
  window.IntersectionObserver = class {
    constructor(callback, options) {
      this.callback = callback;
      this.options = options;
      this.targets = [];
      this.disconnected = false;
      made.push(this);
    }

    observe(target) { this.targets.push(target); }

    disconnect() { this.disconnected = true; }

    show(id, ratio) {
      const target = this.targets.find((t) => t.getAttribute('data-id') === id);
      if (!this.disconnected && target) this.callback([{ target, intersectionRatio: ratio }], this);
    }
  };
  return { made, last: () => made[made.length - 1] };
}

function draw(layout) {
  const node = document.createElement('ui-layout');
  document.body.appendChild(node);
  node.layout = layout;
  return node;
}

let hidden = false;
Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });

beforeEach(() => jest.useFakeTimers());
afterEach(() => {
  jest.useRealTimers();
  document.body.innerHTML = '';
  registry.clear();
  delete window.IntersectionObserver;
  hidden = false;
});

test('a component >= 50% visible for 800 ms is an impression, once per launch, with the version and mode drawn', () => {
  const tracked = [];
  registry.setDefault({ track: (...args) => tracked.push(args) });
  const observers = installObserver();
  const node = draw(standard);
  const ob = observers.last();
  expect(ob.options.threshold).toEqual([0, 0.5, 1]);
  ob.show('search', 0.6);
  ob.show('banner', 0.3);
  jest.advanceTimersByTime(800);
  const drawn = { version: standard.template_version, mode: standard.mode };
  expect(tracked).toEqual([['home', 'search', 'impression', drawn]]);
  node.layout = JSON.parse(JSON.stringify(standard)); // the same launch again: no second one
  observers.last().show('search', 1);
  jest.advanceTimersByTime(800);
  expect(tracked).toHaveLength(1);
});

test('a page hidden before 800 ms is no impression; visible again, what is on screen counts', () => {
  const tracked = [];
  registry.setDefault({ track: (...args) => tracked.push(args) });
  const observers = installObserver();
  draw(standard);
  observers.last().show('search', 1);
  jest.advanceTimersByTime(100);
  hidden = true;
  document.dispatchEvent(new Event('visibilitychange'));
  jest.advanceTimersByTime(2000);
  expect(tracked).toEqual([]);
  hidden = false;
  document.dispatchEvent(new Event('visibilitychange'));
  observers.last().show('search', 1);
  jest.advanceTimersByTime(800);
  expect(tracked.map((t) => [t[1], t[2]])).toEqual([['search', 'impression']]);
});

test('without IntersectionObserver the layout is drawn, with no impressions and no error', () => {
  const tracked = [];
  registry.setDefault({ track: (...args) => tracked.push(args) });
  delete window.IntersectionObserver;
  const node = draw(standard);
  expect(node.shadowRoot.querySelector('[data-id="search"]')).toBeTruthy();
  jest.advanceTimersByTime(5000);
  expect(tracked).toEqual([]);
});

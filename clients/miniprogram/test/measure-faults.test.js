/** @jest-environment jsdom */
'use strict';
// Impressions when the runtime misbehaves (issue 22 section 3, a second adversary's inputs): an
// IntersectionObserver that cannot be made, a page hidden during a component's dwell. Each
// failed before its fix.

describe('<ui-layout> impressions when the runtime misbehaves', () => {
  const { renderLayout } = require('./helpers/render');
  const registry = require('../src/registry');
  const standard = require('./fixtures/home-standard.json');
  const { fakeObservers: observers } = require('./helpers/observers');
  afterEach(() => registry.clear());

  test('an IntersectionObserver that cannot be made (throws, or is not an observer) never breaks drawing', () => {
    registry.setDefault({ track: () => true });
    // the runtime reports an error a component's observer throws (App.onError, the console)
    const reported = jest.spyOn(console, 'error').mockImplementation(() => {});
    try {
      [() => { throw new Error('createIntersectionObserver:fail'); }, () => undefined].forEach((broken) => {
        const comp = renderLayout(null);
        comp.instance.createIntersectionObserver = broken;
        expect(() => comp.setData({ layout: standard })).not.toThrow();
        expect(comp.querySelector('#ui-' + standard.components[0].id)).toBeTruthy();
      });
      expect(reported).not.toHaveBeenCalled();
    } finally {
      reported.mockRestore();
    }
  });

  test('a component on screen when the page hides, before its 800 ms, is not seen; shown again it counts', () => {
    jest.useFakeTimers();
    try {
      const tracked = [];
      registry.setDefault({ track: (...args) => tracked.push(args) });
      const comp = renderLayout(null);
      const obs = observers();
      comp.instance.createIntersectionObserver = obs.create;
      comp.setData({ layout: standard });
      obs.last().show('search', 1);
      jest.advanceTimersByTime(100);
      comp.triggerPageLifeTime('hide'); // the user left the page (another page, the app hidden)
      jest.advanceTimersByTime(2000);
      expect(tracked).toEqual([]);
      comp.triggerPageLifeTime('show');
      obs.last().show('search', 1); // a new observer reports what is on screen now
      jest.advanceTimersByTime(800);
      expect(tracked.map((t) => [t[1], t[2]])).toEqual([['search', 'impression']]);
    } finally {
      jest.useRealTimers();
    }
  });
});

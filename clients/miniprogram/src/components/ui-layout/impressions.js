'use strict';
/**
 * Impressions as <ui-layout> measures them: a component counts as seen when at least `ratio`
 * of it (0.5) has been visible for `dwellMs` (800 ms) without a break — the IAB/MRC viewable
 * impression rule for display — and only once per launch (`reset` starts a new one). Fed with
 * `(id, intersectionRatio)` from the mini-program IntersectionObserver; timers are injected.
 */

/**
 * @typedef {object} ImpressionOptions
 * @property {number} [ratio] the visible share that counts (0.5)
 * @property {number} [dwellMs] how long it must stay visible (800)
 * @property {(fn: () => void, ms: number) => unknown} setTimeout
 * @property {(id: unknown) => void} clearTimeout
 * @property {(id: string) => void} onImpression
 */

/** @param {ImpressionOptions} options */
function createImpressions(options) {
  const ratio = typeof options.ratio === 'number' && options.ratio > 0 && options.ratio <= 1 ? options.ratio : 0.5;
  const dwellMs = typeof options.dwellMs === 'number' && options.dwellMs >= 0 ? options.dwellMs : 800;
  /** @type {Record<string, boolean>} */
  let seen = {};
  /** @type {Record<string, unknown>} */
  let timers = {};

  function stop() {
    Object.keys(timers).forEach((id) => options.clearTimeout(timers[id]));
    timers = {};
  }

  return {
    ratio,
    dwellMs,
    /**
     * @param {string} id
     * @param {number} visible the component's intersection ratio now
     */
    observe(id, visible) {
      if (!id || seen[id]) return;
      if (visible >= ratio) {
        if (timers[id] === undefined) {
          timers[id] = options.setTimeout(() => {
            delete timers[id];
            seen[id] = true;
            options.onImpression(id);
          }, dwellMs);
        }
      } else if (timers[id] !== undefined) {
        options.clearTimeout(timers[id]);
        delete timers[id];
      }
    },
    /** A new launch: every component may count again. */
    reset() {
      stop();
      seen = {};
    },
    stop,
  };
}

module.exports = { createImpressions };

'use strict';
/**
 * What every <ui-layout> renderer measures of the launch it draws, in one place: the WeChat and
 * Douyin component (components/ui-layout/index.js), the Alipay one (alipay/ui-layout/index.js)
 * and the web element (web/ui-layout-element.js) each require this file, as they do the view
 * model. A launch is a page at a template version: another one starts measuring again (render
 * errors reported once each, impressions counted once each: impressions.js). The renderer keeps
 * its runtime's part (how an observer is made and what its results name); this keeps the
 * observer it made, disconnects it without ever throwing, and reports through the renderer.
 */
const { createImpressions } = require('./impressions');
const { drawnDetail } = require('./view-model');
const TYPES = require('./types');

/** @typedef {import('./view-model').LayoutInput} LayoutInput */
/** @typedef {import('./view-model').Item} Item */
/** @typedef {import('../../../index').EventKind} EventKind */
/** @typedef {{disconnect(): void}} Observer */
/**
 * The timers impressions run on (default: the runtime's global setTimeout / clearTimeout).
 * @typedef {{setTimeout: (fn: () => void, ms: number) => unknown, clearTimeout: (id: unknown) => void}} Timers
 */

/** @type {Record<string, boolean>} the component types the mini-program renderers dispatch */
const DRAWN = {};
TYPES.forEach((t) => { DRAWN[t] = true; });

/** @type {Timers} */
const GLOBAL_TIMERS = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(/** @type {number} */ (id)),
};

/**
 * The launch a layout is drawn for: `<page>@<template_version>`, '' for no layout.
 * @param {LayoutInput | null | undefined} layout
 * @returns {string}
 */
function launchKey(layout) {
  return layout ? (layout.page || '') + '@' + (layout.template_version || '') : '';
}

/**
 * What a tap on `item` tells the app (the `action` event's detail, the Alipay `onAction` argument).
 * @param {Item} item
 * @param {LayoutInput | null | undefined} layout the layout drawn (its page)
 * @returns {import('../../../index').LayoutActionDetail}
 */
function actionDetail(item, layout) {
  const page = (layout && layout.page) || '';
  return { id: item.id, type: item.type, role: item.role, placement: item.placement, props: item.props, page };
}

/**
 * Feed `client.track(page, id, kind, {version, mode})` with what was drawn; nothing without a
 * client that tracks; never throws (measuring must never break drawing).
 * @param {{track?: Function} | null | undefined} client
 * @param {LayoutInput | null | undefined} layout
 * @param {string} id
 * @param {EventKind} kind
 */
function trackDrawn(client, layout, id, kind) {
  if (!client || typeof client.track !== 'function') return;
  try {
    client.track((layout && layout.page) || '', id, kind, drawnDetail(layout));
  } catch (e) {
    // measuring must never break drawing
  }
}

/**
 * One renderer's measurements.
 * @param {(id: string, kind: EventKind) => void} report how the renderer reports an
 *   `impression` or a `render_error` (its `track` setting, its client)
 * @param {Timers} [timers]
 */
function createMeasure(report, timers) {
  /** @type {string | undefined} */
  let key;
  /** @type {Record<string, boolean>} */
  let errors = {};
  /** @type {ReturnType<typeof createImpressions> | null} */
  let impressions = null;
  /** @type {Observer | null} */
  let observer = null;

  /**
   * Disconnect the observer kept, if any.
   * @returns {boolean} false when its disconnect threw (it is dropped all the same)
   */
  function disconnect() {
    const previous = observer;
    observer = null;
    try {
      if (previous) previous.disconnect();
      return true;
    } catch (e) {
      return false; // measuring must never break drawing
    }
  }

  const measure = {
    /**
     * A layout drawn: when it is another launch than the last one, render errors and
     * impressions count again.
     * @param {LayoutInput | null | undefined} layout
     */
    launch(layout) {
      const next = launchKey(layout);
      if (next === key) return;
      key = next;
      errors = {};
      if (impressions) impressions.reset();
    },
    /**
     * A component that could not be drawn: reported once per launch.
     * @param {string} id
     */
    renderError(id) {
      if (errors[id]) return;
      errors[id] = true;
      report(id, 'render_error');
    },
    /**
     * A render error for each item whose type the mini-program renderers do not dispatch.
     * @param {Record<string, Item> | undefined} byId the items drawn
     */
    undispatched(byId) {
      const items = byId || {};
      Object.keys(items).forEach((id) => {
        if (items[id] && !DRAWN[items[id].type]) measure.renderError(id);
      });
    },
    /**
     * The impression counter, made on the first call with these thresholds (a later call's are
     * not read); each impression reported as `impression`.
     * @param {number | undefined} ratio
     * @param {number | undefined} dwellMs
     */
    impressions(ratio, dwellMs) {
      if (!impressions) {
        const t = timers || GLOBAL_TIMERS;
        impressions = createImpressions({
          ratio, dwellMs, setTimeout: t.setTimeout, clearTimeout: t.clearTimeout,
          onImpression: (id) => report(id, 'impression'),
        });
      }
      return impressions;
    },
    disconnect,
    /**
     * `connect()` makes and wires the next observer and answers it (or nothing, when the runtime
     * cannot make one); one that throws leaves none (never an error out of drawing).
     * @param {() => Observer | null | undefined | void} connect
     */
    connect(connect) {
      try {
        observer = connect() || null;
      } catch (e) {
        observer = null; // measuring must never break drawing
      }
    },
    /** Stop observing: the observer disconnected, dwells under way are not impressions. */
    stop() {
      disconnect();
      if (impressions) impressions.stop();
    },
  };
  return measure;
}

module.exports = { createMeasure, actionDetail, trackDrawn };

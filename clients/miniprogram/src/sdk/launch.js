'use strict';
/**
 * Launch: what to draw at once. The stored copy while it is fresh (no request) or within
 * stale-while-revalidate (revalidated in the background); else the app's bundled default, with
 * the revalidation in the background; else wait for the network, and with nothing at all a
 * LayoutUnavailableError. Every interval is the stored response's own (cache-control.js).
 */

const { freshness } = require('./cache-control');
const { contextQuery } = require('./context');
const { subjectOf } = require('./token');
const { isUsableLayout, bundledLayout } = require('./layout');
const { keyOf } = require('./updates');

/** @typedef {import('../../index').Layout} Layout */
/** @typedef {import('../../index').LayoutContext} LayoutContext */
/** @typedef {import('../../index').LaunchResult} LaunchResult */

class LayoutUnavailableError extends Error {
  /** @param {string} page */
  constructor(page) {
    super('no layout for page "' + page + '": nothing stored, no bundled default, server unreachable');
    this.name = 'LayoutUnavailableError';
    this.page = page;
  }
}

/**
 * @typedef {object} LaunchDeps
 * @property {import('./identity').Identity} identity
 * @property {import('./store').Store} store
 * @property {() => number} now ms
 * @property {import('./updates').Updates} updates
 * @property {import('./revalidation').Revalidation} revalidation
 * @property {Record<string, Layout> | null | undefined} defaults the app's bundled layouts
 * @property {() => LayoutContext} context the runtime's context, when the caller gives none
 * @property {(err: unknown) => void} onError
 */

/** @param {LaunchDeps} deps */
function createLaunch(deps) {
  const { identity, store, now, updates, revalidation } = deps;

  /**
   * @param {string} page
   * @param {LayoutContext} [context]
   * @returns {Promise<LaunchResult>}
   */
  return async function launch(page, context) {
    const ctx = context || deps.context();
    const query = contextQuery(ctx);
    let user = '';
    try {
      user = subjectOf(await identity.token());
    } catch (err) {
      deps.onError(err);
    }
    const key = keyOf(user, page, query);
    updates.launched(key);
    const entry = store.get(user, page, query);
    const state = entry && isUsableLayout(entry.layout) ? freshness(entry, now()) : 'expired';
    if (entry && (state === 'fresh' || state === 'stale')) {
      store.touch(user, page, query, now());
      updates.shown(key, entry.etag);
      const pending = state === 'stale' ? revalidation.background(page, ctx) : Promise.resolve(null);
      return { layout: entry.layout, source: 'cache', etag: entry.etag, revalidation: pending };
    }
    const bundled = bundledLayout(deps.defaults, page);
    if (bundled) {
      updates.shown(key, '');
      const pending = revalidation.background(page, ctx);
      return { layout: bundled, source: 'default', etag: null, revalidation: pending };
    }
    const result = await revalidation.revalidate(page, ctx);
    if (!result.layout) throw new LayoutUnavailableError(page);
    updates.shown(key, result.etag);
    return {
      layout: result.layout,
      source: result.status === 'offline' ? 'cache' : 'network',
      etag: result.etag,
      revalidation: Promise.resolve(result),
    };
  };
}

module.exports = { createLaunch, LayoutUnavailableError };

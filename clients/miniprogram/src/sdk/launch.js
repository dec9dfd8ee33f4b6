'use strict';
/**
 * Launch: what to draw at once. The stored copy while it is fresh (no request) or within
 * stale-while-revalidate (revalidated in the background); else the app's bundled default, with
 * the revalidation in the background; else wait for the network, and with nothing at all a
 * LayoutUnavailableError. Every interval is the stored response's own (cache-control.js). A copy
 * the SDK invalidated itself (a settings change) is drawn only when the network fails, and one
 * stored for another renderer (other types or version) is asked for first; a launch
 * whose user changes while it waits for the network starts again for the new user.
 */

const { freshness } = require('./cache-control');
const { contextQuery } = require('./context');
const { IdentityChangedError } = require('./identity');
const { bundledLayout } = require('./layout');
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
 * @property {{value(): string}} [capabilities] what this renderer draws: a copy stored for
 *   another (`drawnBy`: a release rolled back, another build) is never drawn without asking
 */

/** Launches started again because the user changed mid-way, before giving up. */
const MAX_ATTEMPTS = 3;

/** @param {LaunchDeps} deps */
function createLaunch(deps) {
  const { identity, store, now, updates, revalidation } = deps;

  /**
   * @param {string} page
   * @param {LayoutContext} [context]
   * @returns {Promise<LaunchResult>}
   */
  async function launch(page, context) {
    const ctx = context || deps.context();
    for (let attempt = 1; ; attempt++) {
      const shown = await launchOnce(page, ctx);
      if (shown) return shown;
      // the user changed (or their settings did) while the network answered: start again for them
      if (attempt >= MAX_ATTEMPTS) throw new IdentityChangedError();
    }
  }

  /**
   * One launch for the user signed in now; null when that user is no longer current at the end.
   * @param {string} page
   * @param {LayoutContext} ctx
   * @returns {Promise<LaunchResult | null>}
   */
  async function launchOnce(page, ctx) {
    const query = contextQuery(ctx);
    /** @type {import('./identity').Ticket} */
    let ticket;
    try {
      ticket = await identity.ticket();
    } catch (err) {
      // the token source failed (its login round trip is offline): the user read last, whose
      // stored copy may stand in as for an unreachable server (never anyone else's)
      deps.onError(err);
      ticket = identity.lastTicket();
    }
    const user = ticket.user;
    const key = keyOf(user, page, query);
    updates.launched(key);
    const entry = store.get(user, page, query);
    // a copy from before a settings change the SDK made is never drawn while the network can
    // answer: the app would show the old mode for one render, then flip
    const invalidated = !!(entry && entry.invalidated);
    // made for another renderer (other types, another version): it may hold a type this one
    // cannot draw, or one a kill switch covers for this version; asked for first, like a
    // copy that expired (it still stands in when the network fails)
    const caps = deps.capabilities;
    const foreign = !!(entry && caps && entry.drawnBy !== undefined && entry.drawnBy !== caps.value());
    const state = entry && !invalidated && !foreign ? freshness(entry, now()) : 'expired';
    if (entry && (state === 'fresh' || state === 'stale')) {
      store.touch(user, page, query, now());
      updates.shown(key, entry.etag, entry.layout);
      const pending = state === 'stale' ? revalidation.background(page, ctx) : Promise.resolve(null);
      return { layout: entry.layout, source: 'cache', etag: entry.etag, revalidation: pending };
    }
    const bundled = invalidated ? null : bundledLayout(deps.defaults, page);
    if (bundled) {
      updates.shown(key, '', bundled);
      const pending = revalidation.background(page, ctx);
      return { layout: bundled, source: 'default', etag: null, revalidation: pending };
    }
    const result = await revalidation.revalidate(page, ctx);
    if (result.status === 'superseded' || !(await identity.current(ticket))) return null;
    if (!result.layout) throw new LayoutUnavailableError(page);
    updates.shown(key, result.etag, result.layout);
    return {
      layout: result.layout,
      source: result.status === 'offline' ? 'cache' : 'network',
      etag: result.etag,
      revalidation: Promise.resolve(result),
    };
  }

  return launch;
}

module.exports = { createLaunch, LayoutUnavailableError };

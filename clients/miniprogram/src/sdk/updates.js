'use strict';
/**
 * Layout updates as the app sees them. For each stored layout (user, page, context) it keeps the
 * version last handed to the app (its ETag and a fingerprint of its body: a 200 with the same
 * ETag but another body, a server's mistake, is still news), so one version is announced once;
 * and when it was launched, so
 * an update arriving within `applyWithinMs` is marked `applyNow` (apply at once) and a later one
 * waits for the next page show (nothing moves under the user's finger).
 */

/** @typedef {import('../../index').Layout} Layout */
/** @typedef {import('../../index').UpdateMeta} UpdateMeta */
/** @typedef {import('../../index').RevalidateResult} RevalidateResult */
/** @typedef {(page: string, layout: Layout, meta: UpdateMeta) => void} UpdateListener */
/** @typedef {ReturnType<typeof createUpdates>} Updates */

/**
 * The key of one layout copy: user, page and the canonical context query.
 * @param {string} user
 * @param {string} page
 * @param {string} query
 */
function keyOf(user, page, query) {
  return user + '|' + page + '|' + query;
}

/**
 * What the app was handed: the ETag ("" for none) and an FNV-1a 32-bit hash of the body's JSON.
 * @param {string | null} etag
 * @param {Layout | null | undefined} layout
 */
function versionOf(etag, layout) {
  let text = '';
  try {
    text = JSON.stringify(layout) || '';
  } catch (e) {
    // not JSON (a cycle): the ETag alone
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (etag || '') + '#' + h.toString(36);
}

/**
 * @param {{now: () => number, applyWithinMs: number, onError: (err: unknown) => void}} deps
 */
function createUpdates(deps) {
  /** @type {UpdateListener[]} */
  const listeners = [];
  /** @type {Record<string, string>} key -> version last handed to the app (versionOf) */
  const current = {};
  /** @type {Record<string, number>} key -> ms */
  const launchedAt = {};

  /**
   * @param {UpdateListener} fn
   * @returns {() => void} stops the updates
   */
  function onUpdate(fn) {
    listeners.push(fn);
    return () => {
      const i = listeners.indexOf(fn);
      if (i >= 0) listeners.splice(i, 1);
    };
  }

  /**
   * The app launched this layout copy now: the `applyNow` window opens.
   * @param {string} key
   */
  function launched(key) {
    launchedAt[key] = deps.now();
  }

  /**
   * The app was handed this version (etag; null or '' for the bundled default) of the layout.
   * @param {string} key
   * @param {string | null} etag
   * @param {Layout | null} [layout]
   */
  function shown(key, etag, layout) {
    current[key] = versionOf(etag, layout);
  }

  /**
   * Tell the listeners about a revalidation's result, unless the app already has that version.
   * @param {string} key
   * @param {string} page
   * @param {RevalidateResult} result
   */
  function emit(key, page, result) {
    if (!result.layout || result.status === 'expired') return;
    const version = versionOf(result.etag, result.layout);
    if (current[key] === version) return;
    current[key] = version;
    const layout = result.layout;
    const since = deps.now() - (launchedAt[key] || 0);
    /** @type {UpdateMeta} */
    const meta = {
      etag: result.etag,
      status: result.status,
      // a clock set back since the launch gives a negative interval: not "just launched"
      applyNow: since >= 0 && since <= deps.applyWithinMs,
    };
    announce(page, layout, meta);
  }

  /**
   * Hand a layout to every listener (a listener's error goes to onError).
   * @param {string} page
   * @param {Layout} layout
   * @param {UpdateMeta} meta
   */
  function announce(page, layout, meta) {
    listeners.slice().forEach((fn) => {
      try { fn(page, layout, meta); } catch (e) { deps.onError(e); }
    });
  }

  /**
   * Forget what the user was shown (erased): their next layout is announced anew.
   * @param {string} user
   */
  function forget(user) {
    Object.keys(current).forEach((key) => { if (key.indexOf(user + '|') === 0) delete current[key]; });
  }

  return { onUpdate, launched, shown, emit, announce, forget };
}

module.exports = { createUpdates, keyOf };

'use strict';
/**
 * Who is signed in: the app's `getToken()` (sync or async; '' or null for anonymous) and the user
 * its JWT names. Stored layouts, events and settings belong to that user. Where only a
 * synchronous answer will do (a tap's `track`), a sync token source is read at once and an async
 * one stands for the user read last (at the last launch, flush or track).
 */

const { subjectOf } = require('./token');

/** @typedef {ReturnType<typeof createIdentity>} Identity */

/** @param {import('../../index').LayoutClientOptions['getToken'] | null} getToken */
function createIdentity(getToken) {
  let lastUser = '';

  /**
   * The token now ('' when anonymous); rejects when the app's token source does.
   * @returns {Promise<string>}
   */
  async function token() {
    if (typeof getToken !== 'function') return '';
    return (await getToken()) || '';
  }

  /**
   * The user without waiting.
   * @returns {string}
   */
  function userNow() {
    let user = lastUser;
    if (typeof getToken === 'function') {
      try {
        const t = getToken();
        if (typeof t === 'string' || t === null || t === undefined) user = subjectOf(t);
      } catch (e) {
        // an async-only token source: the user read last stands
      }
    }
    return user;
  }

  /** Read the user again (a failing token source keeps the previous one). */
  async function refresh() {
    try {
      lastUser = subjectOf(await token());
    } catch (e) {
      // keep the previous one
    }
    return lastUser;
  }

  return { token, userNow, refresh };
}

module.exports = { createIdentity };

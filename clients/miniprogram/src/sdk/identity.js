'use strict';
/**
 * Who is signed in: the app's `getToken()` (sync or async; '' or null for anonymous) and the user
 * its JWT names. Stored layouts, events and settings belong to that user. A tap's `track` is
 * given to the user the token source names when it is called: at once for a sync source, when
 * its answer comes for an async one (never to the user read last, who may have signed out).
 *
 * In-flight work belongs to an identity: a `ticket()` is the token, the user and the user's
 * epoch when the work started. The epoch moves when what the server answers for the user changes
 * under the SDK's own hand (a settings change, an erasure), so an answer for a ticket that is no
 * longer `current` (another user signed in, or the user's epoch moved) is dropped, never shown or
 * stored; `signedIn` asks only whether the same user is signed in.
 */

const { subjectOf } = require('./token');

/** @typedef {ReturnType<typeof createIdentity>} Identity */
/** @typedef {{token: string, user: string, epoch: number}} Ticket */

class IdentityChangedError extends Error {
  /** @param {string} [message] */
  constructor(message) {
    super(message || 'the signed-in user changed while the request was in flight; its answer was dropped');
    this.name = 'IdentityChangedError';
    /** @type {'identity_changed'} */
    this.code = 'identity_changed';
  }
}

/** @param {import('../../index').LayoutClientOptions['getToken'] | null} getToken */
function createIdentity(getToken) {
  let lastUser = '';
  /** @type {Record<string, number>} user -> epoch */
  const epochs = {};

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

  /**
   * The user now: at once for a sync token source, else a promise of the user its answer names
   * (the user read last when it fails), so work started now (a tap) belongs to whoever is
   * signed in now, not to whoever was read last.
   * @returns {string | Promise<string>}
   */
  function userNowOrLater() {
    if (typeof getToken !== 'function') return '';
    /** @type {unknown} */
    let answer;
    try {
      answer = getToken();
    } catch (e) {
      return lastUser;
    }
    if (answer && typeof (/** @type {{then?: unknown}} */ (answer)).then === 'function') {
      return Promise.resolve(/** @type {Promise<string | null | undefined>} */ (answer)).then((t) => {
        lastUser = subjectOf(t || '');
        return lastUser;
      }, () => lastUser);
    }
    return typeof answer === 'string' || answer === null || answer === undefined ? subjectOf(answer) : lastUser;
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

  /**
   * Who work started now belongs to; rejects when the app's token source does.
   * @returns {Promise<Ticket>}
   */
  async function ticket() {
    const value = await token();
    const user = subjectOf(value);
    lastUser = user;
    return { token: value, user, epoch: epochs[user] || 0 };
  }

  /**
   * Who work belongs to when the token source fails (a login round trip offline): the user read
   * last, with no token. Not a sign-out (that is a null token), so their stored copies may stand
   * in as for an unreachable server; the server is not asked without a token.
   * @returns {Ticket}
   */
  function lastTicket() {
    return { token: '', user: lastUser, epoch: epochs[lastUser] || 0 };
  }

  /**
   * True when the ticket's user is still the one signed in.
   * @param {Ticket} held
   */
  async function signedIn(held) {
    return (await refresh()) === held.user;
  }

  /**
   * True when the ticket's user is still signed in and nothing the SDK did changed their answers.
   * @param {Ticket} held
   */
  async function current(held) {
    return (await signedIn(held)) && (epochs[held.user] || 0) === held.epoch;
  }

  /**
   * The token the app gives now when it is another token for the ticket's user (signed in again,
   * or refreshed, while a request with the old one was out), else null: a 401 for the old token
   * is then asked again with it rather than handed to the app.
   * @param {Ticket} held
   * @returns {Promise<string | null>}
   */
  async function renewed(held) {
    let value;
    try {
      value = await token();
    } catch (e) {
      return null;
    }
    return value && value !== held.token && subjectOf(value) === held.user ? value : null;
  }

  /**
   * The user's answers change (settings saved, data erased): work in flight for them is dropped.
   * @param {string} user
   */
  function advance(user) {
    epochs[user] = (epochs[user] || 0) + 1;
  }

  return { token, userNow, userNowOrLater, refresh, ticket, lastTicket, signedIn, current, renewed, advance };
}

module.exports = { createIdentity, IdentityChangedError };

'use strict';
/**
 * The user's own data: settings (GET / PUT / PATCH as a JSON Merge Patch, RFC 7396, with a
 * GET + PUT fallback on servers without PATCH and on platforms whose request refuses the
 * method), export and erasure. A settings change marks the
 * user's stored layouts stale at once (the server will answer differently; a launch waits for
 * the new layout) and drops the user's revalidations in flight, and so does one whose answer is
 * lost or a 5xx (it may have been applied); erasure also clears what the
 * SDK stored about the user, after the server confirmed it, and drops their work in flight; it
 * waits for a flush in flight and sends none meanwhile, so no event lands after the erasure.
 * A 401 for a token the same user has replaced meanwhile is sent again with the new one.
 * Settings answered for a user who is no longer signed in reject with IdentityChangedError
 * (what they did to that user's stored copies is still done), never handed to the app.
 * On a platform whose request cannot send PUT or DELETE (an Alipay client older than 10.1.82:
 * GET and POST only; the server has no method override), putSettings / patchSettings and
 * erase() reject with UnsupportedMethodError before anything is sent, and change nothing stored
 * (patchSettings without PATCH uses GET + PUT, so it needs PUT).
 * erase() whose server call succeeded but whose local clearing the platform's storage partly
 * refused (a key it would neither remove nor blank) rejects with EraseIncompleteError naming the
 * keys, after trying every other one; those keys read as nothing from then on (store.js).
 */

const { ApiError, NetworkError, UnsupportedMethodError } = require('./http');
const { IdentityChangedError } = require('./identity');

/** @typedef {import('../../index').Settings} Settings */

class EraseIncompleteError extends Error {
  /**
   * The server erased the user, but the platform's storage would neither remove nor blank some
   * of what this SDK stored about them on this phone: `keys` names them (the rest was removed).
   * They read as nothing to this SDK from then on and are tried again when a client is next
   * created on the same storage; `result` is the server's answer ({erased: true}).
   * @param {string[]} keys
   * @param {unknown} result
   */
  constructor(keys, result) {
    super('the user was erased on the server, but this device\'s storage refused to remove ' +
      keys.length + ' stored value(s): ' + keys.join(', '));
    this.name = 'EraseIncompleteError';
    /** @type {'erase_incomplete'} */
    this.code = 'erase_incomplete';
    this.keys = keys;
    /** @type {{erased: boolean}} */
    this.result = /** @type {{erased: boolean}} */ (result);
  }
}

/**
 * RFC 7396: `patch` applied to `target` (null deletes a member; a non-object replaces).
 * @param {unknown} target
 * @param {unknown} patch
 * @returns {any}
 */
function mergePatch(target, patch) {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const changes = /** @type {Record<string, unknown>} */ (patch);
  /** @type {Record<string, unknown>} */
  const out = target && typeof target === 'object' && !Array.isArray(target)
    ? Object.assign({}, /** @type {Record<string, unknown>} */ (target)) : {};
  Object.keys(changes).forEach((key) => {
    if (changes[key] === null) delete out[key];
    else out[key] = mergePatch(out[key], changes[key]);
  });
  return out;
}

/**
 * True when `settings` (a PATCH's answer) carries `patch`: every member it sets has the value it
 * set (a member it deletes, null, may come back as the server's default). A 2xx that does not
 * was not the PATCH's (a runtime that sent it as a GET answers the unchanged settings).
 * @param {unknown} settings
 * @param {unknown} patch
 * @returns {boolean}
 */
function reflects(settings, patch) {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
    return JSON.stringify(settings) === JSON.stringify(patch);
  }
  if (!settings || typeof settings !== 'object' || Array.isArray(settings)) return false;
  const have = /** @type {Record<string, unknown>} */ (settings);
  const want = /** @type {Record<string, unknown>} */ (patch);
  return Object.keys(want).every((k) => want[k] === null || reflects(have[k], want[k]));
}

/**
 * The body of a 2xx; an ApiError for anything else.
 * @param {import('./http').Response} res
 * @returns {Promise<any>}
 */
async function expectOk(res) {
  if (res.statusCode >= 200 && res.statusCode < 300) return res.data;
  throw new ApiError(res.statusCode, res.data);
}

/**
 * @typedef {object} AccountDeps
 * @property {import('./http').Call} call
 * @property {import('./identity').Identity} identity
 * @property {import('./store').Store} store
 * @property {{dropUser(user: string): boolean, hold(user: string): Promise<void>,
 *   release(user: string): void}} events
 * @property {(user: string, value: unknown) => void} rememberPersonalization
 * @property {(user: string) => void} forget what the app was shown for the user
 * @property {(method: import('./http').Method) => boolean} [supports] whether the platform's
 *   request can send the method (all when not given)
 * @property {string} [runtime] the platform's name, for the error
 */

/** @param {AccountDeps} deps */
function createAccount(deps) {
  const { identity, store, events } = deps;
  const supports = deps.supports || (() => true);
  let patchSupported = supports('PATCH');

  /**
   * Reject at once when the platform's request cannot send `method`: nothing is sent, nothing
   * stored changes, and the app learns the operation is unavailable here (never a success).
   * @param {import('./http').Method} method
   */
  function need(method) {
    if (!supports(method)) throw new UnsupportedMethodError(method, deps.runtime);
  }

  /**
   * A request for the ticket's user; a 401 for a token the same user has replaced since
   * (signed in again, refreshed) is sent again with the new one, which the ticket keeps.
   * @param {import('./identity').Ticket} ticket
   * @param {import('./http').Method} method
   * @param {string} path
   * @param {unknown} [body]
   * @param {import('./http').Headers} [headers]
   */
  async function call(ticket, method, path, body, headers) {
    const res = await deps.call(method, path, ticket.token, body, headers);
    if (res.statusCode !== 401) return res;
    const fresh = await identity.renewed(ticket);
    if (!fresh) return res;
    ticket.token = fresh;
    return deps.call(method, path, fresh, body, headers);
  }

  /**
   * @param {string} user
   * @param {Settings | null} settings
   */
  function settingsChanged(user, settings) {
    deps.rememberPersonalization(user, settings && settings.personalization);
    identity.advance(user); // answers asked under the old settings are dropped when they come
    store.invalidateUser(user); // never drawn again while the network answers
  }

  /**
   * `change()`, a write of the user's settings; when its answer never comes (no network: the
   * request may have reached the server) or is a 5xx, the settings may have changed all the
   * same: the user's stored layouts are invalidated (and work in flight dropped) before the
   * error goes to the caller, so no launch draws the old mode from a copy that looks fresh.
   * @template T
   * @param {string} user
   * @param {() => Promise<T>} change
   * @returns {Promise<T>}
   */
  async function writing(user, change) {
    try {
      return await change();
    } catch (err) {
      if (err instanceof NetworkError || (err instanceof ApiError && err.status >= 500)) {
        identity.advance(user);
        store.invalidateUser(user);
      }
      throw err;
    }
  }

  /**
   * The answer, if its user is still the one signed in.
   * @template T
   * @param {import('./identity').Ticket} ticket
   * @param {T} value
   * @returns {Promise<T>}
   */
  async function forCurrent(ticket, value) {
    if (!(await identity.signedIn(ticket))) throw new IdentityChangedError();
    return value;
  }

  /** @returns {Promise<Settings>} */
  async function getSettings() {
    const ticket = await identity.ticket();
    const settings = await expectOk(await call(ticket, 'GET', '/v1/me/settings'));
    deps.rememberPersonalization(ticket.user, settings && settings.personalization);
    return forCurrent(ticket, settings);
  }

  /**
   * @param {Settings} settings
   * @returns {Promise<Settings>}
   */
  async function putSettings(settings) {
    need('PUT');
    const ticket = await identity.ticket();
    const saved = await writing(ticket.user,
      async () => expectOk(await call(ticket, 'PUT', '/v1/me/settings', settings)));
    settingsChanged(ticket.user, saved);
    return forCurrent(ticket, saved);
  }

  /**
   * @param {Partial<Record<keyof Settings, unknown>>} patch
   * @returns {Promise<Settings>}
   */
  async function patchSettings(patch) {
    if (!supports('PATCH')) need('PUT'); // GET + PUT is the way without PATCH
    const ticket = await identity.ticket();
    return writing(ticket.user, () => patchFor(ticket, patch));
  }

  /**
   * @param {import('./identity').Ticket} ticket
   * @param {Partial<Record<keyof Settings, unknown>>} patch
   * @returns {Promise<Settings>}
   */
  async function patchFor(ticket, patch) {
    if (patchSupported) {
      let res;
      try {
        res = await call(ticket, 'PATCH', '/v1/me/settings', patch, { 'Content-Type': 'application/merge-patch+json' });
      } catch (err) {
        // wx.request, tt.request and my.request list no PATCH: a platform that refuses the
        // method fails the request. The GET below tells it from the network being down (then
        // it fails too, and rejects); when it answers, the platform refused PATCH
        if (!(err instanceof NetworkError) && !(err instanceof UnsupportedMethodError)) throw err;
      }
      if (res && res.statusCode !== 405 && res.statusCode !== 404) {
        const saved = await expectOk(res);
        if (reflects(saved, patch)) {
          settingsChanged(ticket.user, saved);
          return forCurrent(ticket, saved);
        }
        // a 2xx without the patch in it: the runtime sent something else (wx and tt list no
        // PATCH; one that sends it as a GET answers the unchanged settings), never a success.
        // Were it the server's own answer (it changed a value), the PUT below writes it again
      }
      patchSupported = false; // a server older than PATCH, or a runtime without it: read, merge, replace
    }
    need('PUT');
    const stored = await expectOk(await call(ticket, 'GET', '/v1/me/settings'));
    const saved = await expectOk(await call(ticket, 'PUT', '/v1/me/settings', mergePatch(stored, patch)));
    settingsChanged(ticket.user, saved);
    return forCurrent(ticket, saved);
  }

  /** @returns {Promise<{erased: boolean}>} */
  async function erase() {
    need('DELETE');
    const ticket = await identity.ticket();
    const user = ticket.user;
    // a flush in flight is answered first and none starts meanwhile: no event of the user may
    // reach the server after its erasure
    await events.hold(user);
    let body;
    try {
      body = await expectOk(await call(ticket, 'DELETE', '/v1/me'));
    } finally {
      events.release(user);
    }
    identity.advance(user); // a revalidation in flight must not store the user's layout again
    const left = store.removeUser(user); // every key tried, whatever the others do
    if (!events.dropUser(user)) {
      // the stored queue still holds the user's events (the storage kept it): never restored
      const queued = store.prefix + 'events';
      store.markErased([queued], user);
      left.push(queued);
    }
    deps.forget(user);
    // never a success while the phone still holds some of it: the app must not tell the user
    // everything is gone
    if (left.length) throw new EraseIncompleteError(left, body);
    return body;
  }

  /** @returns {Promise<{user: string, data: Record<string, unknown>}>} */
  async function exportData() {
    const ticket = await identity.ticket();
    return forCurrent(ticket, await expectOk(await call(ticket, 'GET', '/v1/me/data')));
  }

  return { getSettings, putSettings, patchSettings, erase, exportData };
}

module.exports = { createAccount, mergePatch, EraseIncompleteError };

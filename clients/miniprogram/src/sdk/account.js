'use strict';
/**
 * The user's own data: settings (GET / PUT / PATCH as a JSON Merge Patch, RFC 7396, with a
 * GET + PUT fallback on servers without PATCH), export and erasure. A settings change marks the
 * user's stored layouts stale (the server will answer differently); erasure also clears what
 * the SDK stored about the user, after the server confirmed it.
 */

const { ApiError } = require('./http');
const { subjectOf } = require('./token');

/** @typedef {import('../../index').Settings} Settings */

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
 * @property {() => Promise<string>} token
 * @property {import('./store').Store} store
 * @property {{dropUser(user: string): void}} events
 * @property {(user: string, value: unknown) => void} rememberPersonalization
 * @property {(user: string) => void} forget what the app was shown for the user
 */

/** @param {AccountDeps} deps */
function createAccount(deps) {
  const { call, token, store, events } = deps;
  let patchSupported = true;

  /**
   * @param {string} user
   * @param {Settings | null} settings
   */
  function settingsChanged(user, settings) {
    deps.rememberPersonalization(user, settings && settings.personalization);
    store.invalidateUser(user); // never "fresh" again: the next launch revalidates
  }

  /** @returns {Promise<Settings>} */
  async function getSettings() {
    const t = await token();
    const settings = await expectOk(await call('GET', '/v1/me/settings', t));
    deps.rememberPersonalization(subjectOf(t), settings && settings.personalization);
    return settings;
  }

  /**
   * @param {Settings} settings
   * @returns {Promise<Settings>}
   */
  async function putSettings(settings) {
    const t = await token();
    const saved = await expectOk(await call('PUT', '/v1/me/settings', t, settings));
    settingsChanged(subjectOf(t), saved);
    return saved;
  }

  /**
   * @param {Partial<Record<keyof Settings, unknown>>} patch
   * @returns {Promise<Settings>}
   */
  async function patchSettings(patch) {
    const t = await token();
    if (patchSupported) {
      const res = await call('PATCH', '/v1/me/settings', t, patch,
        { 'Content-Type': 'application/merge-patch+json' });
      if (res.statusCode !== 405 && res.statusCode !== 404) {
        const saved = await expectOk(res);
        settingsChanged(subjectOf(t), saved);
        return saved;
      }
      patchSupported = false; // a server older than PATCH: read, merge, replace
    }
    const stored = await expectOk(await call('GET', '/v1/me/settings', t));
    const saved = await expectOk(await call('PUT', '/v1/me/settings', t, mergePatch(stored, patch)));
    settingsChanged(subjectOf(t), saved);
    return saved;
  }

  /** @returns {Promise<{erased: boolean}>} */
  async function erase() {
    const t = await token();
    const body = await expectOk(await call('DELETE', '/v1/me', t));
    const user = subjectOf(t);
    store.removeUser(user);
    events.dropUser(user);
    deps.forget(user);
    return body;
  }

  /** @returns {Promise<{user: string, data: Record<string, unknown>}>} */
  async function exportData() {
    return expectOk(await call('GET', '/v1/me/data', await token()));
  }

  return { getSettings, putSettings, patchSettings, erase, exportData };
}

module.exports = { createAccount, mergePatch };

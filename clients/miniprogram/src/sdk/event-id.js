'use strict';
/**
 * Event ids: made once, when an event is tracked, and sent with every attempt to deliver it
 * (retries, and after an app restart: the id is stored with the queued event), so the server
 * counts a resent batch once. The server takes 8-64 characters of `A-Z a-z 0-9 _ -` and
 * remembers a user's ids for 7 days (at most the last 1,000).
 *
 * An id is the tracking time in ms (base 36, 8-9 characters), `-`, and 18 base-36 characters
 * of randomness (three 6-character draws, ~93 bits): 27-28 characters, unique per user without
 * coordination. The randomness is `Math.random` (not the injected `random`, which tests pin for
 * the backoff's jitter): ids need to be unique, not secret.
 */

const ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;
const DRAW = Math.pow(36, 6);

/**
 * @param {unknown} id
 * @returns {id is string}
 */
function isEventId(id) {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

/**
 * @param {() => number} now ms
 * @param {() => number} [random] in [0, 1) (default Math.random)
 * @returns {() => string}
 */
function createEventIds(now, random) {
  const draw = random || Math.random;
  /** @param {number} n */
  const six = (n) => ('000000' + Math.floor(n * DRAW).toString(36)).slice(-6);
  return function newEventId() {
    return Math.max(0, Math.floor(now())).toString(36) + '-' + six(draw()) + six(draw()) + six(draw());
  };
}

/**
 * FNV-1a 32-bit of `text`'s UTF-16 code units, from `seed`.
 * @param {string} text
 * @param {number} seed
 */
function fnv(text, seed) {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The id of an event stored without one (an older SDK's queue): made from what is stored (the
 * event, its user and its place in the stored queue), so every restart that reads the same
 * stored queue gives the same id, even when the SDK cannot write the ids back (storage full),
 * and two clients on one storage give the same. Same form as `createEventIds`: the event's time
 * in ms (base 36), `-`, 21 base-36 characters (three FNV-1a hashes).
 * @param {string} user
 * @param {object} event as stored, without a usable id
 * @param {number} position its index in the stored queue
 * @returns {string}
 */
function restoredEventId(user, event, position) {
  const e = /** @type {{ts?: unknown}} */ (event);
  const ms = typeof e.ts === 'number' && isFinite(e.ts) ? Math.max(0, Math.floor(e.ts * 1000)) : 0;
  const text = JSON.stringify([user, event, position]);
  const part = (/** @type {number} */ seed) => ('0000000' + fnv(text, seed).toString(36)).slice(-7);
  return ms.toString(36) + '-' + part(0x811c9dc5) + part(0x01000193) + part(0x5bd1e995);
}

module.exports = { createEventIds, isEventId, restoredEventId, ID_PATTERN };

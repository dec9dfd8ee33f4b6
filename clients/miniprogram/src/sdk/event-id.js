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

module.exports = { createEventIds, isEventId, ID_PATTERN };

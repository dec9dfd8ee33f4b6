'use strict';
/**
 * How far the SDK's clock is from the server's, learned from the `Date` header of every answer
 * (RFC 9110 6.6.1: the origin's time when it made the answer). Events are timed on the server's
 * clock when the two differ by more than SKEW_MS: a phone whose clock is a year behind would put
 * its events a year back (the server takes past times as they are), a year ahead refused. Within
 * SKEW_MS (network delay, the header's one-second resolution, a clock a little off) the SDK's own
 * clock stands. An event tracked before any answer had a Date (the launch's first view, offline)
 * is moved onto the server's clock when it is sent, once the clock is known (events.js). Only
 * the API's own answers (JSON, or a 304) teach the clock: a gateway's or portal's page does not.
 */

const { headerValue } = require('./http');
const { parseHttpDate } = require('./retry-after');

/** A difference below this (ms) is noise, not a wrong clock. */
const SKEW_MS = 60 * 60 * 1000;

/** @param {() => number} now the SDK's clock (ms) */
function createServerClock(now) {
  let offset = 0;
  let known = false;

  /**
   * Learn from an answer (any status).
   * @param {import('./http').Response} res
   */
  function observe(res) {
    const t = now();
    const server = parseHttpDate(headerValue(res.header, 'date'), t);
    if (server !== null) {
      offset = server - t;
      known = true;
    }
  }

  /** The offset (ms) to add to the SDK's clock, 0 while it is within SKEW_MS of the server's. */
  function correction() {
    return Math.abs(offset) >= SKEW_MS ? offset : 0;
  }

  /**
   * The server's time now as best known (ms): the SDK's clock plus the offset last learned, the
   * SDK's clock while no answer had a Date. What a Retry-After date on an answer without a Date
   * is read against, so a phone's wrong clock does not stretch or cancel the wait.
   */
  function serverNow() {
    return now() + offset;
  }

  return { observe, correction, serverNow, known: () => known };
}

/**
 * `call`, observing each answer's Date.
 * @param {import('./http').Call} call
 * @param {{observe(res: import('./http').Response): void}} clock
 * @returns {import('./http').Call}
 */
function observed(call, clock) {
  return (method, path, tokenValue, body, headers) => call(method, path, tokenValue, body, headers)
    .then((res) => {
      if (fromTheServer(res)) clock.observe(res);
      return res;
    });
}

/**
 * True for an answer the server made: a 304, or a body that is JSON (every answer of the API
 * is). A page of text or HTML (a gateway's error page, a portal's sign-in page) carries another
 * machine's clock, which must not move the events' times.
 * @param {import('./http').Response} res
 */
function fromTheServer(res) {
  return res.statusCode === 304 || (!!res.data && typeof res.data === 'object');
}

module.exports = { createServerClock, observed, SKEW_MS };

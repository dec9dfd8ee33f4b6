'use strict';
/**
 * Cache-Control parsing and freshness arithmetic (RFC 9111 5.2, RFC 5861).
 *
 * Every interval comes from the response that stored the layout, never from a constant:
 * `max-age` (fresh: show, no request), `stale-while-revalidate` (show, revalidate in the
 * background), `stale-if-error` (show when the server cannot be reached). Seconds on the wire,
 * milliseconds in the SDK (the injected `now()` clock is in ms). An answer's `Age` (the time it
 * spent in caches on the way) is counted into its stored copy's age: it is stored as received
 * that long ago.
 */

/** @typedef {import('../../index').CacheControl} CacheControl */

/** The largest Age (and delta-seconds) a cache must take, in seconds (RFC 9111 1.2.2). */
const MAX_DELTA_SECONDS = 2147483648;
/** @typedef {import('../../index').StoredTiming} StoredTiming */

/**
 * A directive given more than once with different values (two `max-age`s, on one line or two):
 * RFC 9111 4.2.1 lets a cache use the first or take the response as stale; the SDK takes it as
 * stale (max-age 0), as for a max-age that is not delta-seconds, and the smaller of two stale-while-revalidate or stale-if-error windows,
 * never the longer one a damaged or doubled header would grant.
 * @param {string | string[] | null | undefined} header
 * @returns {CacheControl}
 */
function parseCacheControl(header) {
  const out = {
    maxAge: 0, staleWhileRevalidate: 0, staleIfError: 0,
    noStore: false, noCache: false,
  };
  if (!header) return out;
  const text = Array.isArray(header) ? header.join(',') : String(header);
  /** @type {Record<string, number>} directive -> the value it was first given */
  const given = {};
  /** @type {Record<string, boolean>} directives given twice with different values */
  const conflicting = {};
  text.split(',').forEach((part) => {
    const piece = part.trim().toLowerCase();
    if (!piece) return;
    const eq = piece.indexOf('=');
    const name = eq < 0 ? piece : piece.slice(0, eq).trim();
    const raw = eq < 0 ? '' : piece.slice(eq + 1).trim().replace(/^"|"$/g, '');
    // at most 2^31 (RFC 9111 1.2.2): a longer one is as long, never a number the store refuses
    const seconds = /^\d+$/.test(raw) ? Math.min(MAX_DELTA_SECONDS, parseInt(raw, 10)) : NaN;
    if (name === 'no-store') out.noStore = true;
    else if (name === 'no-cache') out.noCache = true;
    else if (name === 'max-age' && isNaN(seconds)) conflicting[name] = true; // invalid: stale (4.2.1)
    else if (!isNaN(seconds) && (name === 'max-age' || name === 'stale-while-revalidate' || name === 'stale-if-error')) {
      if (Object.prototype.hasOwnProperty.call(given, name)) {
        if (given[name] !== seconds) conflicting[name] = true;
        given[name] = Math.min(given[name], seconds);
      } else {
        given[name] = seconds;
      }
    }
  });
  if (given['max-age'] !== undefined && !conflicting['max-age']) out.maxAge = given['max-age'];
  if (given['stale-while-revalidate'] !== undefined) out.staleWhileRevalidate = given['stale-while-revalidate'];
  if (given['stale-if-error'] !== undefined) out.staleIfError = given['stale-if-error'];
  return out;
}


/**
 * The `Age` header in ms (RFC 9111 5.1: how long the answer already spent in caches on the way;
 * 4.2.3 counts it into the stored copy's age): 0 when absent or not delta-seconds, at most
 * 2^31 s (1.2.2).
 * @param {string | string[] | null | undefined} header
 * @returns {number}
 */
function ageMs(header) {
  const text = Array.isArray(header) ? String(header[0]) : header;
  if (typeof text !== 'string' || !/^\s*\d+\s*$/.test(text)) return 0;
  const digits = text.trim().replace(/^0+(?=\d)/, '');
  return (digits.length > 10 ? MAX_DELTA_SECONDS : Math.min(MAX_DELTA_SECONDS, parseInt(digits, 10))) * 1000;
}

/**
 * Where a stored entry stands at `now` (ms): "fresh" (age <= max-age: show it, ask nothing),
 * "stale" (age <= max-age + stale-while-revalidate: show it, revalidate in the background) or
 * "expired" (too old to show without asking). An entry marked `invalidated` (the user changed
 * settings, so the server will answer differently) is never fresh, nor is one stored after `now`
 * (a clock that was ahead when it was stored: "stale", revalidated at once).
 * @param {StoredTiming | null | undefined} entry
 * @param {number} now
 * @returns {'fresh' | 'stale' | 'expired'}
 */
function freshness(entry, now) {
  if (!entry) return 'expired';
  // stored "in the future" (the clock was ahead, then corrected): its age is unknown, so it is
  // shown while it is revalidated, never trusted as fresh
  if (!(entry.storedAt <= now)) return 'stale';
  const age = now - entry.storedAt;
  const cc = cacheControlOf(entry);
  const maxAge = (cc.maxAge || 0) * 1000;
  if (age < maxAge && !entry.invalidated && !cc.noCache) return 'fresh';
  if (age <= maxAge + (cc.staleWhileRevalidate || 0) * 1000) return 'stale';
  return 'expired';
}

/**
 * True when the stored entry may stand in for a failed request: age <= max-age + stale-if-error
 * (RFC 5861 section 4); never for one stored after `now` (its age is unknown).
 * @param {StoredTiming | null | undefined} entry
 * @param {number} now
 */
function usableOnError(entry, now) {
  if (!entry || !(entry.storedAt <= now)) return false; // stored "in the future": age unknown
  const age = now - entry.storedAt;
  const cc = cacheControlOf(entry);
  return age <= ((cc.maxAge || 0) + (cc.staleIfError || 0)) * 1000;
}

/**
 * @param {StoredTiming} entry
 * @returns {Partial<CacheControl>}
 */
function cacheControlOf(entry) {
  return entry.cacheControl || {};
}

module.exports = { parseCacheControl, freshness, usableOnError, ageMs };

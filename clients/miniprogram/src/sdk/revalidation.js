'use strict';
/**
 * Revalidation: one conditional GET of a layout (`If-None-Match` with the stored copy's ETag)
 * and what its answer means for the stored copy, read from the answer's own Cache-Control:
 * - 200: the new layout, stored with the response's intervals ("updated"); a `no-store` answer
 *   (the server's degraded mode) is shown once, never stored, and a stored copy still within
 *   stale-if-error wins over it;
 * - 304: the stored copy's clock restarts ("not_modified"), less the answer's `Age` (as for a 200);
 *   a 304 whose ETag names another version updates nothing: asked again without a validator;
 * - no network, no token, a 5xx: the stored copy while within max-age + stale-if-error
 *   ("offline"), else the bundled default or null ("expired");
 * - a 429 or 5xx with Retry-After (delta-seconds or an HTTP-date, at most an hour): no layout
 *   request until then; the stored copy or the default stands in, as for an error;
 * - a 200 whose body is not a layout (damaged, another schema): as an error, never stored;
 * - a 428 the SDK could not answer by registering its capabilities (offline): as an error;
 * - a 401 for a token the app has since replaced with another for the same user (signed in
 *   again, refreshed): asked again with the new token, never handed to the app;
 * - another 4xx: rejects with the ApiError (the caller got something wrong).
 * Concurrent revalidations of one layout for one user (and one epoch: never one asked before
 * the SDK changed the user's settings) share a request; each result that changes
 * what the app shows goes to the `onUpdate` listeners. An answer that arrives when its user is no
 * longer signed in (or their settings changed, or they were erased, since it was asked) is
 * dropped: not stored, not announced, "superseded" with no layout.
 */

const { parseCacheControl, usableOnError, ageMs } = require('./cache-control');
const { headerValue, NetworkError, ApiError } = require('./http');
const { contextQuery } = require('./context');
const { SCHEMA, isUsableLayout, bundledLayout } = require('./layout');
const { keyOf } = require('./updates');
const { retryAfterMs } = require('./retry-after');

/** The longest a layout answer's Retry-After holds requests back: an hour. */
const RETRY_AFTER_MAX_MS = 60 * 60 * 1000;

/** @typedef {import('../../index').Layout} Layout */
/** @typedef {import('../../index').LayoutContext} LayoutContext */
/** @typedef {import('../../index').RevalidateResult} RevalidateResult */
/** @typedef {import('./store').StoredEntry} StoredEntry */
/** @typedef {ReturnType<typeof createRevalidation>} Revalidation */

/** @type {RevalidateResult} the answer came for a user (or settings) no longer current */
const SUPERSEDED = Object.freeze({ layout: null, status: 'superseded', etag: null });

/**
 * @typedef {object} RevalidationDeps
 * @property {import('./http').Call} call
 * @property {import('./identity').Identity} identity
 * @property {import('./store').Store} store
 * @property {() => number} now ms
 * @property {import('./updates').Updates} updates
 * @property {Record<string, Layout> | null | undefined} defaults the app's bundled layouts
 * @property {() => LayoutContext} context the runtime's context, when the caller gives none
 * @property {(user: string, strength: number) => void} rememberPersonalization
 * @property {(err: unknown) => void} onError
 * @property {() => number} [serverNow] ms, the server's clock as last learned (server-clock.js)
 * @property {ReturnType<typeof import('./capabilities').createCapabilities>} [capabilities] what
 *   the renderer draws, sent with every layout request (`X-UI-Capabilities`)
 */

/**
 * True when a 304's ETag names the stored version: none (RFC 9110 allows leaving it out), or the
 * same opaque tag, weakly compared (W/ ignored: RFC 9110 8.8.3.2).
 * @param {string | undefined} answered the 304's ETag
 * @param {string | null} stored
 */
function sameVersion(answered, stored) {
  if (!answered) return true;
  const opaque = (/** @type {string} */ tag) => tag.trim().replace(/^W\//, '');
  return !!stored && opaque(answered) === opaque(stored);
}

/** @param {RevalidationDeps} deps */
function createRevalidation(deps) {
  const { call, identity, store, now, updates } = deps;
  /** @type {Record<string, Promise<RevalidateResult> | undefined>} user|page|query -> the request in flight */
  const inflight = {};

  /** The server's Retry-After on a layout answer: no layout request from `from` until `until` (ms). */
  const hold = { from: 0, until: 0 };

  /**
   * Remember a 503/429's Retry-After (RFC 9110 10.2.3; bounded by RETRY_AFTER_MAX_MS).
   * @param {import('./http').Response} res
   */
  function holdBack(res) {
    const t = now();
    // a date on an answer without a Date header is read against the server's clock as last learned
    const wait = retryAfterMs(headerValue(res.header, 'retry-after'), headerValue(res.header, 'date'),
      deps.serverNow ? deps.serverNow() : t, RETRY_AFTER_MAX_MS);
    if (wait > 0) {
      hold.from = t;
      hold.until = t + wait;
    }
  }

  /** True while a Retry-After holds layout requests back (a clock set back since releases it). */
  function heldBack() {
    const t = now();
    return t >= hold.from && t < hold.until;
  }

  /**
   * What stands in when the server cannot be asked or cannot answer.
   * @param {StoredEntry | null} entry
   * @param {string} page
   * @param {unknown} reason the error, reported
   * @returns {RevalidateResult}
   */
  function fallback(entry, page, reason) {
    if (reason) deps.onError(reason);
    if (entry && usableOnError(entry, now())) {
      return { layout: entry.layout, status: 'offline', etag: entry.etag };
    }
    return { layout: bundledLayout(deps.defaults, page), status: 'expired', etag: null };
  }

  /**
   * @param {string} page
   * @param {string} query
   * @param {import('./identity').Ticket} ticket who asks
   * @param {boolean} [unconditional] ask without If-None-Match (a 304 named another version)
   * @returns {Promise<{key: string | null, result: RevalidateResult}>}
   */
  async function fetchLayout(page, query, ticket, unconditional) {
    const { user, token: tokenValue } = ticket;
    const key = keyOf(user, page, query);
    const entry = store.get(user, page, query); // validated: a damaged copy is dropped, never revalidated
    /** @type {import('./http').Headers} */
    const header = {};
    if (entry && entry.etag && !unconditional) header['If-None-Match'] = entry.etag;
    let res;
    if (heldBack()) return { key, result: fallback(entry, page, null) }; // the server asked for a pause
    const path = '/v1/layouts/' + encodeURIComponent(page) + (query ? '?' + query : '');
    const caps = deps.capabilities;
    /** @param {string} bearer */
    const ask = async (bearer) => {
      const first = await call('GET', path, bearer, undefined, Object.assign({}, header, caps && caps.headers()));
      const again = caps && first.statusCode === 428 ? await caps.recover(bearer) : null;
      return again ? call('GET', path, bearer, undefined, Object.assign({}, header, again)) : first;
    };
    try {
      res = await ask(tokenValue);
      // refused for a token the user has replaced meanwhile (signed in again): ask with the new one
      const renewed = res.statusCode === 401 ? await identity.renewed(ticket) : null;
      if (renewed) res = await ask(renewed);
    } catch (err) {
      if (!(err instanceof NetworkError)) throw err;
      if (!(await identity.current(ticket))) return { key: null, result: SUPERSEDED };
      return { key, result: fallback(entry, page, err) };
    }
    if (!(await identity.current(ticket))) return { key: null, result: SUPERSEDED };
    const status = res.statusCode;
    const cacheControlHeader = headerValue(res.header, 'cache-control');
    const cc = parseCacheControl(cacheControlHeader);
    // the answer's own age (RFC 9111 4.2.3): it was made that long before it arrived
    const storedAt = now() - ageMs(headerValue(res.header, 'age'));
    const drawnBy = caps ? caps.value() : undefined;
    if (status === 304 && entry && !sameVersion(headerValue(res.header, 'etag'), entry.etag)) {
      // a 304 naming another version updates nothing (RFC 9111 4.3.4; a cache answering for
      // another copy): asked again without a validator, once
      if (!unconditional) return fetchLayout(page, query, ticket, true);
      return { key, result: fallback(entry, page, new ApiError(304, null)) };
    }
    if (status === 304 && entry) {
      entry.storedAt = storedAt;
      if (drawnBy !== undefined) entry.drawnBy = drawnBy; // the server says it stands for this renderer too
      if (cacheControlHeader) entry.cacheControl = cc;
      entry.invalidated = false;
      store.put(user, page, query, entry, now());
      return { key, result: { layout: entry.layout, status: 'not_modified', etag: entry.etag } };
    }
    if (status === 200) {
      const layout = res.data;
      if (!isUsableLayout(layout)) {
        const err = new ApiError(200, { error: { code: 'unsupported_schema',
          message: 'layout schema ' + (layout && layout.schema) + ' is not ' + SCHEMA, field: 'schema' } });
        // a damaged or foreign body stands for an error: the stored copy within stale-if-error
        return { key, result: fallback(entry, page, err) };
      }
      const etag = headerValue(res.header, 'etag') || null;
      if (user && layout.personalization && typeof layout.personalization.strength === 'number') {
        deps.rememberPersonalization(user, layout.personalization.strength);
      }
      if (cc.noStore) {
        // a degraded answer (the server's store is down): shown once, never stored, and the
        // user's own stored layout wins over it while it may stand in for an error
        if (entry && usableOnError(entry, now())) {
          return { key, result: { layout: entry.layout, status: 'offline', etag: entry.etag } };
        }
        return { key, result: { layout, status: 'updated', etag } };
      }
      /** @type {StoredEntry} */
      const fresh = { layout, etag, storedAt, cacheControl: cc };
      if (drawnBy !== undefined) fresh.drawnBy = drawnBy;
      store.put(user, page, query, fresh, now());
      return { key, result: { layout, status: 'updated', etag } };
    }
    // 428 here: the capabilities could not be registered (offline, refused): as unreachable
    if (status >= 500 || status === 304 || status === 429 || status === 428) {
      // a 428 whose registration was answered 5xx/429: that answer's Retry-After counts
      const busy = status === 428 && caps ? caps.busy() : null;
      holdBack(busy || res);
      return { key, result: fallback(entry, page, new ApiError(status, res.data)) };
    }
    throw new ApiError(status, res.data);
  }

  /**
   * Revalidate one layout (the current context unless one is given); see the module's comment.
   * @param {string} page
   * @param {LayoutContext} [context]
   * @returns {Promise<RevalidateResult>}
   */
  function revalidate(page, context) {
    const ctx = context || deps.context();
    const query = contextQuery(ctx);
    return identity.ticket().then((ticket) => {
      // shared within one epoch: one asked before a settings change is dropped when it answers
      const sharedKey = keyOf(ticket.user, page, query) + '|' + ticket.epoch;
      const shared = inflight[sharedKey];
      if (shared) return shared;
      const promise = fetchLayout(page, query, ticket).then(({ key, result }) => {
        if (key) updates.emit(key, page, result);
        return result;
      });
      inflight[sharedKey] = promise;
      const clear = () => { delete inflight[sharedKey]; };
      promise.then(clear, clear);
      return promise;
    }, (err) => {
      // no token (a failed login round trip): as unreachable as the server, for the user read last
      const last = identity.lastTicket();
      return fallback(last.user ? store.get(last.user, page, query) : null, page, err);
    });
  }

  /**
   * A revalidation nobody waits on: its errors go to onError, it resolves null for them.
   * @param {string} page
   * @param {LayoutContext} ctx
   * @returns {Promise<RevalidateResult | null>}
   */
  function background(page, ctx) {
    return revalidate(page, ctx).catch((err) => {
      deps.onError(err);
      return null;
    });
  }

  return { revalidate, background };
}

module.exports = { createRevalidation };

'use strict';
/**
 * Preview: a designer's saved draft on a real phone. The console's QR code carries a signed,
 * short-lived preview token (`POST /v1/admin/preview-tokens/{page}`, 10 minutes); the
 * mini-program reads it from its launch query (`previewFromQuery`) and starts preview mode.
 * While it is on, launch and revalidate GET `/v1/preview/layouts/{page}?preview_token=...` (the
 * token is the credential: no user token is sent) instead of the live layout route, and:
 * - nothing is read from or written to storage (no stored copy, no index): a draft never stays
 *   on the phone, nor is it shown to the user later; no events are queued (`track` is false);
 * - every launched page is polled each `pollMs` (3000 ms) and each changed draft (another body)
 *   goes to the `onUpdate` listeners with `meta.preview` true: a save in the console reloads;
 * - a 401 (the token expired, was forged or is for another page) ends preview mode: the polled
 *   pages are revalidated on the live route and handed to the listeners, the launch in hand
 *   falls back to the live launch; `stopPreview()` ends it the same way, minus the 401;
 * - a 422 (the saved draft fails lint), a 200 that is not a layout (an ApiError
 *   `unsupported_schema`) or no network: launch/revalidate reject with the
 *   ApiError/NetworkError, a poll reports it to onError and keeps polling; after a 503 or 429
 *   with Retry-After the next poll waits that long (at most an hour) when it is longer.
 */

const { ApiError, headerValue } = require('./http');
const { SCHEMA, isUsableLayout } = require('./layout');
const { retryAfterMs } = require('./retry-after');

/** How often a previewed page asks for the draft again (ms): a save shows within this. */
const POLL_MS = 3000;
/** The longest a 503/429's Retry-After holds the polls back (ms), as for layouts: an hour. */
const RETRY_AFTER_MAX_MS = 60 * 60 * 1000;

/** @typedef {import('../../index').Layout} Layout */
/** @typedef {import('../../index').LayoutContext} LayoutContext */
/** @typedef {import('../../index').LaunchResult} LaunchResult */
/** @typedef {import('../../index').RevalidateResult} RevalidateResult */
/** @typedef {import('../../index').PreviewOptions} PreviewOptions */

/**
 * The preview token in a launch query: `preview_token`, or inside `q` (WeChat's "scan a plain QR
 * code to open the mini-program" passes the scanned URL, percent-encoded, as `q`).
 * @param {Record<string, unknown> | null | undefined} query `onLaunch`/`onLoad` options.query
 * @returns {string | null}
 */
function previewFromQuery(query) {
  if (!query || typeof query !== 'object') return null;
  const direct = query.preview_token;
  if (typeof direct === 'string' && direct) return direct;
  const q = query.q;
  if (typeof q !== 'string' || q.length > 4096) return null;
  let url;
  try { url = decodeURIComponent(q); } catch (e) { return null; }
  const match = /[?&]preview_token=([^&#]+)/.exec(url);
  return match ? match[1] : null;
}

/**
 * @typedef {object} PreviewDeps
 * @property {import('./http').Call} call
 * @property {import('../../index').Scheduler} scheduler
 * @property {(page: string, layout: Layout, meta: import('../../index').UpdateMeta) => void} announce
 *   hands a layout to the onUpdate listeners
 * @property {(page: string, context: LayoutContext) => unknown} goLive revalidates `page` on the
 *   live route and announces it (even a version announced before the preview)
 * @property {() => LayoutContext} context
 * @property {() => number} now ms, for Retry-After
 * @property {() => number} [serverNow] ms, the server's clock as last learned: a Retry-After date
 *   on an answer without a Date header is read against it
 * @property {(err: unknown) => void} onError
 */

/** @param {PreviewDeps} deps */
function createPreview(deps) {
  /** @type {{token: string, pollMs: number} | null} */
  let state = null;
  /** @type {Record<string, {context: LayoutContext, body: string, timer: unknown}>} page -> poll */
  let polled = {};
  /** ms the last 503/429's Retry-After asks the next poll to wait (0: none) */
  let pause = 0;

  /**
   * Start (or switch to another token): launches and revalidations show the draft from now on.
   * @param {string} token
   * @param {PreviewOptions} [options]
   */
  function start(token, options) {
    if (typeof token !== 'string' || !token) throw new TypeError('a preview token is required');
    stop(false);
    const pollMs = (options && options.pollMs) || POLL_MS;
    state = { token, pollMs };
  }

  /**
   * End preview mode: polls stop; with `back` (default) the polled pages are revalidated live
   * and announced, so the app leaves the draft.
   * @param {boolean} [back]
   */
  function stop(back) {
    const pages = polled;
    polled = {};
    state = null;
    Object.keys(pages).forEach((page) => deps.scheduler.clearTimeout(pages[page].timer));
    if (back === false) return;
    Object.keys(pages).forEach((page) => deps.goLive(page, pages[page].context));
  }

  /**
   * The draft for `page`; null when the token was refused (preview mode has ended).
   * @param {string} page
   * @returns {Promise<Layout | null>}
   */
  async function fetchDraft(page) {
    if (!state) return null;
    const token = state.token;
    const path = '/v1/preview/layouts/' + encodeURIComponent(page) + '?preview_token=' + encodeURIComponent(token);
    const res = await deps.call('GET', path, '');
    if (res.statusCode === 200) {
      if (isUsableLayout(res.data)) return res.data;
      // valid JSON of another shape (an array, an error body, a document without components):
      // an error, never a draft handed to the app
      throw new ApiError(200, { error: { code: 'unsupported_schema', field: 'schema',
        message: 'preview layout schema ' + (res.data && res.data.schema) + ' is not ' + SCHEMA } });
    }
    if (res.statusCode === 401) {
      if (state && state.token === token) stop(true);
      return null;
    }
    if (res.statusCode === 503 || res.statusCode === 429) {
      pause = retryAfterMs(headerValue(res.header, 'retry-after'), headerValue(res.header, 'date'),
        deps.serverNow ? deps.serverNow() : deps.now(), RETRY_AFTER_MAX_MS);
    }
    throw new ApiError(res.statusCode, res.data);
  }

  /**
   * Poll `page` every pollMs while preview mode is on; a changed body goes to the listeners.
   * @param {string} page
   * @param {LayoutContext} context
   * @param {Layout} shown the draft the app has now
   */
  function follow(page, context, shown) {
    if (!state) return;
    const previous = polled[page];
    if (previous) deps.scheduler.clearTimeout(previous.timer);
    const entry = { context, body: JSON.stringify(shown), timer: /** @type {unknown} */ (null) };
    polled[page] = entry;
    const tick = () => {
      if (polled[page] !== entry) return;
      fetchDraft(page).then((layout) => {
        if (!layout || polled[page] !== entry) return;
        const body = JSON.stringify(layout);
        if (body !== entry.body) {
          entry.body = body;
          deps.announce(page, layout, { etag: null, status: 'updated', applyNow: true, preview: true });
        }
      }, deps.onError).then(() => {
        const wait = Math.max(state ? state.pollMs : 0, pause);
        pause = 0;
        if (state && polled[page] === entry) entry.timer = deps.scheduler.setTimeout(tick, wait);
      });
    };
    entry.timer = deps.scheduler.setTimeout(tick, state.pollMs);
  }

  /**
   * revalidate() in preview mode; null when the token was refused (the caller goes live).
   * @param {string} page
   * @param {LayoutContext} [context]
   * @returns {Promise<RevalidateResult | null>}
   */
  async function revalidate(page, context) {
    const layout = await fetchDraft(page);
    if (!layout) return null;
    follow(page, context || deps.context(), layout);
    return { layout, status: 'updated', etag: null };
  }

  /**
   * launch() in preview mode: always the network; null when the token was refused.
   * @param {string} page
   * @param {LayoutContext} [context]
   * @returns {Promise<LaunchResult | null>}
   */
  async function launch(page, context) {
    const result = await revalidate(page, context);
    if (!result || !result.layout) return null;
    return { layout: result.layout, source: 'network', etag: null, revalidation: Promise.resolve(null) };
  }

  return { start, stop, launch, revalidate, active: () => state !== null };
}

module.exports = { createPreview, previewFromQuery, POLL_MS };

'use strict';
/**
 * Behaviour events, batched: flushed at `batchSize` (50) queued events, `flushIntervalMs`
 * (10 s) after the first one, when the app hides, or on `flush()`; at most `maxPerRequest`
 * (500, the server's limit) a request. 5xx, 429 and network failures are retried with capped
 * exponential backoff (or the server's Retry-After when longer). A 4xx the SDK can fix is
 * fixed: 413 halves the batch, a 422 about the `value` field (a server older than the
 * contract's addition) strips `value` and resends, a 422 naming one event drops only that
 * event. Any other 4xx (401: token expired, 403...) keeps every event for the next flush.
 * Nothing is queued while the user's personalization is 0. Pending events survive an app
 * restart (written to storage when the app hides or a flush fails), bounded by `maxQueued`.
 *
 * Every event gets its `id` when it is tracked (`event-id`), stored with it and sent with every
 * attempt, so a batch whose answer was lost (the server stored it) counts once when it is sent
 * again; the server answers such events as `duplicate`. Events restored from an older SDK's
 * storage get an id then. A server older than ids (a 422 about an unknown `id`) gets the events
 * without them, as for `value`.
 */

const { ApiError, NetworkError } = require('./http');
const { createEventIds, isEventId } = require('./event-id');

/** @typedef {import('../../index').TrackedEvent} TrackedEvent */
/** @typedef {import('../../index').FlushResult} FlushResult */
/** @typedef {import('./http').Response} Response */
/** @typedef {{user: string, event: TrackedEvent}} Queued an event and the user it belongs to */

/** @type {Record<string, boolean>} */
const KINDS = { view: true, click: true, convert: true };

/**
 * @typedef {object} EventQueueDeps
 * @property {import('../../index').EventOptions} [options]
 * @property {import('../../index').Scheduler} scheduler
 * @property {import('./store').Store} store
 * @property {() => number} now ms
 * @property {() => number} random in [0, 1), for the backoff's jitter
 * @property {() => Promise<string>} currentUser the user a flush sends for
 * @property {(user: string) => boolean} isOff personalization 0: nothing queued or sent
 * @property {(err: unknown) => void} onError
 * @property {(res: Response) => string | undefined} retryAfter the Retry-After header
 * @property {(batch: TrackedEvent[]) => Promise<Response>} send
 */

/**
 * What a send carries of an event: without `value` or `id` for a server older than them.
 * @param {TrackedEvent} event
 * @param {{value: boolean, id: boolean}} strip
 * @returns {TrackedEvent}
 */
function wireEvent(event, strip) {
  const dropValue = strip.value && event.value !== undefined;
  if (!dropValue && !strip.id) return event;
  /** @type {Partial<TrackedEvent>} */
  const copy = Object.assign({}, event);
  if (dropValue) delete copy.value;
  if (strip.id) delete copy.id;
  return /** @type {TrackedEvent} */ (copy);
}

/** @param {EventQueueDeps} deps */
function createEventQueue(deps) {
  const opts = Object.assign({
    batchSize: 50,
    flushIntervalMs: 10000,
    maxPerRequest: 500,
    maxQueued: 5000,
    backoffBaseMs: 1000,
    backoffMaxMs: 5 * 60 * 1000,
  }, deps.options || {});
  const scheduler = deps.scheduler;
  const storageKey = deps.store.prefix + 'events';
  const newId = opts.newId || createEventIds(deps.now);
  let queue = restore();
  /** @type {unknown} the scheduler's timer id, null when none is set */
  let timer = null;
  let timerAt = 0;
  let attempt = 0;
  /** @type {Promise<FlushResult> | null} */
  let inflight = null;
  let again = false;
  const strip = { value: false, id: false };

  /**
   * The stored queue; an event without a valid id (stored by an older SDK) gets one now, and
   * the queue is stored again so a later restart sends that same id.
   * @returns {Queued[]}
   */
  function restore() {
    const saved = deps.store.read(storageKey);
    /** @type {Queued[]} */
    const entries = Array.isArray(saved) ? saved.filter((/** @type {Queued | null} */ e) => e && e.event) : [];
    const missing = entries.filter((e) => !isEventId(e.event.id));
    missing.forEach((e) => { e.event.id = newId(); });
    if (missing.length) deps.store.write(storageKey, entries);
    return entries;
  }

  function persist() {
    if (queue.length) deps.store.write(storageKey, queue);
    else deps.store.remove(storageKey);
  }

  /** @param {number} delayMs */
  function schedule(delayMs) {
    const at = deps.now() + delayMs;
    if (timer !== null) {
      if (timerAt <= at) return;
      scheduler.clearTimeout(timer);
    }
    timerAt = at;
    timer = scheduler.setTimeout(() => {
      timer = null;
      flush().catch(() => {});
    }, delayMs);
  }

  /**
   * @param {string} user
   * @param {string} page
   * @param {string} component
   * @param {TrackedEvent['kind']} kind
   * @param {number} [value]
   */
  function track(user, page, component, kind, value) {
    if (!KINDS[kind]) throw new TypeError('kind must be view, click or convert');
    if (!page || !component) throw new TypeError('page and component are required');
    /** @type {TrackedEvent} */
    const event = { page: String(page), component: String(component), kind, ts: deps.now() / 1000, id: newId() };
    if (value !== undefined && value !== null) {
      if (typeof value !== 'number' || !(value >= 0)) throw new TypeError('value must be a number >= 0');
      event.value = value;
    }
    queue.push({ user, event });
    if (queue.length > opts.maxQueued) queue.splice(0, queue.length - opts.maxQueued);
    if (attempt > 0) return; // backing off: the retry timer sends it
    const mine = queue.filter((e) => e.user === user).length;
    if (mine >= opts.batchSize) {
      Promise.resolve().then(() => flush()).catch(() => {});
    } else {
      schedule(opts.flushIntervalMs);
    }
  }

  /** @param {string} user */
  function dropUser(user) {
    queue = queue.filter((e) => e.user !== user);
    persist();
  }

  /**
   * The next retry's delay (ms), and one more attempt counted.
   * @param {number} retryAfterSeconds
   */
  function backoff(retryAfterSeconds) {
    const exp = Math.min(opts.backoffMaxMs, opts.backoffBaseMs * Math.pow(2, attempt));
    const jittered = exp / 2 + (exp / 2) * deps.random();
    attempt += 1;
    return Math.max(jittered, (retryAfterSeconds || 0) * 1000);
  }

  /** @returns {Promise<FlushResult>} */
  async function run() {
    const result = { sent: 0, dropped: 0, pending: 0 };
    const user = await deps.currentUser();
    if (deps.isOff(user)) {
      dropUser(user);
      return result;
    }
    let limit = opts.maxPerRequest;
    for (;;) {
      const entries = queue.filter((e) => e.user === user).slice(0, limit);
      if (!entries.length) break;
      const events = entries.map((e) => wireEvent(e.event, strip));
      let res;
      try {
        res = await deps.send(events);
      } catch (err) {
        if (!(err instanceof NetworkError)) throw err;
        persist();
        schedule(backoff(0));
        deps.onError(err);
        break;
      }
      const status = res.statusCode;
      if (status >= 200 && status < 300) {
        queue = queue.filter((e) => entries.indexOf(e) < 0);
        result.sent += entries.length;
        attempt = 0;
        limit = opts.maxPerRequest;
        continue;
      }
      const error = new ApiError(status, res.data);
      if (status >= 500 || status === 429) {
        persist();
        schedule(backoff(parseFloat(deps.retryAfter(res) || '') || 0));
        deps.onError(error);
        break;
      }
      if (status === 413 && entries.length > 1) {
        limit = Math.ceil(entries.length / 2);
        continue;
      }
      const match = status === 422 ? /^events\[(\d+)\]/.exec(error.field || '') : null;
      if (match && /`value`/.test(error.message) && !strip.value && events.some((e) => e.value !== undefined)) {
        strip.value = true; // the server predates the `value` field: send what it knows
        continue;
      }
      if (match && /unknown field `id`/.test(error.message) && !strip.id) {
        strip.id = true; // the server predates event ids: it cannot deduplicate, but it stores
        continue;
      }
      if (match || (status === 413 && entries.length === 1)) {
        const bad = entries[match ? parseInt(match[1], 10) : 0];
        queue = queue.filter((e) => e !== bad);
        result.dropped += 1;
        deps.onError(error);
        continue;
      }
      // a 4xx the SDK cannot fix (an expired token, a forbidden user): keep everything
      persist();
      deps.onError(error);
      break;
    }
    result.pending = queue.filter((e) => e.user === user).length;
    if (!result.pending) persist();
    return result;
  }

  /** @returns {Promise<FlushResult>} */
  function flush() {
    if (timer !== null) {
      scheduler.clearTimeout(timer);
      timer = null;
    }
    if (inflight) {
      again = true;
      return inflight;
    }
    const done = () => {
      inflight = null;
      if (again) {
        again = false;
        flush().catch(() => {});
      }
    };
    // no Promise.prototype.finally: ES2018, not in every mini-program runtime
    inflight = run().then((result) => { done(); return result; }, (err) => { done(); throw err; });
    return inflight;
  }

  return {
    track,
    flush,
    dropUser,
    persist,
    size: () => queue.length,
    pending: () => queue.map((e) => e.event),
  };
}

module.exports = { createEventQueue };

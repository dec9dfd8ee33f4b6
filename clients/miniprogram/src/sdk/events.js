'use strict';
/**
 * Behaviour events, batched: flushed at `batchSize` (50) queued events, `flushIntervalMs`
 * (10 s) after the first one, when the app hides, or on `flush()`; at most `maxPerRequest`
 * (500, the server's limit) a request. 5xx, 429 and network failures are retried with capped
 * exponential backoff (or the server's Retry-After when longer). A 4xx the SDK can fix is
 * fixed: 413 halves the batch, a 422 on `events` (a batch longer than the server takes) halves
 * it for the rest of the run, a 422 saying `value` is an unknown field (a server older than the
 * contract's addition) strips `value` and resends (a value goes on converts only: the server
 * refuses one on another kind), a 422 naming one event drops only that
 * event (one naming an index outside the batch drops nothing), a 401 for a token the same user
 * has replaced since the flush started is sent again with the new one. Any other 4xx (401: token
 * expired, 403...) keeps every event for the next flush.
 * Nothing is queued while the user's personalization is 0. Pending events survive an app
 * restart (written to storage when the app hides or a flush fails), bounded by `maxQueued`.
 *
 * Every event gets its `id` when it is tracked (`event-id`), stored with it and sent with every
 * attempt, so a batch whose answer was lost (the server stored it) counts once when it is sent
 * again; the server answers such events as `duplicate`. Events restored from an older SDK's
 * storage get an id then, made from what is stored, so it is the same on every restart. A
 * server older than ids (a 422 about an unknown `id`) gets the events without them, as for
 * `value`.
 *
 * Retry-After is read as delta-seconds or an HTTP-date (retry-after.js), at most
 * `retryAfterMaxMs` (an hour), and holds every send back until then: `flush()` and the app
 * hiding too, not only the retry timer. A flush belongs to the user signed in when it starts: every
 * request it makes carries that user's token; none is sent while the user's data is being
 * erased (`hold`: the erasure waits for the flush in flight first). Its result says what the server stored and
 * ignored, and why (the 202 body's `stored`, `ignored`, `ignored_reasons`, summed). Events
 * tracked while the phone's clock ran more than a day ahead (a 422 naming an event's `ts`) are
 * moved onto the server's clock (its `Date` header), or sent without `ts` (the server takes its
 * own now), once a flush; never dropped for it.
 */

const { ApiError, NetworkError, headerValue } = require('./http');
const { createEventIds, isEventId, restoredEventId } = require('./event-id');
const { retryAfterMs, parseHttpDate } = require('./retry-after');

/** @typedef {import('../../index').TrackedEvent} TrackedEvent */
/** @typedef {import('../../index').FlushResult} FlushResult */
/** @typedef {import('./http').Response} Response */
/**
 * An event and the user it belongs to; `unclocked` when it was tracked before the server's clock
 * was known (its `ts` is the phone's, moved onto the server's clock when it is sent).
 * @typedef {{user: string, event: TrackedEvent, unclocked?: boolean}} Queued
 */

/** @type {Record<string, boolean>} */
const KINDS = { view: true, click: true, convert: true, impression: true, render_error: true };
/** @type {Record<string, boolean>} */
const MODES = { standard: true, elderly: true };
/** The server's pattern for a template version. */
const VERSION = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * @typedef {object} EventQueueDeps
 * @property {import('../../index').EventOptions} [options]
 * @property {import('../../index').Scheduler} scheduler
 * @property {import('./store').Store} store
 * @property {() => number} now ms
 * @property {() => number} [eventClock] ms, the time an event is given (default `now`): the
 *   server's clock when the SDK's is more than an hour off (server-clock.js)
 * @property {{known(): boolean, correction(): number, serverNow(): number}} [serverClock] what
 *   the SDK knows of the server's clock: events tracked before it was known are moved onto it
 *   when sent, and a Retry-After date on an answer without a Date is read against it
 * @property {() => number} random in [0, 1), for the backoff's jitter
 * @property {() => Promise<import('./identity').Ticket>} ticket who a flush sends for
 * @property {(held: import('./identity').Ticket) => Promise<string | null>} [renewed] another token
 *   for the flush's user, given since it started (signed in again): a 401 is sent again with it
 * @property {(user: string) => boolean} isOff personalization 0: nothing queued or sent
 * @property {(err: unknown) => void} onError
 * @property {(batch: TrackedEvent[], token: string) => Promise<Response>} send
 */

/**
 * A queued event as stored: a user, and an event of a known kind on a page and component with a
 * finite `ts` when it has one. Anything else in storage was damaged and is dropped on restore.
 * @param {unknown} item
 * @returns {item is Queued}
 */
function isQueued(item) {
  if (!item || typeof item !== 'object') return false;
  const q = /** @type {{user?: unknown, event?: unknown}} */ (item);
  if (typeof q.user !== 'string' || !q.user || !q.event || typeof q.event !== 'object') return false;
  if (/** @type {{unclocked?: unknown}} */ (item).unclocked !== undefined &&
    /** @type {{unclocked?: unknown}} */ (item).unclocked !== true) return false;
  const e = /** @type {Record<string, unknown>} */ (q.event);
  return typeof e.page === 'string' && !!e.page && typeof e.component === 'string' && !!e.component &&
    typeof e.kind === 'string' && KINDS[e.kind] === true &&
    (e.ts === undefined || (typeof e.ts === 'number' && isFinite(e.ts))) &&
    (e.value === undefined || (typeof e.value === 'number' && e.value >= 0)) &&
    (e.version === undefined || (typeof e.version === 'string' && VERSION.test(e.version))) &&
    (e.mode === undefined || (typeof e.mode === 'string' && MODES[e.mode] === true));
}

/**
 * The telemetry keys of an event (`version`: the layout's template_version it was drawn from,
 * `mode`: its mode), set on `event` when valid; anything else is left out (the server then
 * counts under the version it serves the user).
 * @param {TrackedEvent} event
 * @param {{version?: unknown, mode?: unknown} | undefined} detail
 */
function addDetail(event, detail) {
  if (!detail) return;
  if (typeof detail.version === 'string' && VERSION.test(detail.version)) event.version = detail.version;
  if (typeof detail.mode === 'string' && MODES[detail.mode]) event.mode = /** @type {TrackedEvent['mode']} */ (detail.mode);
}

/**
 * What the server said it did with a batch (202 `{stored, ignored, ignored_reasons}`), added to
 * the flush's result; a server without the counts stored what it accepted.
 * @param {FlushResult} result
 * @param {unknown} body
 * @param {number} sent
 */
function addOutcome(result, body, sent) {
  const b = /** @type {Record<string, unknown>} */ (body && typeof body === 'object' ? body : {});
  const count = (/** @type {unknown} */ n) => (typeof n === 'number' && n >= 0 && isFinite(n) ? n : null);
  const stored = count(b.stored);
  result.stored += stored === null ? sent : stored;
  result.ignored += count(b.ignored) || 0;
  const reasons = b.ignored_reasons || b.reasons;
  if (reasons && typeof reasons === 'object') {
    Object.keys(reasons).forEach((why) => {
      const n = count(/** @type {Record<string, unknown>} */ (reasons)[why]);
      if (n) result.reasons[why] = (result.reasons[why] || 0) + n;
    });
  }
}

/**
 * What a send carries of an event: without `value` or `id` for a server older than them.
 * @param {TrackedEvent} event
 * @param {{value: boolean, id: boolean}} strip
 * @returns {TrackedEvent}
 */
function wireEvent(event, strip) {
  // the server takes a value on a convert only (a click's is refused, 422): never sent on another
  const dropValue = event.value !== undefined && (strip.value || event.kind !== 'convert');
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
    retryAfterMaxMs: 60 * 60 * 1000,
  }, deps.options || {});
  const scheduler = deps.scheduler;
  const storageKey = deps.store.prefix + 'events';
  const newId = opts.newId || createEventIds(deps.now);
  /** @type {Record<string, boolean>} ids of events this client sent or dropped (`settle`) */
  const settled = {};
  /** @type {string[]} */
  const settledOrder = [];
  let queue = restore();
  /** @type {unknown} the scheduler's timer id, null when none is set */
  let timer = null;
  let timerAt = 0;
  let attempt = 0;
  /** @type {Promise<FlushResult> | null} */
  let inflight = null;
  /** @type {string | null} the user the flush in flight sends for, once known */
  let inflightUser = null;
  let again = false;
  const strip = { value: false, id: false };
  /** The server's Retry-After on events: nothing is sent from `from` until `until` (ms). */
  const paused = { from: 0, until: 0 };
  /** @type {Record<string, number>} user -> erasures in progress: nothing of theirs is sent */
  const held = {};
  /** Events a request: maxPerRequest, or less once the server refused a longer batch (422). */
  let countLimit = opts.maxPerRequest;

  /**
   * The stored queue, at most the newest maxQueued; an event without a valid id (stored by an
   * older SDK) gets one now, made from what is stored (`restoredEventId`: the same on every
   * restart even when it cannot be written back), and the queue is stored again.
   * @returns {Queued[]}
   */
  function restore() {
    const { entries, repaired } = stored();
    // a queue longer than maxQueued (damaged, or another client's with a larger bound): the newest
    const over = entries.length - opts.maxQueued;
    if (over > 0) entries.splice(0, over);
    if (repaired || over > 0) deps.store.write(storageKey, entries);
    return entries;
  }

  /**
   * What storage holds, validated, every event with an id (see `restore`).
   * @returns {{entries: Queued[], repaired: boolean}}
   */
  function stored() {
    const saved = deps.store.read(storageKey);
    /** @type {Queued[]} */
    const entries = Array.isArray(saved) ? saved.filter(isQueued) : [];
    const missing = entries.filter((e) => !isEventId(e.event.id));
    missing.forEach((e) => {
      /** @type {Partial<TrackedEvent>} */
      const event = Object.assign({}, e.event);
      delete event.id;
      e.event.id = restoredEventId(e.user, event, /** @type {unknown[]} */ (saved).indexOf(e));
    });
    const repaired = missing.length > 0 || (Array.isArray(saved) && entries.length !== saved.length);
    return { entries, repaired };
  }

  /**
   * Events leave the queue for good (sent, dropped): their ids are remembered (the last
   * 2 x maxQueued), so another client's stored copy of them is never merged back.
   * @param {Queued[]} gone
   */
  function settle(gone) {
    gone.forEach((e) => {
      const id = e.event.id;
      if (id && !settled[id]) {
        settled[id] = true;
        settledOrder.push(id);
      }
    });
    const excess = settledOrder.length - 2 * opts.maxQueued;
    if (excess > 0) settledOrder.splice(0, excess).forEach((id) => { delete settled[id]; });
  }

  /**
   * Store the queue, with the events another client on the same storage stored (two clients
   * with one `storagePrefix`: neither writes over the other's), less those this client sent
   * or dropped and those `keep` refuses (an erased user's); bounded by maxQueued. A write that
   * fails (the storage is full) never leaves an older queue behind.
   * @param {(e: Queued) => boolean} [keep]
   * @returns {boolean} false when the storage kept the old queue (it would neither take the new
   *   one nor remove the old)
   */
  function persist(keep) {
    /** @type {Record<string, boolean>} */
    const mine = {};
    queue.forEach((e) => { mine[String(e.event.id)] = true; });
    const others = stored().entries.filter((e) => {
      const id = String(e.event.id);
      return !mine[id] && !settled[id] && (!keep || keep(e));
    });
    const all = others.concat(queue);
    if (all.length > opts.maxQueued) all.splice(0, all.length - opts.maxQueued);
    if (all.length && deps.store.write(storageKey, all)) return true;
    const removed = deps.store.remove(storageKey);
    return (all.length > 0 && deps.store.write(storageKey, all)) || removed;
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
   * @param {{version?: string, mode?: string}} [detail] what the renderer drew
   */
  function track(user, page, component, kind, value, detail) {
    check(page, component, kind, value);
    const at = deps.eventClock ? deps.eventClock() : deps.now(); // on the server's clock when ours is off
    /** @type {TrackedEvent} */
    const event = { page: String(page), component: String(component), kind, ts: at / 1000, id: newId() };
    if (value !== undefined && value !== null && kind === 'convert') event.value = value; // the server's rule
    addDetail(event, detail);
    /** @type {Queued} */
    const item = { user, event };
    // the server's clock is not known yet (no answer had a Date): the phone's, until it is
    if (deps.serverClock && !deps.serverClock.known()) item.unclocked = true;
    queue.push(item);
    if (queue.length > opts.maxQueued) settle(queue.splice(0, queue.length - opts.maxQueued));
    if (attempt > 0) return; // backing off: the retry timer sends it
    const mine = queue.filter((e) => e.user === user).length;
    if (mine >= opts.batchSize) {
      Promise.resolve().then(() => flush()).catch(() => {});
    } else {
      schedule(opts.flushIntervalMs);
    }
  }

  /**
   * The arguments of a track, refused at once (TypeError) when wrong.
   * @param {string} page
   * @param {string} component
   * @param {string} kind
   * @param {unknown} [value]
   */
  function check(page, component, kind, value) {
    if (!KINDS[kind]) throw new TypeError('kind must be view, click, convert, impression or render_error');
    if (!page || !component) throw new TypeError('page and component are required');
    if (value !== undefined && value !== null && (typeof value !== 'number' || !(value >= 0))) {
      throw new TypeError('value must be a number >= 0');
    }
  }

  /**
   * An erased user's events leave the queue and the stored one.
   * @param {string} user
   * @returns {boolean} false when the storage kept the old queue (with the user's events)
   */
  function dropUser(user) {
    const keep = (/** @type {Queued} */ e) => e.user !== user;
    settle(queue.filter((e) => !keep(e)));
    queue = queue.filter(keep);
    return persist(keep);
  }

  /**
   * Personalization 0: the user's behaviour is not measured, but render errors (a fault of the
   * software, counted with no user id) still go.
   * @param {string} user
   */
  function dropBehaviour(user) {
    const keep = (/** @type {Queued} */ e) => e.user !== user || e.event.kind === 'render_error';
    settle(queue.filter((e) => !keep(e)));
    queue = queue.filter(keep);
    persist(keep);
  }

  /**
   * The next retry's delay (ms), and one more attempt counted.
   * @param {number} retryAfter ms the server asked for (0: none)
   */
  function backoff(retryAfter) {
    const exp = Math.min(opts.backoffMaxMs, opts.backoffBaseMs * Math.pow(2, attempt));
    const jittered = exp / 2 + (exp / 2) * deps.random();
    attempt += 1;
    return Math.max(jittered, retryAfter);
  }

  /**
   * A 422 said `events[i].ts` is more than a day ahead of the server's clock: this phone's clock
   * ran ahead when they were tracked. Every queued event of the user at least that far ahead is
   * moved by the clocks' difference (the answer's Date header), or loses its `ts` (the server
   * then takes its own now) when there is no Date or the move is not enough.
   * @param {string} user
   * @param {TrackedEvent | null} bad the event the 422 named (null: it named none of the batch)
   * @param {Response} res
   */
  function rebase(user, bad, res) {
    const server = parseHttpDate(headerValue(res.header, 'date'), deps.now());
    const limit = bad && typeof bad.ts === 'number' ? bad.ts : -Infinity;
    const shift = server === null ? null : (server - deps.now()) / 1000;
    queue.forEach((e) => {
      if (e.user !== user || e.event.ts === undefined || e.event.ts < limit) return;
      const moved = shift === null ? Infinity : e.event.ts + shift;
      if (server !== null && moved <= server / 1000) e.event.ts = moved;
      else delete e.event.ts;
    });
  }

  /**
   * Events of the user tracked before the server's clock was known are moved onto it, once it
   * is (by the correction the SDK's clock needs: none within an hour of the server's).
   * @param {string} user
   */
  function onServerClock(user) {
    const clock = deps.serverClock;
    if (!clock || !clock.known()) return;
    const shift = clock.correction() / 1000;
    queue.forEach((e) => {
      if (e.user !== user || !e.unclocked) return;
      if (typeof e.event.ts === 'number') e.event.ts = Math.max(0, e.event.ts + shift);
      delete e.unclocked;
    });
  }

  /** @returns {Promise<FlushResult>} */
  async function run() {
    /** @type {FlushResult} */
    const result = { sent: 0, dropped: 0, pending: 0, stored: 0, ignored: 0, reasons: {} };
    const ticket = await deps.ticket(); // one user, one token for the whole flush
    const user = ticket.user;
    inflightUser = user;
    if (held[user]) {
      // the user's data is being erased: nothing of theirs may reach the server after it
      result.pending = queue.filter((e) => e.user === user).length;
      return result;
    }
    const t = deps.now();
    if (t >= paused.from && t < paused.until) {
      // the server's Retry-After still runs (a clock set back since releases it): an explicit
      // flush or the app hiding waits for the retry timer like the backoff does
      result.pending = queue.filter((e) => e.user === user).length;
      schedule(paused.until - t);
      return result;
    }
    let rebased = false;
    let renewedOnce = false;
    if (deps.isOff(user)) dropBehaviour(user);
    onServerClock(user);
    let limit = countLimit;
    for (;;) {
      const entries = queue.filter((e) => e.user === user).slice(0, limit);
      if (!entries.length) break;
      const events = entries.map((e) => wireEvent(e.event, strip));
      let res;
      try {
        res = await deps.send(events, ticket.token);
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
        settle(entries);
        result.sent += entries.length;
        addOutcome(result, res.data, entries.length);
        attempt = 0;
        limit = countLimit;
        continue;
      }
      const error = new ApiError(status, res.data);
      if (status >= 500 || status === 429) {
        persist();
        const now = deps.now();
        // a date without the answer's Date header: against the server's clock as last learned
        const wait = retryAfterMs(headerValue(res.header, 'retry-after'), headerValue(res.header, 'date'),
          deps.serverClock ? deps.serverClock.serverNow() : now, opts.retryAfterMaxMs);
        if (wait > 0) {
          paused.from = now;
          paused.until = now + wait;
        }
        schedule(backoff(wait));
        deps.onError(error);
        break;
      }
      if (status === 413 && entries.length > 1) {
        limit = Math.ceil(entries.length / 2);
        continue;
      }
      if (status === 422 && error.field === 'events' && entries.length > 1) {
        // the batch is longer than the server takes (its limit is below maxPerRequest):
        // halve it, and keep to what was accepted for the rest of the run
        limit = Math.ceil(entries.length / 2);
        countLimit = limit;
        continue;
      }
      const found = status === 422 ? /^events\[(\d+)\]/.exec(error.field || '') : null;
      // an index outside the batch names none of its events: nothing to drop, nothing to fix
      const match = found && parseInt(found[1], 10) < entries.length ? found : null;
      // only a server that does not know the field (not one refusing a value, which is no
      // older server: stripping then would drop every later convert's value for the run)
      if (match && /unknown field `value`/.test(error.message) && !strip.value &&
        events.some((e) => e.value !== undefined)) {
        strip.value = true; // the server predates the `value` field: send what it knows
        continue;
      }
      if (match && /\.ts$/.test(error.field || '') && !rebased) {
        rebased = true; // the phone's clock ran ahead: move the events onto the server's
        const named = entries[parseInt(match[1], 10)];
        rebase(user, named ? named.event : null, res);
        continue;
      }
      if (match && /unknown field `id`/.test(error.message) && !strip.id) {
        strip.id = true; // the server predates event ids: it cannot deduplicate, but it stores
        continue;
      }
      if (match || (status === 413 && entries.length === 1)) {
        const bad = entries[match ? parseInt(match[1], 10) : 0];
        queue = queue.filter((e) => e !== bad);
        settle([bad]);
        result.dropped += 1;
        deps.onError(error);
        continue;
      }
      if (status === 401 && !renewedOnce && deps.renewed) {
        renewedOnce = true;
        const fresh = await deps.renewed(ticket);
        if (fresh) {
          // the user signed in again while the old token was out: the same user's new token
          ticket.token = fresh;
          continue;
        }
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

  /**
   * @param {string} [user] who asks (the user signed in now), when the caller knows
   * @returns {Promise<FlushResult>}
   */
  function flush(user) {
    if (timer !== null) {
      scheduler.clearTimeout(timer);
      timer = null;
    }
    if (inflight) {
      if (user !== undefined && inflightUser !== null && user !== inflightUser) {
        // the flush in flight is another user's (with that user's report): this one runs after
        const next = () => flush(user);
        return inflight.then(next, next);
      }
      again = true;
      return inflight;
    }
    const done = () => {
      inflight = null;
      inflightUser = null;
      if (again) {
        again = false;
        flush().catch(() => {});
      }
    };
    // no Promise.prototype.finally: ES2018, not in every mini-program runtime
    inflight = run().then((result) => { done(); return result; }, (err) => { done(); throw err; });
    return inflight;
  }

  /**
   * Send nothing of the user's until `release`, once the flush in flight (if any) is answered:
   * an erasure waits on this, so no event of the user reaches the server after the erasure.
   * @param {string} user
   * @returns {Promise<void>}
   */
  function hold(user) {
    held[user] = (held[user] || 0) + 1;
    const idle = () => undefined;
    return inflight ? inflight.then(idle, idle) : Promise.resolve();
  }

  /** @param {string} user */
  function release(user) {
    if (held[user] && --held[user] === 0) delete held[user];
  }

  return {
    track,
    check,
    flush,
    hold,
    release,
    dropUser,
    dropBehaviour,
    persist,
    size: () => queue.length,
    pending: () => queue.map((e) => e.event),
  };
}

module.exports = { createEventQueue };

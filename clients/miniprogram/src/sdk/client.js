'use strict';
/**
 * `createLayoutClient(options)`: the SDK's composition root. It reads the options, picks the
 * runtime's defaults for the injected parts (transport `request` with wx.request's signature,
 * `wx` sync storage, the clock `now` in ms, timers) and wires the concepts, each a module over
 * those parts:
 *   identity      who is signed in (the token and the user it names)
 *   store         stored layouts by (user, page, context), bounded, and per-user flags
 *   launch        what to draw at once (stored copy, bundled default or the network)
 *   revalidation  the conditional GET and what its Cache-Control means for the stored copy
 *   updates       onUpdate listeners: each new version once, `applyNow` within the launch window
 *   events        batched behaviour events with retries
 *   capabilities  what the renderer draws, sent with each layout request (X-UI-Capabilities)
 *   account       settings, export and erasure
 *   preview       a designer's draft through a preview token: no storage, no events, polled
 * See README.md for the options and guarantees.
 */

const { createApi, supportsMethod } = require('./http');
const { createServerClock, observed } = require('./server-clock');
const { createStore } = require('./store');
const { createEventQueue } = require('./events');
const { contextFromSystemInfo, defaultSystemInfo } = require('./context');
const { createAccount } = require('./account');
const { createIdentity } = require('./identity');
const { createUpdates } = require('./updates');
const { createRevalidation } = require('./revalidation');
const { createLaunch } = require('./launch');
const { createCapabilities } = require('./capabilities');
const { createPreview } = require('./preview');
const rendererTypes = require('../components/ui-layout/types');
const registry = require('../registry');
const platforms = require('../platforms');

/** @typedef {import('../../index').LayoutClient} LayoutClient */
/** @typedef {import('../../index').LayoutClientOptions} LayoutClientOptions */
/** @typedef {import('../../index').EventKind} EventKind */
/**
 * The options that have a default here.
 * @typedef {'defaults' | 'now' | 'applyWithinMs' | 'timeoutMs' | 'maxEntries' | 'storagePrefix'
 *   | 'events' | 'register'} Defaulted
 */

/**
 * The declared `createLayoutClient` (index.d.ts) is what this implements: the type ties them.
 * @type {typeof import('../../index').createLayoutClient}
 */
const createLayoutClient = function createLayoutClient(options) {
  /** @type {LayoutClientOptions & Required<Pick<LayoutClientOptions, Defaulted>>} */
  const opts = Object.assign({
    defaults: {},
    now: () => Date.now(),
    applyWithinMs: 1500,
    timeoutMs: 10000,
    maxEntries: 20,
    storagePrefix: 'uiserver:',
    events: {},
    register: true,
  }, options || {});
  if (!opts.baseUrl) throw new TypeError('baseUrl is required');
  // the runtime's adapter (wx, my, tt or the web) for whatever the options leave out
  const platform = opts.platform || platforms.detect();
  const baseUrl = String(opts.baseUrl).replace(/\/+$/, '');
  const request = opts.request || (platform && platform.request);
  if (!request) throw new TypeError('request is required outside the mini-program runtime');
  const storage = opts.storage || (platform && platform.storage);
  if (!storage) throw new TypeError('storage is required outside the mini-program runtime');
  const clock = opts.now;
  // ms as a number whatever the app's clock answers (a Date, a numeric string): `now() + offset`
  // must add, never concatenate; a clock with no time (NaN, undefined) stands down for Date.now
  const now = () => {
    const t = Number(clock());
    return isFinite(t) ? t : Date.now();
  };
  const scheduler = opts.scheduler || {
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (id) => clearTimeout(/** @type {number} */ (id)),
  };
  const systemInfo = opts.systemInfo || (platform ? platform.systemInfo : defaultSystemInfo);
  const currentContext = () => contextFromSystemInfo(systemInfo());
  const store = createStore(storage, { prefix: opts.storagePrefix, maxEntries: opts.maxEntries });
  const serverClock = createServerClock(now);
  // the methods the platform's request can send (an app's own `request` sends any)
  const runtime = !opts.request && platform ? { methods: platform.methods, name: platform.name } : undefined;
  const call = observed(createApi(request, baseUrl, opts.timeoutMs, scheduler, runtime), serverClock);
  const identity = createIdentity(opts.getToken);

  /** @param {unknown} err an error the SDK handled on its own */
  function reportError(err) {
    if (typeof opts.onError === 'function') {
      try { opts.onError(/** @type {Error} */ (err)); } catch (e) { /* an app's handler must not break the SDK */ }
    }
  }

  const isOff = (/** @type {string} */ user) => store.personalization(user) === 0;

  const events = createEventQueue({
    options: opts.events,
    scheduler,
    store,
    now,
    eventClock: () => now() + serverClock.correction(),
    serverClock,
    random: opts.random || Math.random,
    ticket: identity.ticket,
    renewed: identity.renewed,
    isOff,
    onError: reportError,
    send: (batch, tokenValue) => call('POST', '/v1/me/events', tokenValue, { events: batch }),
  });

  /**
   * A personalization strength seen in settings or a served layout; 0 also drops the queue.
   * @param {string} user
   * @param {unknown} value
   */
  function rememberPersonalization(user, value) {
    if (!user || typeof value !== 'number') return;
    store.setPersonalization(user, value);
    if (value === 0) events.dropBehaviour(user);
  }

  const updates = createUpdates({ now, applyWithinMs: opts.applyWithinMs, onError: reportError });
  const layouts = {
    identity, store, now, updates, defaults: opts.defaults, context: currentContext, onError: reportError,
  };
  const capabilities = opts.capabilities === false ? undefined : createCapabilities({
    call, types: opts.types || rendererTypes, version: opts.rendererVersion,
  });
  const serverNow = serverClock.serverNow;
  const revalidation = createRevalidation(Object.assign({ call, rememberPersonalization, capabilities, serverNow },
    layouts));
  const liveLaunch = createLaunch(Object.assign({ revalidation, capabilities }, layouts));
  const preview = createPreview({
    call, scheduler, announce: updates.announce,
    goLive(page, ctx) {
      updates.forget(identity.userNow()); // the app shows the draft: the live version is news again
      return revalidation.background(page, ctx);
    },
    context: currentContext, onError: reportError, now, serverNow,
  });
  if (opts.preview && opts.preview.token) preview.start(opts.preview.token, opts.preview);

  /** @type {LayoutClient['launch']} the draft in preview mode (live again once its token is refused) */
  async function launch(page, context) {
    const shown = preview.active() ? await preview.launch(page, context) : null;
    return shown || liveLaunch(page, context);
  }

  /** @type {LayoutClient['revalidate']} */
  async function revalidate(page, context) {
    const shown = preview.active() ? await preview.revalidate(page, context) : null;
    return shown || revalidation.revalidate(page, context);
  }

  /**
   * Events belong to the user signed in when they happened (with an async token source, the
   * user its answer at the tap names); anonymous ones, and any during a preview, are not queued.
   * @param {string} page
   * @param {string} component
   * @param {EventKind} kind
   * @param {number | import('../../index').TrackDetail} [value] a convert's value, or what the
   *   renderer drew (`{version, mode, value}`)
   */
  function track(page, component, kind, value) {
    const who = identity.userNowOrLater();
    if (typeof who === 'string') return trackFor(who, page, component, kind, value);
    // an async token source: the event is the user's its answer names (who is signed in now,
    // not who was read last); the answer here is the guess from the user read last
    const detail = value !== null && typeof value === 'object' ? value : null;
    events.check(page, component, kind, detail ? detail.value : value);
    const previewing = preview.active();
    who.then((user) => {
      if (!previewing) trackFor(user, page, component, kind, value);
    }).catch(reportError);
    const guess = identity.userNow();
    return !!guess && !previewing && !(isOff(guess) && kind !== 'render_error');
  }

  /**
   * Queue the event for `user`: false (nothing queued) when anonymous, in preview, or with
   * personalization 0 (then only render errors go: a fault report, counted with no user id).
   * @param {string} user
   * @param {string} page
   * @param {string} component
   * @param {EventKind} kind
   * @param {number | import('../../index').TrackDetail} [value]
   */
  function trackFor(user, page, component, kind, value) {
    if (!user || preview.active() || (isOff(user) && kind !== 'render_error')) return false;
    if (value !== null && typeof value === 'object') {
      events.track(user, page, component, kind, value.value, value);
    } else {
      events.track(user, page, component, kind, value);
    }
    return true;
  }

  const account = createAccount({
    call, identity, store, events, rememberPersonalization, forget: updates.forget,
    supports: (method) => supportsMethod(runtime, method), runtime: runtime && runtime.name,
  });

  /** @type {LayoutClient} */
  const client = {
    launch,
    revalidate,
    startPreview: preview.start,
    stopPreview: () => preview.stop(true),
    previewing: preview.active,
    onUpdate: updates.onUpdate,
    track(page, component, kind, value) {
      const queued = track(page, component, kind, value);
      identity.refresh();
      return queued;
    },
    flush: () => identity.refresh().then((user) => events.flush(user)),
    getSettings: account.getSettings,
    putSettings: account.putSettings,
    patchSettings: account.patchSettings,
    erase: account.erase,
    exportData: account.exportData,
    context: currentContext,
    pendingEvents: () => events.pending(),
    storedKeys: () => store.keys(),
  };

  identity.refresh();
  const onAppHide = opts.onAppHide || (platform && platform.onAppHide);
  if (onAppHide) {
    onAppHide(() => {
      events.persist();
      client.flush().catch(reportError);
    });
  }
  if (opts.register) registry.setDefault(client);
  return client;
};

module.exports = { createLayoutClient };

'use strict';
/**
 * `createLayoutClient(options)`: the launch protocol (stored layout first, revalidate in the
 * background, keep the stored copy when the server is unreachable), event batching, settings
 * and erasure, over an injected transport (`request`, wx.request's signature), storage (`wx`
 * sync storage) and clock (`now`, ms). See README.md for the options and guarantees.
 */

const { parseCacheControl, freshness, usableOnError } = require('./cache-control');
const { send, headerValue, NetworkError, ApiError } = require('./http');
const { createStore } = require('./store');
const { createEventQueue } = require('./events');
const { contextFromSystemInfo, contextQuery, defaultSystemInfo } = require('./context');
const { subjectOf } = require('./token');
const { createAccount, mergePatch } = require('./account');
const registry = require('../registry');

const SCHEMA = 1;

class LayoutUnavailableError extends Error {
  constructor(page) {
    super('no layout for page "' + page + '": nothing stored, no bundled default, server unreachable');
    this.name = 'LayoutUnavailableError';
    this.page = page;
  }
}

/** A layout document this SDK can draw: schema 1 with a page, a theme and components. */
function isUsableLayout(layout) {
  return !!layout && typeof layout === 'object' && layout.schema === SCHEMA &&
    typeof layout.page === 'string' && Array.isArray(layout.components) &&
    !!layout.theme && typeof layout.theme === 'object';
}

function runtimeWx() {
  return typeof wx === 'undefined' ? null : wx;
}

function createLayoutClient(options) {
  const opts = Object.assign({
    getToken: null,
    defaults: {},
    now: () => Date.now(),
    applyWithinMs: 1500,
    timeoutMs: 10000,
    maxEntries: 20,
    storagePrefix: 'uiserver:',
    onError: null,
    events: {},
    register: true,
  }, options || {});
  if (!opts.baseUrl) throw new TypeError('baseUrl is required');
  const wxApi = runtimeWx();
  const baseUrl = String(opts.baseUrl).replace(/\/+$/, '');
  const request = opts.request || (wxApi && wxApi.request.bind(wxApi));
  if (!request) throw new TypeError('request is required outside the mini-program runtime');
  const storage = opts.storage || wxApi;
  if (!storage) throw new TypeError('storage is required outside the mini-program runtime');
  const now = opts.now;
  const scheduler = opts.scheduler || {
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (id) => clearTimeout(id),
  };
  const systemInfo = opts.systemInfo || defaultSystemInfo;
  const store = createStore(storage, { prefix: opts.storagePrefix, maxEntries: opts.maxEntries });
  const currentContext = () => contextFromSystemInfo(systemInfo());
  const listeners = [];
  const inflight = {}; // key -> Promise: concurrent revalidations of one layout share a request
  const current = {}; // key -> etag last handed to the app ("" for the bundled default)
  const launchedAt = {}; // key -> ms

  function reportError(err) {
    if (typeof opts.onError === 'function') {
      try { opts.onError(err); } catch (e) { /* an app's handler must not break the SDK */ }
    }
  }

  async function token() {
    if (typeof opts.getToken !== 'function') return '';
    return (await opts.getToken()) || '';
  }

  function call(method, path, tokenValue, body, extraHeaders) {
    const header = Object.assign({ Accept: 'application/json' }, extraHeaders || {});
    if (tokenValue) header.Authorization = 'Bearer ' + tokenValue;
    if (body !== undefined && !header['Content-Type']) header['Content-Type'] = 'application/json';
    return send(request, {
      url: baseUrl + path, method, header, timeout: opts.timeoutMs,
      data: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  function personalizationKey(user) {
    return store.prefix + 'personalization:' + user;
  }

  function isOff(user) {
    return store.read(personalizationKey(user)) === 0;
  }

  const events = createEventQueue({
    options: opts.events,
    scheduler,
    store,
    now,
    random: opts.random || Math.random,
    currentUser: async () => subjectOf(await token()),
    isOff,
    onError: reportError,
    retryAfter: (res) => headerValue(res.header, 'retry-after'),
    send: async (batch) => call('POST', '/v1/me/events', await token(), { events: batch }),
  });

  function rememberPersonalization(user, value) {
    if (!user || typeof value !== 'number') return;
    store.write(personalizationKey(user), value);
    if (value === 0) events.dropUser(user);
  }

  function defaultFor(page) {
    const layout = opts.defaults && opts.defaults[page];
    return isUsableLayout(layout) ? layout : null;
  }

  function keyOf(user, page, query) {
    return user + '|' + page + '|' + query;
  }

  function emitUpdate(key, page, result) {
    if (!result.layout || result.status === 'expired') return;
    const etag = result.etag || '';
    if (current[key] === etag) return;
    current[key] = etag;
    const meta = {
      etag: result.etag,
      status: result.status,
      applyNow: now() - (launchedAt[key] || 0) <= opts.applyWithinMs,
    };
    listeners.slice().forEach((fn) => {
      try { fn(page, result.layout, meta); } catch (e) { reportError(e); }
    });
  }

  function fallback(entry, page, reason) {
    if (reason) reportError(reason);
    if (entry && usableOnError(entry, now())) {
      return { layout: entry.layout, status: 'offline', etag: entry.etag };
    }
    return { layout: defaultFor(page), status: 'expired', etag: null };
  }

  async function fetchLayout(page, ctx) {
    const query = contextQuery(ctx);
    let tokenValue;
    try {
      tokenValue = await token();
    } catch (err) {
      // no token (a failed login round trip): as unreachable as the server itself
      return { key: null, result: fallback(null, page, err) };
    }
    const user = subjectOf(tokenValue);
    const key = keyOf(user, page, query);
    const entry = store.get(user, page, query);
    const header = {};
    if (entry && entry.etag) header['If-None-Match'] = entry.etag;
    let res;
    try {
      res = await call('GET', '/v1/layouts/' + encodeURIComponent(page) + (query ? '?' + query : ''),
        tokenValue, undefined, header);
    } catch (err) {
      if (err instanceof NetworkError) return { key, result: fallback(entry, page, err) };
      throw err;
    }
    const status = res.statusCode;
    const cacheControlHeader = headerValue(res.header, 'cache-control');
    const cc = parseCacheControl(cacheControlHeader);
    if (status === 304 && entry) {
      entry.storedAt = now();
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
        reportError(err);
        return { key, result: { layout: defaultFor(page), status: 'expired', etag: null } };
      }
      const etag = headerValue(res.header, 'etag') || null;
      if (user && layout.personalization && typeof layout.personalization.strength === 'number') {
        rememberPersonalization(user, layout.personalization.strength);
      }
      if (cc.noStore) {
        // a degraded answer (the server's store is down): shown once, never stored, and the
        // user's own stored layout wins over it while it may stand in for an error
        if (entry && usableOnError(entry, now())) {
          return { key, result: { layout: entry.layout, status: 'offline', etag: entry.etag } };
        }
        return { key, result: { layout, status: 'updated', etag } };
      }
      store.put(user, page, query, { layout, etag, storedAt: now(), cacheControl: cc }, now());
      return { key, result: { layout, status: 'updated', etag } };
    }
    if (status >= 500 || status === 304) {
      return { key, result: fallback(entry, page, new ApiError(status, res.data)) };
    }
    throw new ApiError(status, res.data);
  }

  function revalidate(page, context) {
    const ctx = context || currentContext();
    const sharedKey = page + '?' + contextQuery(ctx);
    if (inflight[sharedKey]) return inflight[sharedKey];
    const promise = fetchLayout(page, ctx).then(({ key, result }) => {
      if (key) emitUpdate(key, page, result);
      return result;
    });
    inflight[sharedKey] = promise;
    const clear = () => { delete inflight[sharedKey]; };
    promise.then(clear, clear);
    return promise;
  }

  function background(page, ctx) {
    return revalidate(page, ctx).catch((err) => {
      reportError(err);
      return null;
    });
  }

  async function launch(page, context) {
    const ctx = context || currentContext();
    const query = contextQuery(ctx);
    let user = '';
    try {
      user = subjectOf(await token());
    } catch (err) {
      reportError(err);
    }
    const key = keyOf(user, page, query);
    launchedAt[key] = now();
    const entry = store.get(user, page, query);
    const state = entry && isUsableLayout(entry.layout) ? freshness(entry, now()) : 'expired';
    if (state === 'fresh' || state === 'stale') {
      store.touch(user, page, query, now());
      current[key] = entry.etag || '';
      const revalidation = state === 'stale' ? background(page, ctx) : Promise.resolve(null);
      return { layout: entry.layout, source: 'cache', etag: entry.etag, revalidation };
    }
    const bundled = defaultFor(page);
    if (bundled) {
      current[key] = '';
      return { layout: bundled, source: 'default', etag: null, revalidation: background(page, ctx) };
    }
    const result = await revalidate(page, ctx);
    if (!result.layout) throw new LayoutUnavailableError(page);
    current[key] = result.etag || '';
    return {
      layout: result.layout,
      source: result.status === 'offline' ? 'cache' : 'network',
      etag: result.etag,
      revalidation: Promise.resolve(result),
    };
  }

  function onUpdate(fn) {
    listeners.push(fn);
    return () => {
      const i = listeners.indexOf(fn);
      if (i >= 0) listeners.splice(i, 1);
    };
  }

  let lastUser = '';
  function track(page, component, kind, value) {
    // events belong to the user signed in when they happened; anonymous events have no
    // profile to go to and are not queued
    let user = lastUser;
    if (typeof opts.getToken === 'function') {
      try {
        const t = opts.getToken();
        if (typeof t === 'string' || t === null || t === undefined) user = subjectOf(t);
      } catch (e) {
        // an async-only token source: the user read at the last flush or launch stands
      }
    }
    if (!user || isOff(user)) return false;
    events.track(user, page, component, kind, value);
    return true;
  }

  async function refreshUser() {
    try {
      lastUser = subjectOf(await token());
    } catch (e) {
      // keep the previous one
    }
    return lastUser;
  }

  const account = createAccount({
    call, token, store, events, rememberPersonalization,
    forget(user) {
      Object.keys(current).forEach((key) => { if (key.indexOf(user + '|') === 0) delete current[key]; });
    },
  });

  const client = {
    launch,
    revalidate,
    onUpdate,
    track(page, component, kind, value) {
      const queued = track(page, component, kind, value);
      refreshUser();
      return queued;
    },
    flush: () => refreshUser().then(() => events.flush()),
    getSettings: account.getSettings,
    putSettings: account.putSettings,
    patchSettings: account.patchSettings,
    erase: account.erase,
    exportData: account.exportData,
    context: currentContext,
    pendingEvents: () => events.pending(),
    storedKeys: () => store.keys(),
  };

  refreshUser();
  const onAppHide = opts.onAppHide || (wxApi && typeof wxApi.onAppHide === 'function' && wxApi.onAppHide.bind(wxApi));
  if (onAppHide) {
    onAppHide(() => {
      events.persist();
      client.flush().catch(reportError);
    });
  }
  if (opts.register) registry.setDefault(client);
  return client;
}

module.exports = { createLayoutClient, isUsableLayout, mergePatch, LayoutUnavailableError };

'use strict';
// Each platform's runtime object as its own API shapes it, for the end-to-end suite and the
// adapters' tests: `wx` and `tt` (wx.request's options, {statusCode, header, data}), Alipay's
// `my` (`headers` in, {status, headers, data} out, a 4xx/5xx through `fail` with error 19,
// object-style storage) over Node's HTTP client, and a web window over Node's own `fetch` with
// an in-memory `localStorage`. `wire.loseNext` loses the answer of the next events POST (the
// server stored it; the SDK sees a network failure), recorded in `wire.eventPosts`.

const { nodeRequest } = require('./server');
const { platforms } = require('../../src');

const isEventsPost = (method, url) => method === 'POST' && /\/v1\/me\/events$/.test(url);

/** wx.request over Node's HTTP client, losing answers when told. */
function wxRequest(log, wire) {
  const request = nodeRequest(log);
  return function lossy(opts) {
    if (!isEventsPost(opts.method, opts.url)) return request(opts);
    const lose = wire.loseNext;
    wire.loseNext = false;
    const sent = { body: JSON.parse(String(opts.data)), statusCode: 0, answer: null, lost: lose };
    wire.eventPosts.push(sent);
    return request(Object.assign({}, opts, {
      success(res) {
        sent.statusCode = res.statusCode;
        // decoded here when the adapter asked for text (Alipay's: the core decodes it)
        sent.answer = typeof res.data === 'string' && res.data ? JSON.parse(res.data) : res.data;
        if (lose) opts.fail({ errMsg: 'request:fail the answer was lost' });
        else opts.success(res);
      },
    }));
  };
}

/** wx-style sync storage (also tt's) over a Map, JSON as the runtimes keep it. */
function wxStorage(data) {
  return {
    getStorageSync: (k) => (data.has(k) ? JSON.parse(data.get(k)) : ''),
    setStorageSync: (k, v) => { data.set(k, JSON.stringify(v)); },
    removeStorageSync: (k) => { data.delete(k); },
    getStorageInfoSync: () => ({ keys: [...data.keys()], currentSize: 0, limitSize: 10240 }),
  };
}

/** A `wx` (or `tt`) object. */
function fakeWx(log, wire, data) {
  return Object.assign({ request: wxRequest(log, wire) }, wxStorage(data));
}

/** Alipay's `my`: my.request and object-style storage, as the Alipay base library shapes them. */
function fakeMy(log, wire, data) {
  const request = wxRequest(log, wire);
  return {
    request(opts) {
      request({
        url: opts.url, method: opts.method, header: opts.headers, data: opts.data,
        timeout: opts.timeout, dataType: opts.dataType,
        success(res) {
          const answer = { status: res.statusCode, headers: res.header, data: res.data };
          if (res.statusCode >= 400) opts.fail(Object.assign({ error: 19, errorMessage: 'http status error' }, answer));
          else opts.success(answer);
        },
        fail(err) { opts.fail({ error: 12, errorMessage: err.errMsg }); },
      });
    },
    getStorageSync: ({ key }) => ({ data: data.has(key) ? JSON.parse(data.get(key)) : null }),
    setStorageSync: ({ key, data: value }) => { data.set(key, JSON.stringify(value)); return { success: true }; },
    removeStorageSync: ({ key }) => { data.delete(key); return { success: true }; },
    getStorageInfoSync: () => ({ keys: [...data.keys()], currentSize: 0, limitSize: 10240 }),
  };
}

/** window.localStorage over a Map. */
function memoryLocalStorage(data, limit) {
  return {
    getItem: (k) => (data.has(k) ? data.get(k) : null),
    setItem: (k, v) => {
      const size = [...data.entries()].reduce((n, [key, val]) => (key === k ? n : n + key.length + val.length), 0);
      if (limit && size + k.length + String(v).length > limit) {
        const err = new Error('The quota has been exceeded.');
        err.name = 'QuotaExceededError';
        throw err;
      }
      data.set(k, String(v));
    },
    removeItem: (k) => { data.delete(k); },
    key: (i) => [...data.keys()][i] || null,
    get length() { return data.size; },
  };
}

/** Node's real fetch, logged as nodeRequest logs, losing answers when told. */
function loggingFetch(log, wire) {
  return async function fetchLike(url, init) {
    const method = init.method || 'GET';
    let res;
    try {
      res = await fetch(url, init);
    } catch (err) {
      log.push({ method, url, error: (err.cause && err.cause.code) || err.message });
      throw err;
    }
    const headers = {};
    res.headers.forEach((v, k) => { headers[k] = v; });
    log.push({ method, url, requestHeaders: init.headers, statusCode: res.status, headers });
    if (!isEventsPost(method, url)) return res;
    const lose = wire.loseNext;
    wire.loseNext = false;
    const text = await res.text();
    wire.eventPosts.push({ body: JSON.parse(init.body), statusCode: res.status, answer: JSON.parse(text), lost: lose });
    if (lose) throw new TypeError('fetch failed: the answer was lost');
    return { status: res.status, headers: res.headers, text: async () => text };
  };
}

function fakeWindow(log, wire, data) {
  return {
    fetch: loggingFetch(log, wire),
    localStorage: memoryLocalStorage(data),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (id) => clearTimeout(id),
    AbortController,
    navigator: { language: 'zh-CN', userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile' },
    innerWidth: 375,
  };
}

/** name -> build(log, wire): {platform, keys()} */
const RUNTIMES = {
  wechat: (log, wire, data) => platforms.wechat(fakeWx(log, wire, data)),
  alipay: (log, wire, data) => platforms.alipay(fakeMy(log, wire, data)),
  douyin: (log, wire, data) => platforms.douyin(fakeWx(log, wire, data)),
  web: (log, wire, data) => platforms.web(fakeWindow(log, wire, data)),
};

function runtime(name) {
  return {
    name,
    build(log, wire) {
      const data = new Map();
      return { platform: RUNTIMES[name](log, wire, data), keys: () => [...data.keys()] };
    },
  };
}

module.exports = { runtime, fakeWx, fakeMy, fakeWindow, memoryLocalStorage, wxStorage };

'use strict';
/**
 * The one place the SDK touches the network: `request` has `wx.request`'s signature
 * ({url, method, header, data, timeout, dataType, success, fail}); tests pass one backed by
 * Node's HTTP client. A failure to reach the server rejects with a NetworkError; any HTTP
 * status resolves (the caller decides what a 4xx or 5xx means). A request whose callbacks are
 * never called (a platform that loses them, e.g. while the app is in the background) rejects
 * with a NetworkError NO_ANSWER_GRACE_MS after its timeout, so nothing waits on it forever.
 */

/** How long past its own timeout a request may stay unanswered before it counts as failed (ms). */
const NO_ANSWER_GRACE_MS = 2000;

/** @typedef {import('../../index').RequestFn} RequestFn */
/**
 * wx.request's methods, and PATCH: the typings (and WeChat's documentation) leave it out, the SDK
 * sends it for settings and falls back to GET + PUT on a 404 or 405 (account.js).
 * @typedef {NonNullable<WechatMiniprogram.RequestOption['method']> | 'PATCH'} Method
 */
/**
 * Header fields: name -> value. An answer's, as `send` resolves it, has lower-case names and string
 * values (normalizeHeaders), whatever shape the runtime gave.
 * @typedef {Record<string, string>} Headers
 */
/**
 * An HTTP answer: the status, the headers and the body (JSON decoded when it is JSON).
 * @typedef {{statusCode: number, header: Headers, data: any}} Response
 */
/**
 * `call(method, path, token, body?, headers?)`: see createApi.
 * @typedef {(method: Method, path: string, tokenValue: string, body?: unknown,
 *   extraHeaders?: Headers) => Promise<Response>} Call
 */

class NetworkError extends Error {
  /** @param {string} [message] */
  constructor(message) {
    super(message || 'network failure');
    this.name = 'NetworkError';
  }
}

class UnsupportedMethodError extends Error {
  /**
   * The runtime's request cannot send `method` (an Alipay client older than 10.1.82 sends only
   * GET and POST): refused before anything is sent, so nothing reached the server.
   * @param {string} method
   * @param {string} [runtime] the platform's name
   */
  constructor(method, runtime) {
    super('this runtime' + (runtime ? ' (' + runtime + ')' : '') + '\'s request cannot send ' + method +
      '; the server has no method override, so this operation is not available here');
    this.name = 'UnsupportedMethodError';
    /** @type {'method_unsupported'} */
    this.code = 'method_unsupported';
    this.method = method;
  }
}

class ApiError extends Error {
  /**
   * A 4xx/5xx with the contract's body {"error": {"code", "message", "field"}}.
   * @param {number} status
   * @param {any} body the decoded body, whatever the server sent
   */
  constructor(status, body) {
    /** @type {{code?: string, message?: string, field?: string | null}} */
    const detail = (body && body.error) || {};
    super(detail.message || 'HTTP ' + status);
    this.name = 'ApiError';
    this.status = status;
    this.code = detail.code || 'http_' + status;
    /** @type {string | null} */
    this.field = detail.field || null;
  }
}

/**
 * Header fields that take one value (RFC 9110 5.5): a field given twice (an array of two values,
 * or the same name in two cases) with different values is invalid and taken as absent, never
 * joined into a list the SDK would misread (`"a", "b"` as one ETag); `age` takes its first
 * member (RFC 9111 5.1).
 */
const SINGLETONS = ['etag', 'date', 'retry-after', 'last-modified', 'content-type'];

/**
 * A singleton's value as one member: a field given twice with the same value arrives joined by a
 * runtime that combines repeated fields (fetch's Headers, some proxies): `120, 120` or
 * `"e1", "e1"` is `120` / `"e1"`; a list of different values stays as it is (and is invalid for
 * the field's parser: a date, a delta-seconds or an ETag it does not take).
 * @param {string} value
 * @returns {string}
 */
function repeated(value) {
  for (let n = 2; n <= 8; n++) {
    const unit = (value.length + 2) / n - 2;
    if (unit < 1 || unit % 1) continue;
    const first = value.slice(0, unit);
    if (Array(n).fill(first).join(', ') === value) return first;
  }
  return value;
}

/**
 * The answer's header fields in one shape whatever the runtime gave: names lower-cased (wx, tt,
 * my and fetch differ, and Alipay and Douyin answer in either case), each value one string.
 * A value given as an array (some Alipay and Douyin base libraries), a number or a boolean is
 * turned into its text; members of a list field given more than once (an array, or the same
 * name in two cases) are joined with ", " in the order given (RFC 9110 5.3); a singleton
 * (SINGLETONS) given twice with different values is dropped, with the same value is that value
 * (also when a runtime joined the two: `120, 120`); null, undefined and objects are
 * dropped. A header block given as text (`Name: value` lines), an object with `forEach` (a fetch
 * Headers) or with `entries()` (a polyfill's) is read too; anything else is no headers.
 * @param {unknown} raw the runtime's `header` / `headers`
 * @returns {Headers} lower-case name -> value
 */
function normalizeHeaders(raw) {
  /** @type {Record<string, string[]>} no prototype: a field named `constructor` is a field */
  const given = Object.create(null);
  /**
   * @param {unknown} name
   * @param {unknown} value
   */
  const add = (name, value) => {
    if (typeof name !== 'string') return;
    const key = name.trim().toLowerCase();
    if (!key || key === '__proto__') return;
    const values = Array.isArray(value) ? value : [value];
    values.forEach((v) => {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
        (given[key] = given[key] || []).push(String(v).trim());
      }
    });
  };
  if (typeof raw === 'string') {
    raw.split(/\r?\n/).forEach((line) => {
      const colon = line.indexOf(':');
      if (colon > 0) add(line.slice(0, colon), line.slice(colon + 1));
    });
  } else if (raw && typeof raw === 'object') {
    const headers = /** @type {{forEach?: unknown, entries?: unknown}} */ (raw);
    if (typeof headers.forEach === 'function' && !Array.isArray(raw)) {
      headers.forEach((/** @type {unknown} */ value, /** @type {unknown} */ name) => add(name, value));
    } else if (typeof headers.entries === 'function' && !Array.isArray(raw)) {
      // a fetch polyfill's Headers without forEach (unfetch: keys, entries, get, has)
      const it = /** @type {{next(): {done?: boolean, value?: unknown}}} */ (headers.entries());
      for (let step = it.next(), n = 0; !step.done && n < 1000; step = it.next(), n++) {
        const pair = Array.isArray(step.value) ? step.value : [];
        add(pair[0], pair[1]);
      }
    } else if (!Array.isArray(raw)) {
      const fields = /** @type {Record<string, unknown>} */ (raw);
      Object.keys(fields).forEach((name) => add(name, fields[name]));
    }
  }
  /** @type {Headers} */
  const out = {};
  Object.keys(given).forEach((key) => {
    const values = given[key];
    if (!values.length) return;
    if (key === 'age') out[key] = values[0].split(',')[0].trim();
    else if (SINGLETONS.indexOf(key) >= 0) {
      const each = values.map(repeated);
      // an entity-tag holds no DQUOTE inside its quotes: more than two is a list of tags
      const list = key === 'etag' && (each[0].match(/"/g) || []).length > 2;
      if (!list && each.every((v) => v === each[0])) out[key] = each[0];
    } else out[key] = values.join(', ');
  });
  return out;
}

/**
 * A header by name, in any case.
 * @param {Headers | null | undefined} headers
 * @param {string} name
 * @returns {string | undefined}
 */
function headerValue(headers, name) {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  const keys = Object.keys(headers);
  for (let i = 0; i < keys.length; i++) {
    if (keys[i].toLowerCase() === wanted) return headers[keys[i]];
  }
  return undefined;
}

/**
 * An answer's HTTP status (RFC 9110 15: three digits, 100-599), given as a number or as its
 * text (some Alipay and Douyin clients); null for anything else (0, -1, none, 1000).
 * @param {unknown} value
 * @returns {number | null}
 */
function httpStatus(value) {
  const n = typeof value === 'string' && /^\s*\d{3}\s*$/.test(value) ? parseInt(value, 10) : value;
  return typeof n === 'number' && n % 1 === 0 && n >= 100 && n <= 599 ? n : null;
}

/**
 * @param {unknown} data
 * @returns {any} the decoded JSON, else the text itself
 */
function parseBody(data) {
  if (typeof data !== 'string') return data;
  if (!data) return null;
  try {
    return JSON.parse(data);
  } catch (e) {
    return data;
  }
}

/**
 * @param {RequestFn} request
 * @param {{url: string, method?: Method, header?: Headers, data?: string, timeout?: number}} options
 * @param {import('../../index').Scheduler} [scheduler] for the no-answer guard (with `timeout`)
 * @returns {Promise<Response>}
 */
function send(request, options, scheduler) {
  return new Promise((resolve, reject) => {
    let settled = false;
    /** @type {unknown} */
    let guard = null;
    const unguard = () => { if (guard !== null && scheduler) scheduler.clearTimeout(guard); };
    if (scheduler && options.timeout && options.timeout > 0) {
      guard = scheduler.setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(new NetworkError('request:fail no answer within ' + (options.timeout || 0) + ' ms'));
      }, options.timeout + NO_ANSWER_GRACE_MS);
    }
    try {
      request({
        url: options.url,
        method: /** @type {WechatMiniprogram.RequestOption['method']} */ (options.method || 'GET'),
        header: options.header || {},
        data: options.data,
        timeout: options.timeout,
        dataType: 'json',
        success(res) {
          if (settled) return;
          settled = true;
          unguard();
          const status = httpStatus(res && res.statusCode);
          if (status === null) {
            // no HTTP status (a platform's 0 or -1 for a connection that broke, none at all):
            // nothing the server said, so as unreachable, never an ApiError for the app
            reject(new NetworkError('request:fail no HTTP status (' + String(res && res.statusCode) + ')'));
            return;
          }
          resolve({
            statusCode: status,
            header: normalizeHeaders(res.header),
            data: parseBody(res.data),
          });
        },
        fail(err) {
          if (settled) return;
          settled = true;
          unguard();
          reject(new NetworkError((err && err.errMsg) || 'request failed'));
        },
      });
    } catch (err) {
      if (!settled) {
        settled = true;
        unguard();
        const thrown = /** @type {{message?: string} | null | undefined} */ (err);
        reject(new NetworkError(thrown ? thrown.message : undefined));
      }
    }
  });
}

/**
 * True when the runtime's request can send `method` (every method when it lists none).
 * @param {{methods?: string[]} | null | undefined} runtime
 * @param {string} method
 */
function supportsMethod(runtime, method) {
  const methods = runtime && runtime.methods;
  return !Array.isArray(methods) || methods.indexOf(method.toUpperCase()) >= 0;
}

/**
 * The uiserver API over `request`: `call(method, path, token, body, headers)` sends JSON with the
 * user's bearer token to `baseUrl + path` and resolves with {statusCode, header, data}.
 */
/**
 * @param {RequestFn} request
 * @param {string} baseUrl
 * @param {number} timeoutMs
 * @param {import('../../index').Scheduler} [scheduler] timers for the no-answer guard
 * @param {{methods?: string[], name?: string}} [runtime] the methods its request can send (all
 *   when not given): a call with another rejects with UnsupportedMethodError, sending nothing
 * @returns {Call}
 */
function createApi(request, baseUrl, timeoutMs, scheduler, runtime) {
  return function call(method, path, tokenValue, body, extraHeaders) {
    if (!supportsMethod(runtime, method)) {
      return Promise.reject(new UnsupportedMethodError(method, runtime && runtime.name));
    }
    /** @type {Headers} */
    const header = Object.assign({ Accept: 'application/json' }, extraHeaders || {});
    if (tokenValue) header.Authorization = 'Bearer ' + tokenValue;
    if (body !== undefined && !header['Content-Type']) header['Content-Type'] = 'application/json';
    return send(request, {
      url: baseUrl + path, method, header, timeout: timeoutMs,
      data: body === undefined ? undefined : JSON.stringify(body),
    }, scheduler);
  };
}

module.exports = { send, createApi, headerValue, normalizeHeaders, supportsMethod, httpStatus, NetworkError, ApiError,
  UnsupportedMethodError, NO_ANSWER_GRACE_MS };

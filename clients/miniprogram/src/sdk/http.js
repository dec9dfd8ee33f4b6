'use strict';
/**
 * The one place the SDK touches the network: `request` has `wx.request`'s signature
 * ({url, method, header, data, timeout, dataType, success, fail}); tests pass one backed by
 * Node's HTTP client. A failure to reach the server rejects with a NetworkError; any HTTP
 * status resolves (the caller decides what a 4xx or 5xx means).
 */

class NetworkError extends Error {
  constructor(message) {
    super(message || 'network failure');
    this.name = 'NetworkError';
  }
}

class ApiError extends Error {
  /** A 4xx/5xx with the contract's body {"error": {"code", "message", "field"}}. */
  constructor(status, body) {
    const detail = (body && body.error) || {};
    super(detail.message || 'HTTP ' + status);
    this.name = 'ApiError';
    this.status = status;
    this.code = detail.code || 'http_' + status;
    this.field = detail.field || null;
  }
}

function headerValue(headers, name) {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  const keys = Object.keys(headers);
  for (let i = 0; i < keys.length; i++) {
    if (keys[i].toLowerCase() === wanted) return headers[keys[i]];
  }
  return undefined;
}

function parseBody(data) {
  if (typeof data !== 'string') return data;
  if (!data) return null;
  try {
    return JSON.parse(data);
  } catch (e) {
    return data;
  }
}

function send(request, options) {
  return new Promise((resolve, reject) => {
    let settled = false;
    try {
      request({
        url: options.url,
        method: options.method || 'GET',
        header: options.header || {},
        data: options.data,
        timeout: options.timeout,
        dataType: 'json',
        success(res) {
          if (settled) return;
          settled = true;
          resolve({
            statusCode: res.statusCode,
            header: res.header || {},
            data: parseBody(res.data),
          });
        },
        fail(err) {
          if (settled) return;
          settled = true;
          reject(new NetworkError((err && err.errMsg) || 'request failed'));
        },
      });
    } catch (err) {
      if (!settled) {
        settled = true;
        reject(new NetworkError(err && err.message));
      }
    }
  });
}

/**
 * The uiserver API over `request`: `call(method, path, token, body, headers)` sends JSON with the
 * user's bearer token to `baseUrl + path` and resolves with {statusCode, header, data}.
 */
function createApi(request, baseUrl, timeoutMs) {
  return function call(method, path, tokenValue, body, extraHeaders) {
    const header = Object.assign({ Accept: 'application/json' }, extraHeaders || {});
    if (tokenValue) header.Authorization = 'Bearer ' + tokenValue;
    if (body !== undefined && !header['Content-Type']) header['Content-Type'] = 'application/json';
    return send(request, {
      url: baseUrl + path, method, header, timeout: timeoutMs,
      data: body === undefined ? undefined : JSON.stringify(body),
    });
  };
}

function encodeQuery(params) {
  const parts = [];
  Object.keys(params).forEach((key) => {
    const value = params[key];
    if (value === undefined || value === null || value === '') return;
    const text = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
    parts.push(encodeURIComponent(key) + '=' + encodeURIComponent(text));
  });
  return parts.join('&');
}

module.exports = { send, createApi, headerValue, encodeQuery, NetworkError, ApiError };

'use strict';
/**
 * What this SDK can draw, in one compact, cacheable value sent with every layout request:
 *
 *     X-UI-Capabilities: r=0.2.0;t=ab12cd34
 *
 * `r` is the renderer version (this package's), `t` the hash of the types it registered:
 * FNV-1a 32-bit over the distinct names sorted and joined by "\n" (UTF-8), 8 hex digits — the
 * server computes the same (`uiserver.engine.capability.types_hash`). The server never sends a
 * type outside that set: it sends the type's fallback, or leaves it out, and says so in
 * `reasons`. A hash the server does not know (an app that registered its own types) is answered
 * 428 `capabilities_unknown`: the SDK registers its list once (`POST /v1/capabilities`) and asks
 * again; when it is refused (a 4xx) it sends `r` alone (the server then assumes the version's
 * defaults); an anonymous caller cannot register (the route answers 401/403 without a user's
 * token), so its request goes with `r` alone that once and the list is registered on a later
 * 428 with a token; a 428 after a registration was taken (the server lost the list: a new
 * store, a replica behind) registers it again; a registration that could not be answered (offline, a 5xx or 429) is tried again
 * on the next 428, which meanwhile stands in like an error (the stored copy or the default);
 * a 5xx or 429 registration's Retry-After holds the layout requests back like a layout's.
 */

const RENDERER_VERSION = '0.2.0';

/**
 * @param {string} text
 * @returns {number[]} its UTF-8 bytes
 */
function utf8(text) {
  const out = [];
  const encoded = unescape(encodeURIComponent(text));
  for (let i = 0; i < encoded.length; i += 1) out.push(encoded.charCodeAt(i));
  return out;
}

/**
 * @param {Iterable<string>} types
 * @returns {string} 8 lowercase hex digits
 */
function typesHash(types) {
  const names = Array.from(new Set(Array.from(types, String))).sort();
  let h = 0x811c9dc5;
  for (const byte of utf8(names.join('\n'))) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return ('0000000' + h.toString(16)).slice(-8);
}

/**
 * @typedef {object} CapabilityDeps
 * @property {string[]} types what the renderer draws
 * @property {string} [version] the renderer version (default RENDERER_VERSION)
 * @property {import('./http').Call} call
 */

/**
 * The renderer version as the server takes it: MAJOR.MINOR.PATCH, numbers without leading
 * zeros, at most 4 digits each (uiserver.schema.RENDERER_VERSION_PATTERN). An app's own version
 * ("1.2.0-beta.1", "v1.2.3", "1.02.0", "2.0.0+build.7") is sent as its first three numbers; one
 * without them as this package's version. Sent as given, the server refuses every layout
 * request (400 bad_capabilities).
 * @param {unknown} version
 * @returns {string}
 */
function serverVersion(version) {
  const m = /(\d+)\.(\d+)\.(\d+)/.exec(typeof version === 'string' ? version : '');
  if (!m) return RENDERER_VERSION;
  const parts = m.slice(1, 4).map((n) => String(parseInt(n, 10)));
  return parts.every((n) => n.length <= 4) ? parts.join('.') : RENDERER_VERSION;
}

/** @param {CapabilityDeps} deps */
function createCapabilities(deps) {
  const version = serverVersion(deps.version || RENDERER_VERSION);
  const types = Array.from(new Set(deps.types)).sort();
  const full = 'r=' + version + ';t=' + typesHash(types);
  let value = full;
  /** @type {Promise<'registered' | 'refused' | 'unauthorized' | 'failed'> | null} */
  let registering = null;
  /** @type {import('./http').Response | null} the last registration's 5xx/429, while it stands */
  let busy = null;
  /** The last registration was answered 201: a 428 after it means the server lost the list. */
  let registered = false;

  return {
    types,
    version,
    /** The header to send with a layout request. */
    headers() {
      return { 'X-UI-Capabilities': value };
    },
    value() {
      return value;
    },
    /** The last registration's 5xx or 429 answer (its Retry-After counts), null when none. */
    busy() {
      return busy;
    },
    /**
     * A 428 `capabilities_unknown`: register the list (once per client) and say what to send
     * again: the full value once registered, `r` alone once refused (for the rest of the run),
     * `r` alone for this request only when the caller cannot register (no token, or the server
     * answers 401/403: the route takes signed-in users, so an anonymous launch says nothing
     * about the types; the list is registered on a later 428 with a user's token), null when
     * the request cannot be sent again (a blip: offline, a 5xx or 429).
     * @param {string | null} token
     * @returns {Promise<import('./http').Headers | null>}
     */
    recover(token) {
      if (value !== full) return Promise.resolve(null);
      const versionOnly = { 'X-UI-Capabilities': 'r=' + version };
      if (!token) return Promise.resolve(versionOnly);
      if (registering && registered) {
        // a 428 for a list the server took (201): it lost it (a new store, a replica behind)
        registering = null;
        registered = false;
      }
      if (!registering) {
        busy = null;
        registering = deps.call('POST', '/v1/capabilities', token, { renderer: version, types })
          .then((res) => {
            if (res.statusCode === 201) {
              registered = true;
              return 'registered';
            }
            registering = null; // anything but a refusal of the list is asked again on the next 428
            if (res.statusCode >= 500 || res.statusCode === 429) {
              busy = res; // its Retry-After holds the layout requests back (revalidation.js)
              return 'failed';
            }
            if (res.statusCode === 401 || res.statusCode === 403) return 'unauthorized';
            value = 'r=' + version;
            return 'refused';
          }, () => {
            registering = null; // a network failure: try again on the next 428
            return 'failed';
          });
      }
      return registering.then((outcome) => {
        if (outcome === 'failed') return null;
        return outcome === 'unauthorized' ? versionOnly : { 'X-UI-Capabilities': value };
      });
    },
  };
}

module.exports = { RENDERER_VERSION, typesHash, createCapabilities, serverVersion };

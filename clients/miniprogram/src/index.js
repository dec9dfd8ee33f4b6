'use strict';
/** uiserver-miniprogram: the launch SDK; the renderer is the `components/ui-layout` component. */

const { createLayoutClient } = require('./sdk/client');
const { previewFromQuery } = require('./sdk/preview');
const { isUsableLayout } = require('./sdk/layout');
const { LayoutUnavailableError } = require('./sdk/launch');
const { IdentityChangedError } = require('./sdk/identity');
const { parseHttpDate, retryAfterMs } = require('./sdk/retry-after');
const { mergePatch, EraseIncompleteError } = require('./sdk/account');
const { parseCacheControl, freshness, usableOnError } = require('./sdk/cache-control');
const { contextFromSystemInfo, contextQuery } = require('./sdk/context');
const { NetworkError, ApiError, UnsupportedMethodError } = require('./sdk/http');
const { subjectOf } = require('./sdk/token');
const registry = require('./registry');
const { RENDERER_VERSION, typesHash } = require('./sdk/capabilities');
const platforms = require('./platforms');

/**
 * The public API is what index.d.ts declares: `tsc` (checkJs) holds this object to that module's
 * type, so a declaration without an implementation, or one that disagrees, fails `npm test`.
 * @type {typeof import('../index')}
 */
const api = {
  createLayoutClient,
  previewFromQuery,
  isUsableLayout,
  mergePatch,
  parseCacheControl,
  freshness,
  usableOnError,
  contextFromSystemInfo,
  contextQuery,
  subjectOf,
  registry,
  platforms,
  RENDERER_VERSION,
  typesHash,
  NetworkError,
  ApiError,
  UnsupportedMethodError,
  LayoutUnavailableError,
  IdentityChangedError,
  EraseIncompleteError,
  parseHttpDate,
  retryAfterMs,
};

module.exports = api;

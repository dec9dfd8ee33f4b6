'use strict';
/** uiserver-miniprogram: the launch SDK; the renderer is the `components/ui-layout` component. */

const { createLayoutClient } = require('./sdk/client');
const { isUsableLayout } = require('./sdk/layout');
const { LayoutUnavailableError } = require('./sdk/launch');
const { mergePatch } = require('./sdk/account');
const { parseCacheControl, freshness, usableOnError } = require('./sdk/cache-control');
const { contextFromSystemInfo, contextQuery } = require('./sdk/context');
const { NetworkError, ApiError } = require('./sdk/http');
const { subjectOf } = require('./sdk/token');
const registry = require('./registry');

module.exports = {
  createLayoutClient,
  isUsableLayout,
  mergePatch,
  parseCacheControl,
  freshness,
  usableOnError,
  contextFromSystemInfo,
  contextQuery,
  subjectOf,
  registry,
  NetworkError,
  ApiError,
  LayoutUnavailableError,
};

'use strict';
/** uiserver-miniprogram: the launch SDK; the renderer is the `components/ui-layout` component. */

const { createLayoutClient, isUsableLayout, mergePatch, LayoutUnavailableError } = require('./sdk/client');
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

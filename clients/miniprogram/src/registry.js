'use strict';
/**
 * Where `<ui-layout>` finds the client whose `track` its taps feed: component properties
 * cannot carry functions, so `createLayoutClient` registers itself here (the last one created
 * is the default; `register(name, client)` for several).
 */

/** @typedef {Pick<import('../index').LayoutClient, 'track'>} Tracker */

/** @type {Record<string, Tracker>} */
const clients = {};
/** @type {Tracker | null} */
let fallback = null;

/** @param {Tracker} client */
function setDefault(client) {
  fallback = client;
}

/**
 * @param {string} name
 * @param {Tracker} client
 */
function register(name, client) {
  clients[name] = client;
}

/**
 * @param {string} [name]
 * @returns {Tracker | null}
 */
function get(name) {
  return (name && clients[name]) || fallback;
}

function clear() {
  Object.keys(clients).forEach((k) => { delete clients[k]; });
  fallback = null;
}

module.exports = { setDefault, register, get, clear };

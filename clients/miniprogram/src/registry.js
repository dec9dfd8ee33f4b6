'use strict';
/**
 * Where `<ui-layout>` finds the client whose `track` its taps feed: component properties
 * cannot carry functions, so `createLayoutClient` registers itself here (the last one created
 * is the default; `register(name, client)` for several).
 */

const clients = {};
let fallback = null;

function setDefault(client) {
  fallback = client;
}

function register(name, client) {
  clients[name] = client;
}

function get(name) {
  return (name && clients[name]) || fallback;
}

function clear() {
  Object.keys(clients).forEach((k) => { delete clients[k]; });
  fallback = null;
}

module.exports = { setDefault, register, get, clear };

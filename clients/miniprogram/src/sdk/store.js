'use strict';
/**
 * Stored layouts keyed by (user, page, context), bounded by entry count with least-recently-used
 * eviction, over a `wx`-style synchronous storage ({getStorageSync, setStorageSync,
 * removeStorageSync}), and the per-user flags that go with them (the personalization strength
 * last seen; the event queue keeps its own key). Storage failures (quota, a corrupt value) never
 * break a launch: the SDK behaves as if nothing was stored.
 */

/**
 * A stored layout and what its response said about caching it.
 * @typedef {object} StoredEntry
 * @property {import('../../index').Layout} layout
 * @property {string | null} etag
 * @property {number} storedAt ms, the SDK's clock
 * @property {import('../../index').CacheControl} cacheControl
 * @property {boolean} [invalidated] settings changed since: never fresh again
 */
/** @typedef {{k: string, u: string, t: number}} IndexItem storage key, user, last used (ms) */
/** @typedef {ReturnType<typeof createStore>} Store */

/**
 * @param {import('../../index').SyncStorage} storage
 * @param {{prefix?: string, maxEntries?: number}} [options]
 */
function createStore(storage, options) {
  const prefix = (options && options.prefix) || 'uiserver:';
  const maxEntries = (options && options.maxEntries) || 20;
  const indexKey = prefix + 'index';

  /**
   * @param {string} key
   * @returns {any} what was stored, or null
   */
  function read(key) {
    try {
      const value = storage.getStorageSync(key);
      return value === '' || value === undefined ? null : value;
    } catch (e) {
      return null;
    }
  }

  /**
   * @param {string} key
   * @param {unknown} value
   */
  function write(key, value) {
    try {
      storage.setStorageSync(key, value);
      return true;
    } catch (e) {
      return false;
    }
  }

  /** @param {string} key */
  function remove(key) {
    try {
      storage.removeStorageSync(key);
    } catch (e) {
      // nothing to do: a value that cannot be removed is overwritten next time
    }
  }

  /** @returns {IndexItem[]} */
  function readIndex() {
    const index = read(indexKey);
    return Array.isArray(index) ? index : [];
  }

  /**
   * @param {string} user
   * @param {string} page
   * @param {string} query
   */
  function layoutKey(user, page, query) {
    return prefix + 'layout:' + user + '|' + page + '|' + query;
  }

  /**
   * @param {string} user
   * @param {string} page
   * @param {string} query
   * @returns {StoredEntry | null}
   */
  function get(user, page, query) {
    const entry = read(layoutKey(user, page, query));
    if (!entry || typeof entry !== 'object' || !entry.layout) return null;
    return entry;
  }

  /**
   * @param {string} user
   * @param {string} page
   * @param {string} query
   * @param {StoredEntry} entry
   * @param {number} now
   */
  function put(user, page, query, entry, now) {
    const key = layoutKey(user, page, query);
    let index = readIndex().filter((item) => item.k !== key);
    index.push({ k: key, u: user, t: now });
    index.sort((a, b) => a.t - b.t);
    if (index.length > maxEntries) {
      index.splice(0, index.length - maxEntries).forEach((item) => remove(item.k));
    }
    if (!write(key, entry)) {
      // likely the storage quota: drop the oldest half and try once more
      const drop = index.splice(0, Math.floor(index.length / 2));
      drop.forEach((item) => { if (item.k !== key) remove(item.k); });
      if (!write(key, entry)) index = index.filter((item) => item.k !== key);
    }
    write(indexKey, index);
  }

  /**
   * @param {string} user
   * @param {string} page
   * @param {string} query
   * @param {number} now
   */
  function touch(user, page, query, now) {
    const key = layoutKey(user, page, query);
    const index = readIndex();
    index.forEach((item) => { if (item.k === key) item.t = now; });
    write(indexKey, index);
  }

  /** @param {string} user */
  function personalizationKey(user) {
    return prefix + 'personalization:' + user;
  }

  /**
   * The user's personalization strength last seen (in settings or a served layout), or null.
   * @param {string} user
   * @returns {number | null}
   */
  function personalization(user) {
    return read(personalizationKey(user));
  }

  /**
   * @param {string} user
   * @param {number} value
   */
  function setPersonalization(user, value) {
    write(personalizationKey(user), value);
  }

  /**
   * Mark every stored layout of the user as needing revalidation (settings changed).
   * @param {string} user
   */
  function invalidateUser(user) {
    readIndex().forEach((item) => {
      if (item.u !== user) return;
      const entry = read(item.k);
      if (entry && typeof entry === 'object') {
        entry.invalidated = true;
        write(item.k, entry);
      }
    });
  }

  /** @param {string} user */
  function removeUser(user) {
    const index = readIndex();
    index.forEach((item) => { if (item.u === user) remove(item.k); });
    write(indexKey, index.filter((item) => item.u !== user));
    remove(personalizationKey(user));
    remove(prefix + 'events:' + user);
  }

  function keys() {
    return readIndex().map((item) => item.k);
  }

  return {
    get, put, touch, invalidateUser, removeUser, keys, personalization, setPersonalization,
    read, write, remove, prefix,
  };
}

module.exports = { createStore };

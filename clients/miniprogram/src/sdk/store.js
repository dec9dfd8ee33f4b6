'use strict';
/**
 * Stored layouts keyed by (user, page, context), bounded by entry count with least-recently-used
 * eviction, over a `wx`-style synchronous storage ({getStorageSync, setStorageSync,
 * removeStorageSync}), and the per-user flags that go with them (the personalization strength
 * last seen; the event queue keeps its own key). Storage failures (quota, a corrupt value) never
 * break a launch: the SDK behaves as if nothing was stored. Writes fail safe (nothing is left
 * that the index does not name), reads validate, and damage is repaired where it is found.
 *
 * The index is what erasure finds a user's copies by (where the platform lists no keys), so a
 * copy it does not name is never drawn: it is removed when read (an index that was damaged and
 * repaired, a write that failed between the two). An index that cannot be read at all (the
 * platform's read throws) is never written over: nothing is stored, touched or drawn until it
 * reads again, so the copies it names are still found by a later erasure.
 */

/**
 * A stored layout and what its response said about caching it.
 * @typedef {object} StoredEntry
 * @property {import('../../index').Layout} layout
 * @property {string | null} etag
 * @property {number} storedAt ms, the SDK's clock
 * @property {import('../../index').CacheControl} cacheControl
 * @property {boolean} [invalidated] settings changed since: never fresh again
 * @property {string} [drawnBy] the capability value (`X-UI-Capabilities`) it was asked with:
 *   made for that renderer, it is never fresh for another (launch.js)
 */
/** @typedef {{k: string, u: string, t: number}} IndexItem storage key, user, last used (ms) */
/** @typedef {ReturnType<typeof createStore>} Store */

const { isUsableLayout } = require('./layout');

/**
 * @param {import('../../index').SyncStorage} storage
 * @param {{prefix?: string, maxEntries?: number}} [options]
 */
function createStore(storage, options) {
  const prefix = (options && options.prefix) || 'uiserver:';
  const maxEntries = (options && options.maxEntries) || 20;
  const indexKey = prefix + 'index';

  /** What `read` answers for a value the platform could not read (its read threw). */
  const UNREADABLE = {};

  /**
   * @param {string} key
   * @returns {any} what was stored, null for nothing, UNREADABLE when the read threw
   */
  function readOrFault(key) {
    try {
      const value = storage.getStorageSync(key);
      return value === '' || value === undefined ? null : value;
    } catch (e) {
      return UNREADABLE;
    }
  }

  /**
   * Keys an erasure could not remove (the platform refused both removing and blanking them),
   * with their user: they read as nothing from then on (in memory, and in storage under
   * `erasedKey` where it can be written, so a later launch hides them too and tries again); a
   * key written again since (the storage took it) is the new value's, no longer erased.
   * @type {Record<string, string>}
   */
  const tombstones = {};
  const erasedKey = prefix + 'erased';

  /**
   * @param {string} key
   * @returns {any} what was stored, or null (nothing, an erased key, or a read that threw)
   */
  function read(key) {
    if (Object.prototype.hasOwnProperty.call(tombstones, key)) return null;
    const value = readOrFault(key);
    return value === UNREADABLE ? null : value;
  }

  /** Store the tombstones (remove the record when there are none); false when it failed. */
  function saveTombstones() {
    const list = Object.keys(tombstones).map((k) => ({ k, u: tombstones[k] }));
    if (list.length) return writeRaw(erasedKey, list);
    try {
      storage.removeStorageSync(erasedKey);
    } catch (e) {
      writeRaw(erasedKey, '');
    }
    return true;
  }

  /**
   * @param {string} key
   * @param {unknown} value
   */
  function writeRaw(key, value) {
    try {
      storage.setStorageSync(key, value);
      return true;
    } catch (e) {
      return false;
    }
  }

  /**
   * @param {string} key
   * @param {unknown} value
   */
  function write(key, value) {
    if (!writeRaw(key, value)) return false;
    if (value !== '' && Object.prototype.hasOwnProperty.call(tombstones, key)) {
      delete tombstones[key]; // a new value the storage took: not the erased one
      saveTombstones();
    }
    return true;
  }

  /**
   * Remove the value, checked by reading it back: one the platform refuses to remove (it throws,
   * or answers success and keeps it) is blanked, which then reads as nothing. False when the
   * value is still readable after both (or was there and can no longer be read): it was not
   * removed; a value that could not be read before or after counts as removed (nothing known to
   * be there, and nothing this SDK can draw).
   * @param {string} key
   * @returns {boolean} removed
   */
  function remove(key) {
    const before = readOrFault(key);
    try {
      storage.removeStorageSync(key);
    } catch (e) {
      // refused: blanked below
    }
    let after = readOrFault(key);
    if (after !== null) {
      // refused (threw) or silently kept: blank it, never left readable
      writeRaw(key, '');
      after = readOrFault(key);
    }
    const removed = after === null || (after === UNREADABLE && (before === null || before === UNREADABLE));
    if (removed && Object.prototype.hasOwnProperty.call(tombstones, key)) {
      delete tombstones[key];
      saveTombstones();
    }
    return removed;
  }

  const layoutPrefix = prefix + 'layout:';
  /** @type {Record<string, number>} user -> personalization strength, as last read or set */
  const flags = {};
  /** @type {Record<string, boolean>} users whose strength set in this run the storage did not take */
  const unsaved = {};

  /**
   * @param {unknown} item
   * @returns {item is IndexItem}
   */
  function isIndexItem(item) {
    if (!item || typeof item !== 'object') return false;
    const it = /** @type {Record<string, unknown>} */ (item);
    return typeof it.k === 'string' && it.k.indexOf(layoutPrefix) === 0 && typeof it.u === 'string' &&
      typeof it.t === 'number' && isFinite(it.t);
  }

  /**
   * The index, validated: an item that is not {k, u, t} (or names a key outside this SDK's
   * prefix) is dropped and the repaired index written back; null when the platform could not
   * read it (never written over then); never throws.
   * @returns {IndexItem[] | null}
   */
  function readIndexOrFault() {
    const raw = readOrFault(indexKey);
    if (raw === UNREADABLE) return null;
    if (raw === null) return [];
    const list = Array.isArray(raw) ? raw : [];
    /** @type {Record<string, boolean>} */
    const seen = {};
    const index = list.filter((item) => {
      if (!isIndexItem(item) || seen[item.k]) return false;
      seen[item.k] = true;
      return true;
    });
    if (index.length !== list.length || !Array.isArray(raw)) write(indexKey, index);
    return index;
  }

  /**
   * The index, [] when it cannot be read (for the callers that only look).
   * @returns {IndexItem[]}
   */
  function readIndex() {
    return readIndexOrFault() || [];
  }

  /**
   * @param {string} user
   * @param {string} page
   * @param {string} query
   */
  function layoutKey(user, page, query) {
    return layoutPrefix + user + '|' + page + '|' + query;
  }

  /**
   * A stored entry this SDK can use: a drawable layout, an ETag or null, a finite storedAt and a
   * Cache-Control object of numbers and flags. Anything else was damaged (or written by
   * something else).
   * @param {unknown} value
   * @returns {value is StoredEntry}
   */
  function isEntry(value) {
    if (!value || typeof value !== 'object') return false;
    const entry = /** @type {Record<string, unknown>} */ (value);
    const cc = entry.cacheControl;
    return isUsableLayout(entry.layout) && (entry.etag === null || typeof entry.etag === 'string') &&
      typeof entry.storedAt === 'number' && isFinite(entry.storedAt) &&
      !!cc && typeof cc === 'object' && !Array.isArray(cc) && isCacheControl(/** @type {Record<string, unknown>} */ (cc)) &&
      (entry.drawnBy === undefined || typeof entry.drawnBy === 'string');
  }

  /**
   * Cache-Control as parseCacheControl makes it: each interval a number of seconds from 0 to
   * 2^31 (RFC 9111 1.2.2), each flag a boolean, where present. A string ("31536000" would be
   * multiplied into a year of freshness), an infinite or negative number is damage.
   * @param {Record<string, unknown>} cc
   */
  function isCacheControl(cc) {
    const seconds = (/** @type {unknown} */ v) => v === undefined ||
      (typeof v === 'number' && isFinite(v) && v >= 0 && v <= 2147483648);
    const flag = (/** @type {unknown} */ v) => v === undefined || typeof v === 'boolean';
    return seconds(cc.maxAge) && seconds(cc.staleWhileRevalidate) && seconds(cc.staleIfError) &&
      flag(cc.noStore) && flag(cc.noCache);
  }

  /**
   * The stored copy, validated: a damaged one is removed (with its index item) and reads as
   * nothing, so its ETag is never sent and a 304 never revives it; so is one the index does not
   * name (erasure could not find it). Nothing while the index cannot be read.
   * @param {string} user
   * @param {string} page
   * @param {string} query
   * @returns {StoredEntry | null}
   */
  function get(user, page, query) {
    const key = layoutKey(user, page, query);
    const entry = read(key);
    if (entry === null) return null;
    const index = readIndexOrFault();
    if (index === null) return null; // who it belongs to cannot be checked: as if not stored
    const named = index.some((item) => item.k === key);
    if (named && isEntry(entry)) return entry;
    remove(key);
    if (named) write(indexKey, index.filter((item) => item.k !== key));
    return null;
  }

  /**
   * Store a copy, failing safe: the index names the key before the value is written (an index
   * item without a value reads as nothing; a value without an index item would escape erasure),
   * and a value that cannot be written (the storage is full) is removed, not left as it was.
   * @param {string} user
   * @param {string} page
   * @param {string} query
   * @param {StoredEntry} entry
   * @param {number} now
   * @returns {boolean} stored
   */
  function put(user, page, query, entry, now) {
    const key = layoutKey(user, page, query);
    const stored = readIndexOrFault();
    if (stored === null) return false; // written over, the index would lose every other copy
    const index = stored.filter((item) => item.k !== key);
    // used "in the future" (a clock that was ahead, since corrected): as if used now, so the
    // copy written now is never the least recently used and evicted (unindexed) at once
    index.forEach((item) => { if (item.t > now) item.t = now; });
    index.push({ k: key, u: user, t: now });
    index.sort((a, b) => a.t - b.t);
    if (index.length > maxEntries) {
      index.splice(0, index.length - maxEntries).forEach((item) => remove(item.k));
    }
    /** likely the storage quota: drop the oldest half (never this key) */
    const makeRoom = () => {
      const others = index.filter((item) => item.k !== key);
      others.slice(0, Math.ceil(others.length / 2)).forEach((item) => {
        remove(item.k);
        index.splice(index.indexOf(item), 1);
      });
    };
    if (!write(indexKey, index)) {
      makeRoom();
      if (!write(indexKey, index)) {
        remove(key); // the old value is still named by the old index; it is outdated either way
        return false;
      }
    }
    if (write(key, entry)) return true;
    remove(key); // the old copy is outdated and the new one does not fit: neither stays
    makeRoom();
    if (write(indexKey, index) && write(key, entry)) return true;
    remove(key);
    write(indexKey, index.filter((item) => item.k !== key));
    return false;
  }

  /**
   * @param {string} user
   * @param {string} page
   * @param {string} query
   * @param {number} now
   */
  function touch(user, page, query, now) {
    const key = layoutKey(user, page, query);
    const index = readIndexOrFault();
    if (index === null) return; // never written over: it names every other copy
    index.forEach((item) => { if (item.k === key) item.t = now; });
    write(indexKey, index);
  }

  /** @param {string} user */
  function personalizationKey(user) {
    return prefix + 'personalization:' + user;
  }

  /**
   * The user's personalization strength last seen (in settings or a served layout), or null:
   * the stored one (read each time), else the one this run saw (a write that failed).
   * @param {string} user
   * @returns {number | null}
   */
  function personalization(user) {
    // set in this run but not taken by the storage: what it still holds is older, never it
    if (unsaved[user]) return flags[user];
    // storage first: another client on the same storage may have changed it since
    const key = personalizationKey(user);
    const value = read(key);
    if (typeof value === 'number' && value >= 0 && value <= 1) {
      flags[user] = value;
      return value;
    }
    if (value !== null) remove(key); // damaged: unknown until settings or a layout say it again
    return Object.prototype.hasOwnProperty.call(flags, user) ? flags[user] : null;
  }

  /**
   * Remember the strength; kept in memory too, so a write that fails (storage full) still
   * counts for this run, and the stale value it could not replace is removed.
   * @param {string} user
   * @param {number} value
   */
  function setPersonalization(user, value) {
    flags[user] = value;
    if (write(personalizationKey(user), value)) {
      delete unsaved[user];
      return;
    }
    unsaved[user] = true; // the old value may stay (a removal refused too): never read over this one
    remove(personalizationKey(user));
  }

  /**
   * Mark every stored layout of the user as needing revalidation (settings changed).
   * @param {string} user
   */
  function invalidateUser(user) {
    keysOf(user, readIndex()).forEach((k) => {
      const entry = read(k);
      if (!isEntry(entry)) {
        remove(k);
        return;
      }
      entry.invalidated = true;
      if (!write(k, entry)) remove(k); // a copy that cannot be marked must not pass for fresh
    });
  }

  /**
   * Every key this SDK stored for the user: the index's, and the storage's own key list where
   * the platform has one (getStorageInfoSync), so a copy left unindexed (an older SDK, a crash
   * between writes) is found too. Keys outside this SDK's prefix are never touched.
   * @param {string} user
   * @param {IndexItem[]} index
   * @returns {string[]}
   */
  function keysOf(user, index) {
    /** @type {Record<string, boolean>} */
    const found = {};
    // by the item's user, or by its key (an item whose user was damaged still names the key)
    index.forEach((item) => { if (item.u === user || ownedBy(item.k, user)) found[item.k] = true; });
    /** @type {unknown[]} */
    let all = [];
    try {
      const info = typeof storage.getStorageInfoSync === 'function' ? storage.getStorageInfoSync() : null;
      all = info && Array.isArray(info.keys) ? info.keys : [];
    } catch (e) {
      // no key list on this platform: the index is all there is
    }
    all.forEach((k) => {
      if (typeof k === 'string' && ownedBy(k, user)) found[k] = true;
    });
    return Object.keys(found);
  }

  /**
   * True when `k` is a layout key of `user`: "<prefix>layout:<user>|<page>|<query>"; page and
   * query never hold "|", so a user whose id extends this one's ("alice|bob") is not this user.
   * @param {string} k
   * @param {string} user
   */
  function ownedBy(k, user) {
    const mine = layoutPrefix + user + '|';
    return k.indexOf(mine) === 0 && k.slice(mine.length).split('|').length === 2;
  }

  /**
   * Remove everything stored about the user, every key tried whatever the others do. The keys
   * the platform would neither remove nor blank are returned, and tombstoned: they read as
   * nothing in this run and (where the record can be written) in later ones, which try to
   * remove them again when the store is created.
   * @param {string} user
   * @returns {string[]} the keys still readable (none when everything was removed)
   */
  function removeUser(user) {
    const index = readIndexOrFault();
    /** @type {string[]} */
    const left = [];
    const drop = (/** @type {string} */ k) => { if (!remove(k)) left.push(k); };
    keysOf(user, index || []).forEach(drop);
    const rest = index && index.filter((item) => item.u !== user && !ownedBy(item.k, user));
    // the index names the user: one that cannot be written keeps naming them (its items then
    // point at removed or tombstoned keys, never drawn)
    if (index && rest && rest.length !== index.length && !write(indexKey, rest)) left.push(indexKey);
    delete flags[user];
    delete unsaved[user];
    drop(personalizationKey(user));
    drop(prefix + 'events:' + user);
    markErased(left.filter((k) => k !== indexKey), user);
    return left;
  }

  /**
   * Tombstone keys of the user's that could not be removed (see removeUser): they read as
   * nothing from now on, in this run and (where the record can be written) later ones.
   * @param {string[]} list
   * @param {string} user
   */
  function markErased(list, user) {
    list.forEach((k) => { tombstones[k] = user; });
    if (list.length) saveTombstones();
  }

  /**
   * A later run: the keys an erasure could not remove read as nothing again, and are tried again
   * (with their index items); those removed now leave the record.
   */
  function retryErased() {
    const saved = readOrFault(erasedKey);
    if (!Array.isArray(saved)) return;
    saved.forEach((item) => {
      if (item && typeof item.k === 'string' && item.k.indexOf(prefix) === 0 && item.k !== indexKey &&
        item.k !== erasedKey && typeof item.u === 'string') tombstones[item.k] = item.u;
    });
    const gone = Object.keys(tombstones).filter((k) => remove(k));
    const index = gone.length ? readIndexOrFault() : null;
    if (index) {
      const rest = index.filter((item) => gone.indexOf(item.k) < 0);
      if (rest.length !== index.length) write(indexKey, rest);
    }
    saveTombstones();
  }
  retryErased();

  function keys() {
    return readIndex().map((item) => item.k).filter((k) => !Object.prototype.hasOwnProperty.call(tombstones, k));
  }

  return {
    get, put, touch, invalidateUser, removeUser, markErased, keys, personalization, setPersonalization,
    read, write, remove, prefix,
  };
}

module.exports = { createStore };

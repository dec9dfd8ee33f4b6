'use strict';
// Operations a runtime answers as done without doing them: wx.request and tt.request list no
// PATCH, and a runtime that sends one as a GET answers 200 with the unchanged settings, which
// patchSettings used to resolve with as if patched. It now takes a 2xx that does not carry the
// patch for what it is and goes the GET + PUT way (remembered for the run). And a storage that
// would neither take personalization 0 nor remove the stored 1: tracking used to go on (the
// stored 1 was read first); a value set in the run the storage did not take now wins.

const { createLayoutClient, platforms } = require('../src');
const { tokenFor } = require('./helpers/fakes');

/** A wx/tt whose request sends PATCH as a GET, and a server that keeps the settings. */
function runtime(name) {
  const state = { settings: { elderly_mode: 'auto', personalization: 1, handedness: 'unknown' } };
  const wire = [];
  const map = new Map();
  const refusing = { refused: null, map }; // `refused`: a key the storage neither writes nor removes
  const api = {
    request(opts) {
      Promise.resolve().then(() => {
        const method = opts.method === 'PATCH' ? 'GET' : (opts.method || 'GET'); // silently a GET
        const path = opts.url.replace('https://ui.example.com', '');
        wire.push(method + ' ' + path);
        if (path !== '/v1/me/settings') return opts.success({ statusCode: 404, header: {}, data: { error: { code: 'not_found', message: path } } });
        if (method === 'PUT') state.settings = JSON.parse(opts.data);
        return opts.success({ statusCode: 200, header: {}, data: state.settings });
      });
    },
    getStorageSync: (k) => (map.has(k) ? JSON.parse(map.get(k)) : ''),
    setStorageSync: (k, v) => {
      if (k === refusing.refused) throw new Error('setStorageSync:fail');
      map.set(k, JSON.stringify(v));
    },
    removeStorageSync: (k) => {
      if (k === refusing.refused) throw new Error('removeStorageSync:fail');
      map.delete(k);
    },
    getStorageInfoSync: () => ({ keys: [...map.keys()] }),
  };
  const client = createLayoutClient({
    baseUrl: 'https://ui.example.com', getToken: () => tokenFor('alice'), platform: platforms[name](api),
    onAppHide: () => {}, register: false, capabilities: false,
  });
  return { client, state, wire, storage: refusing };
}

describe.each(['wechat', 'douyin'])('%s: a request that sends PATCH as a GET', (name) => {
  test('patchSettings changes the settings (GET + PUT), never resolving with the unchanged ones', async () => {
    const { client, state, wire } = runtime(name);
    const saved = await client.patchSettings({ elderly_mode: 'on', handedness: 'left' });
    expect(saved).toEqual({ elderly_mode: 'on', personalization: 1, handedness: 'left' });
    expect(state.settings).toEqual(saved); // what the server holds now
    expect(wire).toEqual(['GET /v1/me/settings', 'GET /v1/me/settings', 'PUT /v1/me/settings']);
    await client.patchSettings({ personalization: 0.5 }); // remembered: no PATCH again
    expect(state.settings.personalization).toBe(0.5);
    expect(wire.slice(3)).toEqual(['GET /v1/me/settings', 'PUT /v1/me/settings']);
  });
});

describe.each(['wechat', 'douyin'])('%s: a storage that keeps the old personalization flag', (name) => {
  test('personalization turned off still stops tracking in this run, though the storage would neither take 0 nor remove 1', async () => {
    const { client, state, storage: refuse } = runtime(name);
    state.settings.personalization = 1;
    await client.getSettings(); // 1 stored
    refuse.refused = 'uiserver:personalization:alice';
    const saved = await client.patchSettings({ personalization: 0 });
    expect(saved.personalization).toBe(0);
    expect(refuse.map.get('uiserver:personalization:alice')).toBe('1'); // what the storage kept
    expect(client.track('home', 'search', 'click')).toBe(false);
    expect(client.pendingEvents()).toEqual([]);
  });
});

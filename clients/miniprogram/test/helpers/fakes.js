'use strict';
// Test doubles for the SDK's injected parts: a clock with a manual scheduler, wx-style storage
// and a scripted wx.request. No real timers and no network.

function fakeClock(start) {
  let time = start === undefined ? 1700000000000 : start;
  let nextId = 1;
  let timers = [];
  return {
    now: () => time,
    scheduler: {
      setTimeout(fn, ms) {
        const id = nextId++;
        timers.push({ id, at: time + ms, fn });
        return id;
      },
      clearTimeout(id) {
        timers = timers.filter((t) => t.id !== id);
      },
    },
    pendingTimers: () => timers.map((t) => t.at - time),
    /** Move the clock; fire due timers in time order, letting promises settle between them. */
    async advance(ms) {
      const end = time + ms;
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const due = timers[0];
        if (!due || due.at > end) break;
        timers.shift();
        time = due.at;
        due.fn();
        await settle();
      }
      time = end;
      await settle();
    },
  };
}

function fakeStorage() {
  const data = new Map();
  return {
    data,
    getStorageSync: (key) => (data.has(key) ? JSON.parse(data.get(key)) : ''),
    setStorageSync: (key, value) => { data.set(key, JSON.stringify(value)); },
    removeStorageSync: (key) => { data.delete(key); },
  };
}

/**
 * A wx.request double: `handler(req)` returns {statusCode, header, data} or the string "fail"
 * (the network is down). Every request is recorded with its parsed body.
 */
function fakeRequest(handler) {
  const requests = [];
  const request = (opts) => {
    const req = {
      url: opts.url,
      method: opts.method,
      header: opts.header,
      body: opts.data === undefined ? undefined : JSON.parse(opts.data),
    };
    requests.push(req);
    Promise.resolve().then(() => {
      const res = request.handler(req);
      if (res === 'fail') opts.fail({ errMsg: 'request:fail' });
      else opts.success(Object.assign({ header: {} }, res));
    });
  };
  request.handler = handler || (() => 'fail');
  request.requests = requests;
  return request;
}

async function settle() {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

function tokenFor(sub) {
  const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  return b64({ alg: 'HS256', typ: 'JWT' }) + '.' + b64({ sub, exp: 4102444800 }) + '.sig';
}

module.exports = { fakeClock, fakeStorage, fakeRequest, settle, tokenFor };

'use strict';
// A real `uiserver serve` for the end-to-end tests and the fixture generator: found on PATH
// (scripts/test puts .venv/bin first) or at $UISERVER_BIN, on a free port, with a temporary
// data dir and a known HS256 secret so tokens can be minted here.

const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');

const REPO = path.resolve(__dirname, '..', '..', '..', '..');

function findUiserver() {
  if (process.env.UISERVER_BIN) return process.env.UISERVER_BIN;
  const dirs = (process.env.PATH || '').split(path.delimiter);
  for (const dir of dirs) {
    const candidate = path.join(dir, 'uiserver');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch (e) {
      // next
    }
  }
  throw new Error('the `uiserver` command is not on PATH and UISERVER_BIN is not set ' +
    '(run scripts/install, or export PATH=.venv/bin:$PATH)');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function b64url(value) {
  return Buffer.from(value).toString('base64url');
}

/** An HS256 JWT, as the operator's backend would mint one (`uiserver token` does the same). */
function signToken(secret, sub, ttlSeconds, extra) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const claims = b64url(JSON.stringify(Object.assign({ sub, iat: now, exp: now + (ttlSeconds || 3600) }, extra)));
  const signature = crypto.createHmac('sha256', secret).update(header + '.' + claims).digest('base64url');
  return header + '.' + claims + '.' + signature;
}

/** wx.request's signature over Node's HTTP client; `log` records each exchange. */
function nodeRequest(log) {
  return function request(opts) {
    const url = new URL(opts.url);
    const body = opts.data === undefined ? undefined : Buffer.from(String(opts.data));
    const headers = Object.assign({}, opts.header);
    if (body) headers['Content-Length'] = String(body.length);
    const req = http.request({
      hostname: url.hostname, port: url.port, path: url.pathname + url.search,
      method: opts.method || 'GET', headers, agent: false,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let data = text;
        if (opts.dataType === 'json' && text) {
          try { data = JSON.parse(text); } catch (e) { /* leave as text, as wx.request does */ }
        }
        if (log) log.push({ method: opts.method || 'GET', url: opts.url, requestHeaders: headers,
          statusCode: res.statusCode, headers: res.headers });
        opts.success({ statusCode: res.statusCode, header: res.headers, data });
      });
    });
    req.setTimeout(opts.timeout || 10000, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => {
      if (log) log.push({ method: opts.method || 'GET', url: opts.url, error: err.code || err.message });
      opts.fail({ errMsg: 'request:fail ' + (err.code || err.message) });
    });
    if (body) req.write(body);
    req.end();
  };
}

function get(port, pathName, token) {
  return new Promise((resolve, reject) => {
    const headers = token ? { Authorization: 'Bearer ' + token } : {};
    http.get({ hostname: '127.0.0.1', port, path: pathName, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        text: Buffer.concat(chunks).toString('utf8') }));
    }).on('error', reject);
  });
}

async function waitHealthy(port, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error('uiserver exited with ' + child.exitCode);
    try {
      const res = await get(port, '/readyz');
      if (res.status === 200) return;
    } catch (e) {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('uiserver did not become ready on port ' + port);
    await new Promise((r) => { setTimeout(r, 100); });
  }
}

/**
 * Resolve once nothing accepts on `port` any more (a connection is refused), or after
 * `timeoutMs`. The default server (granian) answers in a worker process: when `serve` itself is
 * killed the worker is told to stop (SIGTERM) and closes its listener a moment later, so "the
 * server is gone" is the port refusing, not the parent's exit.
 * @param {number} port
 * @param {number} timeoutMs
 * @returns {Promise<void>}
 */
async function waitPortClosed(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const accepted = await new Promise((resolve) => {
      const sock = net.connect({ host: '127.0.0.1', port });
      sock.once('connect', () => { sock.destroy(); resolve(true); });
      sock.once('error', () => resolve(false));
    });
    if (!accepted || Date.now() > deadline) return;
    await new Promise((resolve) => { setTimeout(resolve, 50); });
  }
}

/** Start `uiserver serve`; returns {port, dataDir, secret, stop(signal), output()}. */
async function startServer(options) {
  const opts = Object.assign({}, options);
  const bin = findUiserver();
  const port = opts.port || await freePort();
  const dataDir = opts.dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'uiserver-mp-'));
  const secret = opts.secret || crypto.randomBytes(32).toString('hex');
  const args = ['serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir];
  if (fs.existsSync(path.join(REPO, 'layouts'))) {
    args.push('--layouts', path.join(REPO, 'layouts'), '--components', path.join(REPO, 'components'));
  }
  const child = spawn(bin, args, {
    env: Object.assign({}, process.env, { UISERVER_JWT_SECRET: secret }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  try {
    await waitHealthy(port, child, opts.timeoutMs || 60000);
  } catch (err) {
    child.kill('SIGKILL');
    err.message += '\n' + output;
    throw err;
  }
  return {
    port, dataDir, secret, child,
    baseUrl: 'http://127.0.0.1:' + port,
    output: () => output,
    stop(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        const force = setTimeout(() => child.kill('SIGKILL'), 10000);
        child.once('exit', () => {
          clearTimeout(force);
          waitPortClosed(port, 10000).then(resolve);
        });
        child.kill(signal || 'SIGTERM');
      });
    },
  };
}

module.exports = { startServer, freePort, signToken, nodeRequest, get, findUiserver, REPO };

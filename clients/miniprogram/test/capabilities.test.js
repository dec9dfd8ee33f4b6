'use strict';
// Capability negotiation, SDK side: the types hash agrees with the server's, every layout
// request says what the renderer draws, an unknown hash (428) registers the list once and asks
// again, and a failed registration falls back to the renderer version alone.

const { createLayoutClient, RENDERER_VERSION, typesHash } = require('../src');
const types = require('../src/components/ui-layout/types');
const pkg = require('../package.json');
const { fakeClock, fakeStorage, fakeRequest, tokenFor } = require('./helpers/fakes');
const standard = require('./fixtures/home-standard.json');

const CTX = { device: 'phone', width: 375, locale: 'zh-CN' };
const ok = () => ({ statusCode: 200, header: { ETag: '"e"', 'Cache-Control': 'private, max-age=60' }, data: standard });
const unknown = () => ({ statusCode: 428, data: { error: { code: 'capabilities_unknown', message: 'x' } } });

function setup(extra) {
  const clock = fakeClock();
  const request = fakeRequest();
  const client = createLayoutClient(Object.assign({
    baseUrl: 'https://ui.example.com', getToken: () => tokenFor('alice'), request,
    storage: fakeStorage(), now: clock.now, scheduler: clock.scheduler, onAppHide: () => {}, register: false,
  }, extra));
  return { client, request };
}

test('the types hash is the server\'s: FNV-1a 32-bit of the sorted distinct names', () => {
  expect(typesHash([])).toBe('811c9dc5'); // the offset basis
  expect(typesHash(['a'])).toBe('e40c292c'); // FNV-1a("a"), the published vector
  expect(typesHash(['b', 'a', 'a'])).toBe(typesHash(['a', 'b']));
  expect(typesHash(['中文'])).toMatch(/^[0-9a-f]{8}$/);
  expect(RENDERER_VERSION).toBe(pkg.version);
});

test('every layout request says what the renderer draws', async () => {
  const { client, request } = setup();
  request.handler = ok;
  await (await client.launch('home', CTX)).revalidation;
  expect(request.requests[0].header['X-UI-Capabilities']).toBe(`r=${RENDERER_VERSION};t=${typesHash(types)}`);
});

test('an unknown hash registers the list once, then asks again', async () => {
  const { client, request } = setup({ types: ['search_bar', 'my_widget'] });
  const registered = [];
  request.handler = (req) => {
    if (req.url.endsWith('/v1/capabilities')) {
      registered.push(req.body);
      return { statusCode: 201, data: { capability: 'r=x' } };
    }
    return registered.length ? ok() : unknown();
  };
  const first = await client.revalidate('home', CTX);
  expect(first.status).toBe('updated');
  expect(registered).toEqual([{ renderer: RENDERER_VERSION, types: ['my_widget', 'search_bar'] }]);
  const gets = request.requests.filter((r) => r.url.indexOf('/v1/layouts/') >= 0);
  expect(gets).toHaveLength(2);
  expect(gets[1].header['X-UI-Capabilities']).toBe(`r=${RENDERER_VERSION};t=${typesHash(['search_bar', 'my_widget'])}`);
  expect(request.requests.find((r) => r.url.endsWith('/v1/capabilities')).header.Authorization).toMatch(/^Bearer /);
});

test('a refused registration falls back to the renderer version alone', async () => {
  const { client, request } = setup({ types: ['search_bar'] });
  request.handler = (req) => {
    if (req.url.endsWith('/v1/capabilities')) return { statusCode: 409, data: { error: { code: 'registry_full' } } };
    return req.header['X-UI-Capabilities'].indexOf(';t=') >= 0 ? unknown() : ok();
  };
  expect((await client.revalidate('home', CTX)).status).toBe('updated');
  expect(request.requests.map((r) => r.header['X-UI-Capabilities'] || 'POST')).toEqual([
    `r=${RENDERER_VERSION};t=${typesHash(['search_bar'])}`, 'POST', `r=${RENDERER_VERSION}`,
  ]);
});

test('capabilities: false sends nothing (the server then sends every type)', async () => {
  const { client, request } = setup({ capabilities: false });
  request.handler = ok;
  await client.revalidate('home', CTX);
  expect(request.requests[0].header['X-UI-Capabilities']).toBeUndefined();
});

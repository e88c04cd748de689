import { expect } from 'chai';
import { type HttpApi, HttpApiError, type HttpRoute, rawResponse, startHttpApi } from '../../src/utils/http-api.js';

describe('startHttpApi: the JSON route table of the HTTP APIs', () => {
  const TOKEN = 'a'.repeat(48);
  let api: HttpApi;
  const received: unknown[] = [];

  const routes: HttpRoute[] = [
    { method: 'GET', path: '/hello', query: ['name'], handle: ({ query }) => ({ hello: query.get('name') ?? 'you' }) },
    {
      method: 'GET',
      path: /^\/items\/(\d+)$/,
      handle: ({ params }) => {
        if (params[0] === '0') throw new HttpApiError('no item 0', 404);
        return { id: Number(params[0]) };
      },
    },
    {
      method: 'POST',
      path: '/items',
      auth: true,
      handle: async (request) => {
        const body = await request.json();
        received.push(body);
        return { stored: body };
      },
    },
    { method: 'GET', path: '/page', handle: () => rawResponse({ contentType: 'text/html', body: '<h1>hi</h1>' }) },
    {
      method: 'GET',
      path: '/bug',
      handle: () => {
        throw new TypeError('a bug');
      },
    },
  ];

  before(async () => {
    api = await startHttpApi(routes, { token: TOKEN });
  });

  after(() => api.close());

  async function call(path: string, init: RequestInit = {}) {
    const response = await fetch(`${api.url}${path}`, init);
    const text = await response.text();
    return { status: response.status, type: response.headers.get('content-type'), text, json: safeJson(text) };
  }

  it('routes exact paths and patterns, and answers raw bodies with their content type', async () => {
    expect(api.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await call('/hello?name=nrp')).json).to.deep.equal({ hello: 'nrp' });
    expect((await call('/items/42')).json).to.deep.equal({ id: 42 });
    const page = await call('/page');
    expect(page).to.deep.include({ status: 200, type: 'text/html', text: '<h1>hi</h1>' });
    const head = await fetch(`${api.url}/hello`, { method: 'HEAD' });
    expect(head.status).to.equal(200);
    expect(await head.text()).to.equal('');
  });

  it('takes JSON and HTML form bodies on routes with the operator token only', async () => {
    const json = await call('/items', {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ cid: 'bafy', n: 1 }),
    });
    expect(json.json).to.deep.equal({ stored: { cid: 'bafy', n: 1 } });
    const form = await call('/items', {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'cid=bafy&reason=a+reason',
    });
    expect(form.json).to.deep.equal({ stored: { cid: 'bafy', reason: 'a reason' } });

    for (const authorization of [undefined, 'Bearer wrong', `Bearer ${TOKEN}x`, TOKEN]) {
      const refused = await call('/items', {
        method: 'POST',
        headers: authorization ? { authorization } : {},
        body: '{"sneaky":true}',
      });
      expect(refused.status, String(authorization)).to.equal(401);
      expect(refused.json.error).to.match(/operator token/);
    }
    expect(received).to.have.length(2);
  });

  it('answers every bad request with a JSON error and keeps serving', async () => {
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const cases: [string, RequestInit, number, RegExp][] = [
      ['/nowhere', {}, 404, /no such resource/],
      ['/items/0', {}, 404, /no item 0/],
      ['/hello?nme=typo', {}, 400, /unknown query parameter "nme"/],
      ['/hello', { method: 'DELETE' }, 405, /not allowed/],
      ['/items', { method: 'POST', headers: auth, body: '{"unclosed": ' }, 400, /not valid JSON/],
      ['/items', { method: 'POST', headers: auth, body: `"${'x'.repeat(70_000)}"` }, 413, /larger than/],
      ['/bug', {}, 500, /^internal error$/],
    ];
    for (const [path, init, status, message] of cases) {
      const response = await call(path, init);
      expect(response.status, path).to.equal(status);
      expect(response.type, path).to.equal('application/json');
      expect(response.json.error, path).to.match(message);
    }
    expect((await call('/hello')).status).to.equal(200);
  });

  it('refuses routes that need a token when the API has none', async () => {
    const open = await startHttpApi(routes);
    try {
      const response = await fetch(`${open.url}/items`, { method: 'POST', headers: { authorization: 'Bearer ' } });
      expect(response.status).to.equal(401);
    } finally {
      await open.close();
    }
  });
});

function safeJson(text: string) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

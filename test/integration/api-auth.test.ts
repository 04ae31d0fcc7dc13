import { expect } from 'chai';
import { ApiHarness, httpTask } from './api-harness.js';

describe('native API: tenants, auth and the HTTP surface', function () {
  let api: ApiHarness;
  beforeEach(async () => {
    api = await ApiHarness.start({ tokens: { tA: 'a', tB: 'b' } });
  });
  afterEach(async () => api.close());

  it('a missing or invalid token is 401 with WWW-Authenticate', async () => {
    for (const token of [null, 'nope', 'ta']) {
      const r = await api.call('GET', '/api/v1/tasks', { token });
      expect(r.status, String(token)).to.equal(401);
      expect(r.body.error.code).to.equal('UNAUTHORIZED');
      expect(r.headers.get('www-authenticate')).to.match(/^Bearer/);
    }
    const basic = await api.call('GET', '/api/v1/tasks', { token: null, headers: { authorization: 'Basic dEE6' } });
    expect(basic.status).to.equal(401);
    for (const path of ['/api/v1/cluster', '/api/v1/nodes', '/api/v1/events']) {
      expect((await api.call('GET', path, { token: null })).status, path).to.equal(401);
    }
    expect((await api.call('POST', '/api/v1/tasks', { token: null, body: httpTask('x') })).status).to.equal(401);
  });

  it('probes and the OpenAPI document need no token', async () => {
    const h = await api.call('GET', '/healthz', { token: null });
    expect(h.status).to.equal(200);
    expect(h.body).to.deep.equal({ ok: true, detail: { node: 'test' } });
    expect((await api.call('GET', '/readyz', { token: null })).status).to.equal(200);
    expect((await api.call('GET', '/api/v1/openapi.json', { token: null })).status).to.equal(200);
    const c = await api.call('GET', '/api/v1/cluster', { token: 'tA' });
    expect(c.status).to.equal(200);
    expect(c.body).to.deep.equal({ leader: null, members: [] });
    expect((await api.call('GET', '/api/v1/nodes', { token: 'tB' })).body).to.deep.equal({ items: [{ id: 'n1' }] });
  });

  it("tenants never see each other's tasks, runs or events", async () => {
    const a = await api.call('POST', '/api/v1/tasks', { token: 'tA', body: httpTask('shared-name') });
    expect(a.status).to.equal(201);
    expect(a.body.tenant).to.equal('a');
    const trig = await api.call('POST', '/api/v1/tasks/{id}/trigger', { token: 'tA', params: { id: a.body.id } });
    expect(trig.status).to.equal(202);

    const id = { id: a.body.id };
    const asB = [
      await api.call('GET', '/api/v1/tasks/{id}', { token: 'tB', params: id }),
      await api.call('PUT', '/api/v1/tasks/{id}', { token: 'tB', params: id, body: httpTask('taken') }),
      await api.call('PATCH', '/api/v1/tasks/{id}', { token: 'tB', params: id, body: { enabled: false } }),
      await api.call('POST', '/api/v1/tasks/{id}/pause', { token: 'tB', params: id }),
      await api.call('POST', '/api/v1/tasks/{id}/trigger', { token: 'tB', params: id }),
      await api.call('GET', '/api/v1/tasks/{id}/runs', { token: 'tB', params: id }),
      await api.call('GET', '/api/v1/runs/{runId}', { token: 'tB', params: { runId: trig.body.runId } }),
      await api.call('DELETE', '/api/v1/tasks/{id}', { token: 'tB', params: id }),
    ];
    for (const r of asB) {
      expect(r.status).to.equal(404);
      expect(r.body.error.code).to.equal('NOT_FOUND');
    }
    expect((await api.call('GET', '/api/v1/tasks', { token: 'tB' })).body.items).to.deep.equal([]);
    expect((await api.call('GET', '/api/v1/events', { token: 'tB' })).body.items).to.deep.equal([]);
    expect((await api.call('GET', '/api/v1/events', { token: 'tB', query: { taskId: a.body.id } })).body.items).to.deep.equal([]);

    // the same name is fine in another tenant, and a's task is untouched
    const b = await api.call('POST', '/api/v1/tasks', { token: 'tB', body: httpTask('shared-name') });
    expect(b.status).to.equal(201);
    expect(b.body.tenant).to.equal('b');
    const still = await api.call('GET', '/api/v1/tasks/{id}', { token: 'tA', params: id });
    expect(still.body).to.deep.equal(a.body);
    expect((await api.call('GET', '/api/v1/runs/{runId}', { token: 'tA', params: { runId: trig.body.runId } })).status).to.equal(200);
    const evA = await api.call('GET', '/api/v1/events', { token: 'tA' });
    expect(evA.body.items.map((e: { action: string }) => e.action)).to.deep.equal(['trigger', 'create']);
    expect(evA.body.items.every((e: { tenant: string }) => e.tenant === 'a')).to.equal(true);
  });

  it('a wrong method on a known path is 405 with Allow; unknown paths are 404', async () => {
    const r = await api.call('DELETE', '/api/v1/events', { token: 'tA' });
    expect(r.status).to.equal(405);
    expect(r.body.error.code).to.equal('METHOD_NOT_ALLOWED');
    expect(r.headers.get('allow')).to.contain('GET');
    expect((await api.call('POST', '/healthz', { token: null })).status).to.equal(405);
    expect((await api.call('PUT', '/api/v1/tasks', { token: 'tA', body: {} })).status).to.equal(405);
    for (const path of ['/api/v1/nope', '/api/v1/tasks/1/explode', '/nowhere', '/']) {
      const nf = await api.call('GET', path, { token: 'tA' });
      expect(nf.status, path).to.equal(404);
      expect(nf.body).to.deep.equal({ error: { code: 'NOT_FOUND', message: `no route for GET ${path}` } });
    }
  });

  it('X-Request-Id is honoured or generated, and echoed', async () => {
    const given = await api.call('GET', '/healthz', { headers: { 'x-request-id': 'req-42' } });
    expect(given.headers.get('x-request-id')).to.equal('req-42');
    const made = await api.call('GET', '/api/v1/nope', { token: null });
    expect(made.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
    const hostile = await api.call('GET', '/healthz', { headers: { 'x-request-id': 'x'.repeat(500) } });
    expect(hostile.headers.get('x-request-id')).to.have.length(36);
  });
});

describe('native API: failures', function () {
  it('an unexpected error is 500 INTERNAL without details', async () => {
    const api = await ApiHarness.start({
      cluster: async () => {
        throw new Error('secret detail /etc/passwd');
      },
    });
    try {
      const r = await api.call('GET', '/api/v1/cluster');
      expect(r.status).to.equal(500);
      expect(r.body).to.deep.equal({ error: { code: 'INTERNAL', message: 'internal error' } });
      expect(r.headers.get('x-request-id')).to.be.a('string');
    } finally {
      await api.close();
    }
  });

  it('readyz is 503 while not ready; without tokens every caller is tenant default', async () => {
    const api = await ApiHarness.start({ ready: false });
    try {
      const r = await api.call('GET', '/readyz');
      expect(r.status).to.equal(503);
      expect(r.body.ok).to.equal(false);
      const t = await api.call('POST', '/api/v1/tasks', { body: httpTask('x'), token: 'anything' });
      expect(t.body.tenant).to.equal('default');
    } finally {
      await api.close();
    }
  });
});

describe('native API: node operations are for operator tenants', function () {
  this.timeout(30_000);
  it('only an operator tenant drains nodes and sees every tenant in the in-flight lists', async () => {
    const api = await ApiHarness.start({ tokens: { tA: 'a', tOps: 'ops' }, operators: ['ops'] });
    try {
      const firing = { taskId: '7', tenant: 'b', scheduledMs: 1_795_000_000_000, attempt: 1, trigger: 'schedule', state: 'running', node: 'n9', lease: 'x', dueMs: 1_795_000_000_000 };
      await api.handle.ns.put('firings/7/1795000000000').value(JSON.stringify(firing)).exec();
      const denied = await api.call('POST', '/api/v1/nodes/{node}/drain', { params: { node: 'n9' }, token: 'tA' });
      expect(denied.status).to.equal(403);
      expect(denied.body.error.code).to.equal('FORBIDDEN');
      expect((await api.call('POST', '/api/v1/nodes/{node}/drain', { params: { node: 'n9' }, token: 'tOps' })).status).to.equal(404); // allowed, but no such live node
      expect((await api.call('GET', '/api/v1/nodes/{node}/inflight', { params: { node: 'n9' }, token: 'tA' })).body.items).to.deep.equal([]);
      const ops = await api.call('GET', '/api/v1/nodes/{node}/inflight', { params: { node: 'n9' }, token: 'tOps' });
      expect(ops.body.items.map((i: { runId: string; tenant: string }) => [i.runId, i.tenant])).to.deep.equal([['7-1795000000000-1', 'b']]);
    } finally {
      await api.close();
    }
  });
});

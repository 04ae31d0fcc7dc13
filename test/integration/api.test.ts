import { expect } from 'chai';
import { ApiHarness, httpTask } from './api-harness.js';
import { K } from '../../src/store/keys.js';
import { waitFor } from '../support/etcd.js';

describe('native API: tasks', function () {
  let api: ApiHarness;
  beforeEach(async () => {
    api = await ApiHarness.start();
  });
  afterEach(async () => api.close());

  it('creates a task: 201, numeric id, Location, ISO companions', async () => {
    const r = await api.call('POST', '/api/v1/tasks', { body: httpTask('report') });
    expect(r.status).to.equal(201);
    expect(r.body.id).to.match(/^\d+$/);
    expect(r.headers.get('location')).to.equal(`/api/v1/tasks/${r.body.id}`);
    expect(r.body).to.include({ name: 'report', tenant: 'default', enabled: true, replicas: 1 });
    expect(r.body.schedule).to.deep.equal({ cron: '*/5 * * * *', tz: 'Europe/Berlin' });
    expect(r.body.action.http).to.include({ url: 'http://127.0.0.1:9/hook', method: 'POST' });
    expect(r.body.createdAt).to.equal(new Date(r.body.createdMs).toISOString());
    expect(r.body.updatedAt).to.equal(new Date(r.body.updatedMs).toISOString());
  });

  it('GET returns the stored task; unknown ids are 404', async () => {
    const { body: created } = await api.call('POST', '/api/v1/tasks', { body: httpTask('a') });
    const r = await api.call('GET', '/api/v1/tasks/{id}', { params: { id: created.id } });
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal(created);
    for (const id of ['999', 'abc', '1e3']) {
      const miss = await api.call('GET', '/api/v1/tasks/{id}', { params: { id } });
      expect(miss.status).to.equal(404);
      expect(miss.body.error.code).to.equal('NOT_FOUND');
    }
    expect((await api.call('DELETE', '/api/v1/tasks/{id}', { params: { id: '999' } })).status).to.equal(404);
    expect((await api.call('PUT', '/api/v1/tasks/{id}', { params: { id: '999' }, body: httpTask('x') })).status).to.equal(404);
  });

  it('PUT replaces the definition and accepts a GET body back (round trip)', async () => {
    const { body: t } = await api.call('POST', '/api/v1/tasks', { body: httpTask('a', { schedule: { at: '2030-01-02T03:04:05Z' }, group: 'g1' }) });
    expect(t.schedule).to.deep.equal({ atMs: Date.parse('2030-01-02T03:04:05Z'), at: '2030-01-02T03:04:05.000Z' });
    const { body: got } = await api.call('GET', '/api/v1/tasks/{id}', { params: { id: t.id } });
    const same = await api.call('PUT', '/api/v1/tasks/{id}', { params: { id: t.id }, body: got });
    expect(same.status).to.equal(200);
    expect({ ...same.body, updatedMs: 0, updatedAt: '' }).to.deep.equal({ ...got, updatedMs: 0, updatedAt: '' });

    const r = await api.call('PUT', '/api/v1/tasks/{id}', { params: { id: t.id }, body: { name: 'b', schedule: { every: '30s' }, action: { process: { command: 'true' } } } });
    expect(r.status).to.equal(200);
    expect(r.body).to.include({ id: t.id, name: 'b', createdMs: t.createdMs });
    expect(r.body.group).to.equal(undefined);
    expect(r.body.schedule).to.deep.equal({ everyMs: 30_000 });
    expect(r.body.action).to.deep.equal({ process: { command: 'true', env: {} } });

    const wrongId = await api.call('PUT', '/api/v1/tasks/{id}', { params: { id: t.id }, body: { ...got, id: '12345' } });
    expect(wrongId.status).to.equal(400);
    expect(wrongId.body.error.message).to.contain('id');
  });

  it('PATCH merges top-level fields; null resets an optional field', async () => {
    const { body: t } = await api.call('POST', '/api/v1/tasks', { body: httpTask('a', { group: 'g', replicas: 3 }) });
    const r = await api.call('PATCH', '/api/v1/tasks/{id}', { params: { id: t.id }, body: { enabled: false, policies: { overlap: 'forbid', timeoutMs: '1m' } } });
    expect(r.status).to.equal(200);
    expect(r.body).to.include({ enabled: false, replicas: 3, group: 'g', name: 'a' });
    expect(r.body.policies.overlap).to.equal('forbid');
    expect(r.body.policies.timeoutMs).to.equal(60_000);
    expect(r.body.action).to.deep.equal(t.action);

    const reset = await api.call('PATCH', '/api/v1/tasks/{id}', { params: { id: t.id }, body: { group: null, replicas: null } });
    expect(reset.status).to.equal(200);
    expect(reset.body.group).to.equal(undefined);
    expect(reset.body.replicas).to.equal(1);

    const bad = await api.call('PATCH', '/api/v1/tasks/{id}', { params: { id: t.id }, body: { name: null } });
    expect(bad.status).to.equal(400);
    expect(bad.body.error.message).to.equal('name: must be a string');
  });

  it('DELETE answers 204 and the task is gone', async () => {
    const { body: t } = await api.call('POST', '/api/v1/tasks', { body: httpTask('a') });
    const r = await api.call('DELETE', '/api/v1/tasks/{id}', { params: { id: t.id } });
    expect(r.status).to.equal(204);
    expect(r.body).to.equal(undefined);
    expect((await api.call('GET', '/api/v1/tasks/{id}', { params: { id: t.id } })).status).to.equal(404);
    // the name is free again
    expect((await api.call('POST', '/api/v1/tasks', { body: httpTask('a') })).status).to.equal(201);
  });

  it('a duplicate name in the same tenant is 409 CONFLICT', async () => {
    expect((await api.call('POST', '/api/v1/tasks', { body: httpTask('dup') })).status).to.equal(201);
    const r = await api.call('POST', '/api/v1/tasks', { body: httpTask('dup') });
    expect(r.status).to.equal(409);
    expect(r.body.error.code).to.equal('CONFLICT');
    expect(r.body.error.message).to.contain("'dup'");
  });

  it('lists with filters and pages with a cursor', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const body = i % 2 === 0 ? httpTask(`web-${i}`, { group: 'even' }) : { name: `job-${i}`, schedule: { manual: true }, action: { process: { command: 'true' } }, enabled: i !== 3 };
      ids.push((await api.call('POST', '/api/v1/tasks', { body })).body.id);
    }
    const all = await api.call('GET', '/api/v1/tasks');
    expect(all.body.items.map((t: { id: string }) => t.id)).to.deep.equal(ids);
    expect(all.body.next).to.equal(undefined);

    const names = async (query: Record<string, string | number | boolean>) => (await api.call('GET', '/api/v1/tasks', { query })).body.items.map((t: { name: string }) => t.name);
    expect(await names({ name: 'job' })).to.deep.equal(['job-1', 'job-3', 'job-5']);
    expect(await names({ group: 'even' })).to.deep.equal(['web-0', 'web-2', 'web-4', 'web-6']);
    expect(await names({ enabled: false })).to.deep.equal(['job-3']);
    expect(await names({ kind: 'process' })).to.deep.equal(['job-1', 'job-3', 'job-5']);
    expect(await names({ kind: 'manual', enabled: true })).to.deep.equal(['job-1', 'job-5']);
    expect(await names({ kind: 'cron', name: '-6' })).to.deep.equal(['web-6']);

    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const r = await api.call('GET', '/api/v1/tasks', { query: { limit: 3, ...(after ? { after } : {}) } });
      expect(r.body.items.length).to.be.at.most(3);
      seen.push(...r.body.items.map((t: { id: string }) => t.id));
      after = r.body.next;
      if (!after) break;
    }
    expect(seen).to.deep.equal(ids);

    // Ordered by name or next firing, paged by offset, with the total that matches the filter.
    const byName = await api.call('GET', '/api/v1/tasks', { query: { sort: 'name', limit: 4 } });
    expect(byName.body.items.map((t: { name: string }) => t.name)).to.deep.equal(['job-1', 'job-3', 'job-5', 'web-0']);
    expect(byName.body.total).to.equal(ids.length);
    expect(byName.body.next, 'offset pages out of id order').to.equal(undefined);
    expect(await names({ sort: 'name', offset: 4, limit: 2 })).to.deep.equal(['web-2', 'web-4']);
    expect((await api.call('GET', '/api/v1/tasks', { query: { group: 'even', limit: 1 } })).body.total).to.equal(4);
    const byNext = await names({ sort: 'next', limit: 50 });
    expect(byNext.slice(-3), 'manual tasks never fire: last').to.deep.equal(['job-1', 'job-3', 'job-5']);
    expect((await api.call('GET', '/api/v1/tasks', { query: { sort: 'name', after: ids[0]! } })).body.error.message).to.match(/^after pages by id/);

    const bad: Record<string, string | number>[] = [{ limit: 0 }, { limit: 501 }, { limit: 'x' }, { enabled: 'maybe' }, { kind: 'ftp' }, { after: 'x' }, { sort: 'size' }, { offset: -1 }];
    for (const query of bad) {
      const r = await api.call('GET', '/api/v1/tasks', { query });
      expect(r.status, JSON.stringify(query)).to.equal(400);
      expect(r.body.error.code).to.equal('INVALID_QUERY');
      expect(r.body.error.message).to.match(/^query\.\w+: /);
    }
  });

  it("lists each task's last outcome and runs in flight, sorts by last outcome and filters on both over the whole list", async () => {
    const ids: Record<string, string> = {};
    for (const name of ['ok', 'broke', 'busy', 'fresh', 'lost-one', 'skipped']) ids[name] = (await api.call('POST', '/api/v1/tasks', { body: httpTask(name) })).body.id;
    const now = Date.now();
    // Run records and a firing in flight as nodes write them (this harness runs no agent).
    const run = (name: string, ms: number, attempt: number, state: string, endedMs?: number) =>
      api.handle.ns.put(K.run(ids[name]!, ms, attempt)).value(JSON.stringify({ id: `${ids[name]}-${ms}-${attempt}`, taskId: ids[name], tenant: 'default', scheduledMs: ms, attempt, trigger: 'schedule', state, ...(endedMs ? { endedMs } : {}) }));
    await run('ok', now - 60_000, 1, 'failed', now - 59_000);
    await run('ok', now - 30_000, 1, 'succeeded', now - 29_000); // newer: the last outcome
    await run('broke', now - 20_000, 1, 'failed', now - 19_000);
    await run('lost-one', now - 10_000, 1, 'lost', now - 9_000);
    await run('skipped', now - 5_000, 1, 'skipped', now - 5_000);
    await run('busy', now - 40_000, 1, 'succeeded', now - 39_000);
    await run('busy', now - 1_000, 1, 'running'); // not an outcome
    const firing = { taskId: ids.busy, tenant: 'default', scheduledMs: now - 1_000, replica: 0, attempt: 1, trigger: 'schedule', state: 'running', node: 'n1', lease: '1', dueMs: now - 1_000, startedMs: now - 1_000 };
    await api.handle.ns.put(K.firing(ids.busy!, now - 1_000)).value(JSON.stringify(firing));

    const list = async (query: Record<string, string | number | boolean> = {}) => (await api.call('GET', '/api/v1/tasks', { query })).body;
    // The index follows etcd by its watch: wait until it has seen the records written above.
    await waitFor(async () => (await list({ sort: 'last' })).items[4]?.name === 'busy', 'the runs seen', 10_000);
    const byLast = await list({ sort: 'last' });
    // Failing first (newest first: lost 9 s ago, failed 19 s ago), then skipped, then succeeded (newest first), never run last.
    expect(byLast.items.map((t: { name: string }) => t.name)).to.deep.equal(['lost-one', 'broke', 'skipped', 'ok', 'busy', 'fresh']);
    const shown = Object.fromEntries(byLast.items.map((t: { name: string; lastRun: unknown; running: number }) => [t.name, [t.lastRun && (t.lastRun as { state: string }).state, t.running]]));
    expect(shown).to.deep.equal({ 'lost-one': ['lost', 0], broke: ['failed', 0], skipped: ['skipped', 0], ok: ['succeeded', 0], busy: ['succeeded', 1], fresh: [null, 0] });
    expect(byLast.items[0].lastRun).to.deep.equal({ runId: `${ids['lost-one']}-${now - 10_000}-1`, state: 'lost', endedMs: now - 9_000, endedAt: new Date(now - 9_000).toISOString() });

    // Filters narrow the whole list (the total says so), not a page.
    const failing = await list({ lastOutcome: 'failed,lost,expired,killed', limit: 1 });
    expect(failing.total).to.equal(2);
    expect(failing.items.map((t: { name: string }) => t.name)).to.deep.equal(['broke']);
    expect((await list({ running: true })).items.map((t: { name: string }) => t.name)).to.deep.equal(['busy']);
    expect((await list({ running: false })).total).to.equal(5);
    expect((await list({ lastOutcome: 'succeeded', sort: 'name' })).items.map((t: { name: string }) => t.name)).to.deep.equal(['busy', 'ok']);

    // The run ends; its firing goes: no longer running, the new outcome is the last.
    await run('busy', now - 1_000, 1, 'failed', Date.now());
    await api.handle.ns.delete().key(K.firing(ids.busy!, now - 1_000)).exec();
    await waitFor(async () => (await list({ running: true })).total === 0, 'busy no longer running', 10_000);
    expect((await list({ lastOutcome: 'failed' })).items.map((t: { name: string }) => t.name)).to.deep.equal(['broke', 'busy']);

    // A task written by another node (straight to etcd here) is listed once its watch event comes; one deleted here, at once.
    const other = { ...httpTask('from-elsewhere'), id: '9999', tenant: 'default', enabled: true, replicas: 1, placement: { strategy: 'least-loaded' }, policies: {}, createdMs: now, updatedMs: now };
    await api.handle.ns.put(K.task('9999')).value(JSON.stringify(other));
    await waitFor(async () => (await list({ name: 'from-elsewhere' })).total === 1, 'the task from elsewhere listed', 10_000);
    expect((await api.call('DELETE', '/api/v1/tasks/{id}', { params: { id: ids.ok! } })).status).to.equal(204);
    expect((await list({ name: 'ok' })).items.map((t: { name: string }) => t.name)).to.deep.equal(['broke']);

    const bad: Record<string, string>[] = [{ lastOutcome: 'running' }, { lastOutcome: 'failed,' }, { running: 'maybe' }, { sort: 'outcome' }];
    for (const query of bad) {
      const r = await api.call('GET', '/api/v1/tasks', { query });
      expect(r.status, JSON.stringify(query)).to.equal(400);
      expect(r.body.error.code).to.equal('INVALID_QUERY');
    }
  });

  it('every native route is in the OpenAPI document, and the document is public', async () => {
    const doc = await api.openapi();
    expect(doc.openapi).to.equal('3.1.0');
    expect(doc.components.securitySchemes.bearer).to.include({ type: 'http', scheme: 'bearer' });
    const { nativeMount } = await import('../../src/api/native/index.js');
    const mount = nativeMount({} as never);
    for (const layer of mount.router.stack) {
      const path = String(layer.path).replace(/:(\w+)/g, '{$1}');
      for (const m of layer.methods.filter((x) => x !== 'HEAD')) {
        expect(doc.paths[path]?.[m.toLowerCase()], `${m} ${path} documented`).to.be.an('object');
      }
    }
    // every documented response compiles (all $refs resolve)
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const status of Object.keys(op.responses)) await api.responseValidator(method, path, Number(status));
      }
    }
    // the schema really constrains: a wrong body would be caught
    const v = await api.responseValidator('get', '/api/v1/tasks/{id}', 200);
    expect(v!({ id: '1' })).to.equal(false);
    const e = await api.responseValidator('get', '/api/v1/tasks/{id}', 404);
    expect(e!({ error: { code: 'NOT_FOUND', message: 'x', stack: 'y' } })).to.equal(false);
  });
});

import { expect } from 'chai';
import { systemClock, type Clock } from '../../src/domain/clock.js';
import type { Run } from '../../src/domain/task.js';
import { K } from '../../src/store/keys.js';
import { ApiHarness, httpTask } from './api-harness.js';

/**
 * Strictly increasing milliseconds: audit event ids are "{ms}-{random}", so two events in the
 * same millisecond would list in random order (see the report on event-store).
 */
function monotonicClock(): Clock {
  let last = 0;
  return { ...systemClock, now: () => (last = Math.max(Date.now(), last + 1)) };
}

describe('native API: pause, trigger, runs, events', function () {
  let api: ApiHarness;
  beforeEach(async () => {
    api = await ApiHarness.start({ clock: monotonicClock() });
  });
  afterEach(async () => api.close());

  const create = async (name = 'job') => (await api.call('POST', '/api/v1/tasks', { body: httpTask(name) })).body;

  it('pause and resume flip enabled and are idempotent', async () => {
    const t = await create();
    const paused = await api.call('POST', '/api/v1/tasks/{id}/pause', { params: { id: t.id } });
    expect(paused.status).to.equal(200);
    expect(paused.body.enabled).to.equal(false);
    expect((await api.call('POST', '/api/v1/tasks/{id}/pause', { params: { id: t.id } })).body.enabled).to.equal(false);
    const resumed = await api.call('POST', '/api/v1/tasks/{id}/resume', { params: { id: t.id } });
    expect(resumed.status).to.equal(200);
    expect(resumed.body.enabled).to.equal(true);
    expect((await api.call('POST', '/api/v1/tasks/{id}/pause', { params: { id: '404' } })).status).to.equal(404);
  });

  it('trigger answers 202 with the run id, and the run can be read (pending)', async () => {
    const t = await create();
    await api.call('POST', '/api/v1/tasks/{id}/pause', { params: { id: t.id } });
    const before = Date.now();
    const r = await api.call('POST', '/api/v1/tasks/{id}/trigger', { params: { id: t.id } });
    expect(r.status).to.equal(202);
    expect(r.body.runId).to.equal(`${t.id}-${r.body.scheduledMs}-1`);
    expect(r.body.scheduledMs).to.be.within(before - 1000, Date.now() + 1000);
    expect(r.body.scheduledAt).to.equal(new Date(r.body.scheduledMs).toISOString());
    expect(r.headers.get('location')).to.equal(`/api/v1/runs/${r.body.runId}`);

    const run = await api.call('GET', '/api/v1/runs/{runId}', { params: { runId: r.body.runId } });
    expect(run.status).to.equal(200);
    expect(run.body).to.include({ id: r.body.runId, taskId: t.id, state: 'pending', trigger: 'manual', attempt: 1 });
    expect(run.body.scheduledAt).to.equal(r.body.scheduledAt);
    expect(api.checked).to.include('GET /api/v1/runs/{runId} 200'); // validated against the OpenAPI schema

    const withParams = await api.call('POST', '/api/v1/tasks/{id}/trigger', { params: { id: t.id }, body: { params: { day: '2024-01-01' } } });
    expect(withParams.status).to.equal(202);
    expect(withParams.body.runId).to.not.equal(r.body.runId);

    const bad = await api.call('POST', '/api/v1/tasks/{id}/trigger', { params: { id: t.id }, body: { params: [1] } });
    expect(bad.status).to.equal(400);
    expect(bad.body.error.message).to.equal('params: must be an object');
    expect((await api.call('POST', '/api/v1/tasks/{id}/trigger', { params: { id: t.id }, body: { extra: 1 } })).body.error.message).to.equal("unknown field 'extra'");
    expect((await api.call('POST', '/api/v1/tasks/{id}/trigger', { params: { id: '77' } })).status).to.equal(404);

    // a pending run cannot be killed yet
    const kill = await api.call('POST', '/api/v1/runs/{runId}/kill', { params: { runId: r.body.runId } });
    expect(kill.status).to.equal(409);
    expect(kill.body.error.code).to.equal('INVALID_STATE');
  });

  it('unknown or malformed run ids are 404', async () => {
    const t = await create();
    for (const runId of ['nope', `${t.id}-1-1`, '999-1700000000000-1']) {
      const r = await api.call('GET', '/api/v1/runs/{runId}', { params: { runId } });
      expect(r.status, runId).to.equal(404);
      expect(r.body.error.code).to.equal('NOT_FOUND');
    }
    expect((await api.call('POST', '/api/v1/runs/{runId}/kill', { params: { runId: 'nope' } })).status).to.equal(404);
    expect((await api.call('GET', '/api/v1/runs/{runId}/output', { params: { runId: `${t.id}-1-1` } })).body.error.code).to.equal('NOT_FOUND');
  });

  it("a run's output: a pending run's is empty, from its record; bad query values are 400 in the envelope", async () => {
    const t = await create();
    const { runId } = (await api.call('POST', '/api/v1/tasks/{id}/trigger', { params: { id: t.id } })).body;
    const out = await api.call('GET', '/api/v1/runs/{runId}/output', { params: { runId } });
    expect(out.status).to.equal(200);
    expect(out.headers.get('x-rota-output')).to.equal('tail');
    expect(out.body).to.equal('');
    expect(api.checked).to.include('GET /api/v1/runs/{runId}/output 200');
    const bad = await api.call('GET', '/api/v1/runs/{runId}/output', { params: { runId }, query: { follow: 'sometimes' } });
    expect(bad.status).to.equal(400);
    expect(bad.body.error.code).to.equal('INVALID_QUERY');
  });

  it("lists a task's runs newest first, with a cursor; a foreign cursor is refused", async () => {
    const t = await create();
    const other = await create('other');
    const base = 1_700_000_000_000;
    const put = (r: Run) => api.handle.ns.put(K.run(r.taskId, r.scheduledMs, r.attempt)).value(JSON.stringify(r)).exec();
    for (let i = 0; i < 5; i++) {
      await put({ id: `${t.id}-${base + i * 1000}-1`, taskId: t.id, tenant: 'default', scheduledMs: base + i * 1000, attempt: 1, trigger: 'schedule', node: 'n1', state: 'succeeded', startedMs: base + i * 1000 + 3, endedMs: base + i * 1000 + 40, httpStatus: 200 });
    }
    await put({ id: `${other.id}-${base}-1`, taskId: other.id, tenant: 'default', scheduledMs: base, attempt: 1, trigger: 'manual', state: 'failed', message: 'boom' });

    const seen: number[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 5; pages++) {
      const r = await api.call('GET', '/api/v1/tasks/{id}/runs', { params: { id: t.id }, query: { limit: 2, ...(cursor ? { cursor } : {}) } });
      expect(r.status).to.equal(200);
      seen.push(...r.body.items.map((x: { scheduledMs: number }) => x.scheduledMs));
      for (const x of r.body.items) expect(x.endedAt).to.equal(new Date(x.endedMs).toISOString());
      cursor = r.body.next;
      if (!cursor) break;
    }
    expect(seen).to.deep.equal([4, 3, 2, 1, 0].map((i) => base + i * 1000));

    // The cursor is opaque: no store key shows through, and neither a raw key nor another task's cursor is taken.
    const first = await api.call('GET', '/api/v1/tasks/{id}/runs', { params: { id: t.id }, query: { limit: 2 } });
    expect(first.body.next).to.match(/^[A-Za-z0-9_-]+$/);
    expect(first.body.next).to.not.include('runs/');
    const otherPage = await api.call('GET', '/api/v1/tasks/{id}/runs', { params: { id: other.id }, query: { limit: 1 } });
    for (const bad of [`runs/${other.id}/9`, Buffer.from(`runs/${other.id}/9`).toString('base64url'), otherPage.body.next, '%%%'].filter((x) => x)) {
      const foreign = await api.call('GET', '/api/v1/tasks/{id}/runs', { params: { id: t.id }, query: { cursor: bad } });
      expect(foreign.status, bad).to.equal(400);
      expect(foreign.body.error.code).to.equal('INVALID_QUERY');
    }

    const one = await api.call('GET', '/api/v1/runs/{runId}', { params: { runId: `${t.id}-${base}-1` } });
    expect(one.body).to.include({ state: 'succeeded', httpStatus: 200, startedAt: new Date(base + 3).toISOString() });
    expect((await api.call('GET', '/api/v1/tasks/{id}/runs', { params: { id: '999' } })).status).to.equal(404);
  });

  it('slots: one per instant in [from, to] with its outcome and reason, newest first, paged with an opaque cursor; ISO or epoch ms', async () => {
    const t = (await api.call('POST', '/api/v1/tasks', { body: { ...httpTask('every-10s'), schedule: { every: '10s' } } })).body;
    const created = t.createdMs as number;
    const at = (k: number) => created + k * 10_000; // the grid: one interval after creation, then every 10 s
    const put = (r: Run) => api.handle.ns.put(K.run(r.taskId, r.scheduledMs, r.attempt)).value(JSON.stringify(r)).exec();
    await put({ id: `${t.id}-${at(1)}-1`, taskId: t.id, tenant: 'default', scheduledMs: at(1), attempt: 1, trigger: 'schedule', node: 'n1', state: 'succeeded', startedMs: at(1) + 20, endedMs: at(1) + 90 });
    await put({ id: `${t.id}-${at(2)}-1`, taskId: t.id, tenant: 'default', scheduledMs: at(2), attempt: 1, trigger: 'schedule', node: 'n1', state: 'failed', httpStatus: 500, startedMs: at(2) + 5, endedMs: at(2) + 9 });
    await put({ id: `${t.id}-${at(3)}-1`, taskId: t.id, tenant: 'default', scheduledMs: at(3), attempt: 1, trigger: 'schedule', state: 'skipped', message: 'skipped: overlap forbid' });

    const all = await api.call('GET', '/api/v1/tasks/{id}/slots', { params: { id: t.id }, query: { from: String(at(1)), to: new Date(at(4)).toISOString() } });
    expect(all.status).to.equal(200);
    expect(all.body.items.map((s: { scheduledAt: number; outcome: string }) => [s.scheduledAt, s.outcome])).to.deep.equal([
      [at(4), 'pending'],
      [at(3), 'skipped'],
      [at(2), 'failed'],
      [at(1), 'succeeded'],
    ]);
    expect(all.body.items[2].reason).to.equal('failed (HTTP 500)');
    expect(all.body.items[3].runs[0]).to.include({ attempt: 1, node: 'n1', latenessMs: 20 });

    const seen: number[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 4; i++) {
      const page = await api.call('GET', '/api/v1/tasks/{id}/slots', { params: { id: t.id }, query: { from: String(at(1)), to: String(at(4)), limit: 3, ...(cursor ? { cursor } : {}) } });
      seen.push(...page.body.items.map((s: { scheduledAt: number }) => s.scheduledAt));
      cursor = page.body.next;
      if (!cursor) break;
    }
    expect(seen).to.deep.equal([at(4), at(3), at(2), at(1)]);
    const bad = await api.call('GET', '/api/v1/tasks/{id}/slots', { params: { id: t.id }, query: { from: 'yesterday' } });
    expect([bad.status, bad.body.error.code]).to.deep.equal([400, 'INVALID_QUERY']);
    expect((await api.call('GET', '/api/v1/tasks/{id}/slots', { params: { id: t.id }, query: { cursor: 'runs/1/2' } })).status).to.equal(400);
    // Past the year 9999 (fuzz: to=9007199254740993 was a 500 from the schedule math).
    const far = await api.call('GET', '/api/v1/tasks/{id}/slots', { params: { id: t.id }, query: { to: '9007199254740993' } });
    expect(far.status).to.equal(400);
    expect(far.body.error.message).to.equal("to: '9007199254740993' is outside 1970-01-01 to 9999-12-31");
    expect((await api.call('GET', '/api/v1/tasks/{id}/slots', { params: { id: '999' } })).status).to.equal(404);
  });

  it('upcoming: the next instants across the tenant\'s enabled tasks, soonest first, cut at the limit', async () => {
    const a = (await api.call('POST', '/api/v1/tasks', { body: httpTask('every-two-minutes', { schedule: { cron: '0 */2 * * * *', tz: 'UTC' } }) })).body;
    const paused = (await api.call('POST', '/api/v1/tasks', { body: httpTask('paused-upcoming', { schedule: { cron: '* * * * * *', tz: 'UTC' } }) })).body;
    await api.call('POST', '/api/v1/tasks/{id}/pause', { params: { id: paused.id } });
    const r = await api.call('GET', '/api/v1/upcoming', { query: { within: 600_000 } });
    expect(r.status).to.equal(200);
    expect(api.checked).to.include('GET /api/v1/upcoming 200');
    const mine = r.body.items.filter((i: { taskId: string }) => i.taskId === a.id);
    const even = [];
    for (let ms = Math.floor(r.body.fromMs / 120_000) * 120_000 + 120_000; ms <= r.body.toMs; ms += 120_000) even.push(ms);
    expect(mine.map((i: { ms: number }) => i.ms)).to.deep.equal(even);
    expect(mine[0].at).to.equal(new Date(mine[0].ms).toISOString());
    expect(r.body.items.some((i: { taskId: string }) => i.taskId === paused.id), 'a paused task').to.equal(false);
    const ms = r.body.items.map((i: { ms: number }) => i.ms);
    expect(ms).to.deep.equal([...ms].sort((x: number, y: number) => x - y));
    await api.call('POST', '/api/v1/tasks/{id}/resume', { params: { id: paused.id } });
    const cut = await api.call('GET', '/api/v1/upcoming', { query: { within: 60_000, limit: 3 } });
    expect(cut.body.items).to.have.length(3);
    expect(cut.body.more).to.equal(true);
    expect((await api.call('GET', '/api/v1/upcoming', { query: { within: 7_200_000 } })).status).to.equal(400);
  });

  it('the audit log lists create, update, pause, resume, trigger, delete newest first', async () => {
    const t = await create('audited');
    const id = { id: t.id };
    await api.call('PATCH', '/api/v1/tasks/{id}', { params: id, body: { replicas: 2 } });
    await api.call('POST', '/api/v1/tasks/{id}/pause', { params: id });
    await api.call('POST', '/api/v1/tasks/{id}/resume', { params: id });
    await api.call('POST', '/api/v1/tasks/{id}/trigger', { params: id });
    await api.call('DELETE', '/api/v1/tasks/{id}', { params: id });
    const noise = await create('noise');

    const all = await api.call('GET', '/api/v1/events');
    expect(all.status).to.equal(200);
    expect(all.body.items.map((e: { action: string }) => e.action)).to.deep.equal(['create', 'delete', 'trigger', 'resume', 'pause', 'update', 'create']);
    expect(all.body.items[0].taskId).to.equal(noise.id);
    for (const e of all.body.items) expect(e.at).to.equal(new Date(e.atMs).toISOString());

    const mine = await api.call('GET', '/api/v1/events', { query: { taskId: t.id } });
    expect(mine.body.items.map((e: { action: string }) => e.action)).to.deep.equal(['delete', 'trigger', 'resume', 'pause', 'update', 'create']);
    expect(mine.body.items.every((e: { taskName: string }) => e.taskName === 'audited')).to.equal(true);

    const paged: string[] = [];
    let before: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const r = await api.call('GET', '/api/v1/events', { query: { limit: 3, ...(before ? { before } : {}) } });
      paged.push(...r.body.items.map((e: { id: string }) => e.id));
      before = r.body.next;
      if (!before) break;
    }
    expect(paged).to.deep.equal(all.body.items.map((e: { id: string }) => e.id));
    expect((await api.call('GET', '/api/v1/events', { query: { before: '../x' } })).status).to.equal(400);
  });

  it('the run log: runs and events of a task, a group or the tenant, by kind and time, offset + limit', async () => {
    const a = (await api.call('POST', '/api/v1/tasks', { body: httpTask('a', { group: 'g' }) })).body;
    const b = (await api.call('POST', '/api/v1/tasks', { body: httpTask('b') })).body;
    const base = Date.now() - 60_000;
    const run = (t: { id: string; tenant: string }, i: number, state: Run['state'], trigger: Run['trigger']): Run => ({
      id: `${t.id}-${base + i * 1000}-1`, taskId: t.id, tenant: t.tenant, scheduledMs: base + i * 1000, attempt: 1, trigger, state, startedMs: base + i * 1000 + 5, endedMs: base + i * 1000 + 50,
    });
    const runs = [run(a, 0, 'succeeded', 'schedule'), run(a, 1, 'failed', 'schedule'), { ...run(a, 2, 'succeeded', 'manual'), node: 'n2' }, { ...run(b, 3, 'succeeded', 'schedule'), node: 'n1' }];
    for (const r of runs) await api.handle.ns.put(K.run(r.taskId, r.scheduledMs, r.attempt)).value(JSON.stringify(r)).exec();

    const all = await api.call('GET', '/api/v1/log');
    expect(all.status).to.equal(200);
    expect(all.body.total).to.equal(6); // four runs, two creates
    expect(api.checked).to.include('GET /api/v1/log 200');
    const times = all.body.items.map((e: { atMs: number }) => e.atMs);
    expect(times).to.deep.equal([...times].sort((x: number, y: number) => y - x));

    const ofA = await api.call('GET', '/api/v1/log', { query: { taskId: a.id, kinds: 'succeeded,failed' } });
    expect(ofA.body.items.map((e: { run: Run }) => e.run.id)).to.deep.equal([runs[2]!.id, runs[1]!.id, runs[0]!.id]);
    const manual = await api.call('GET', '/api/v1/log', { query: { group: 'g', kinds: 'succeeded,manual' } });
    expect(manual.body.items.map((e: { run: Run }) => e.run.id)).to.deep.equal([runs[2]!.id]);
    const creates = await api.call('GET', '/api/v1/log', { query: { kinds: 'create' } });
    expect(creates.body.items.map((e: { kind: string; event: { taskName: string } }) => [e.kind, e.event.taskName])).to.deep.equal([['event', 'b'], ['event', 'a']]);
    const window = await api.call('GET', '/api/v1/log', { query: { kinds: 'succeeded,failed', from: base + 1000, to: base + 2050 } });
    expect(window.body.items.map((e: { run: Run }) => e.run.id)).to.deep.equal([runs[2]!.id, runs[1]!.id]);
    const onN2 = await api.call('GET', '/api/v1/log', { query: { node: 'n2' } });
    expect(onN2.body.items.map((e: { run: Run }) => e.run.id), 'a node: its runs only, no events').to.deep.equal([runs[2]!.id]);
    const page = await api.call('GET', '/api/v1/log', { query: { offset: 1, limit: 2 } });
    expect(page.body.total).to.equal(6);
    expect(page.body.items.map((e: { atMs: number }) => e.atMs)).to.deep.equal(times.slice(1, 3));

    const bad = await api.call('GET', '/api/v1/log', { query: { kinds: 'succeeded,exploded' } });
    expect(bad.status).to.equal(400);
    expect(bad.body.error.message).to.match(/^unknown kind 'exploded'/);
    expect((await api.call('GET', '/api/v1/log', { query: { taskId: a.id, group: 'g' } })).status).to.equal(400);
    expect((await api.call('GET', '/api/v1/log', { query: { taskId: '9999' } })).status).to.equal(404);
    // Past 50 tasks in scope the log reads every run at once instead of a task at a time: the same answer.
    const before = (await api.call('GET', '/api/v1/log', { query: { kinds: 'succeeded,failed' } })).body.items.map((e: { run: Run }) => e.run.id);
    for (let i = 0; i < 50; i++) await api.call('POST', '/api/v1/tasks', { body: httpTask(`filler-${i}`) });
    expect((await api.call('GET', '/api/v1/log', { query: { kinds: 'succeeded,failed' } })).body.items.map((e: { run: Run }) => e.run.id)).to.deep.equal(before);
    expect(before).to.have.length(4);
  });
});

import { expect } from 'chai';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { api, startNode } from '../support/node.js';
import { Receiver } from '../support/receiver.js';
import { GroupService } from '../../src/service/group-service.js';
import { RunLogService } from '../../src/service/run-log.js';
import type { RotaNode } from '../../src/node.js';
import type { TaskInput } from '../../src/service/task-input.js';
import { RotaError } from '../../src/domain/errors.js';

/**
 * The service pieces every dialect builds on, against a real node (real etcd, scheduler,
 * agent, callbacks and processes): trigger params reaching the run, groups written whole,
 * the run log over runs and audit events, listing in one scan.
 */
describe('trigger and task params, group writes, the run log, tenant listing (service, one real node)', function () {
  this.timeout(60_000);
  let node: RotaNode;
  let rx: Receiver;
  const me = { tenant: 'default' };
  const other = { tenant: 'other' };

  beforeEach(async () => {
    const { endpoint, prefix } = await freshEtcd();
    node = await startNode(endpoint, prefix);
    rx = await new Receiver().start();
  });
  afterEach(async () => {
    await node.stop();
    await rx.stop();
  });

  const manualHttp = (name: string, extra: Record<string, unknown> = {}): TaskInput => ({ name, schedule: { manual: true }, action: { http: { url: `${rx.url}/${name}`, ...extra } } });

  it('delivers a manual trigger\'s params: JSON body, merged JSON body, JSON-RPC params, ROTA_PARAMS', async () => {
    const s = node.service;
    const bare = await s.create(me, manualHttp('bare'));
    const merged = await s.create(me, manualHttp('merged', { body: { json: { keep: 1, order: 0 } } }));
    const rpc = await s.create(me, { name: 'rpc', schedule: { manual: true }, action: { jsonrpc: { url: `${rx.url}/rpc`, method: 'Jobs.Run' } } });
    const proc = await s.create(me, { name: 'proc', schedule: { manual: true }, action: { process: { command: 'printf %s "$ROTA_PARAMS"' } } });
    const params = { order: 42, note: 'from the trigger' };
    for (const t of [bare, merged, rpc, proc]) await s.trigger(me, t.id, params);
    // Over the native API too (the route the CLI and dialects share).
    const noParams = await api(node, 'POST', `/api/v1/tasks/${bare.id}/trigger`);
    expect(noParams.status).to.equal(202);

    // At least what is expected, then exactly it: a third delivery fails here by name, not as a timeout.
    await waitFor(() => rx.forTask(bare.id).length >= 2 && rx.forTask(merged.id).length && rx.forTask(rpc.id).length, 'the callbacks', 30_000);
    expect(rx.forTask(bare.id).map((h) => `${h.scheduledMs}#${h.attempt}`), 'deliveries of bare (scheduled#attempt)').to.have.length(2);
    const bodies = rx.forTask(bare.id).map((h) => h.body).sort();
    expect(bodies).to.deep.equal(['', JSON.stringify(params)].sort());
    expect(rx.forTask(bare.id).find((h) => h.body)!.headers['content-type']).to.equal('application/json');
    expect(JSON.parse(rx.forTask(merged.id)[0]!.body)).to.deep.equal({ keep: 1, order: 42, note: 'from the trigger' });
    const call = JSON.parse(rx.forTask(rpc.id)[0]!.body);
    expect(call).to.include({ jsonrpc: '2.0', method: 'Jobs.Run' });
    expect(call.params).to.deep.equal(params);

    const run = await waitFor(async () => (await s.listRuns(me, proc.id, 5)).items.find((r) => r.state === 'succeeded'), 'the process run');
    expect(JSON.parse(run.outputTail ?? '')).to.deep.equal(params);
  });

  it("a task's own params are every run's defaults (a scheduled run too); a trigger's are merged over them", async () => {
    const s = node.service;
    const t = await s.create(me, { name: 'defaults', schedule: { every: '1s' }, params: { region: 'eu', order: 1 }, action: { process: { command: 'printf %s "$ROTA_PARAMS"' } } });
    const scheduled = await waitFor(async () => (await s.listRuns(me, t.id, 5)).items.find((r) => r.state === 'succeeded' && r.trigger === 'schedule'), 'a scheduled run');
    expect(JSON.parse(scheduled.outputTail ?? '')).to.deep.equal({ region: 'eu', order: 1 });
    await s.setEnabled(me, t.id, false);
    const { runId } = await s.trigger(me, t.id, { order: 2 });
    const triggered = await waitFor(async () => {
      const r = await s.getRun(me, runId).catch(() => null);
      return r?.state === 'succeeded' ? r : null;
    }, 'the triggered run');
    expect(JSON.parse(triggered.outputTail ?? '')).to.deep.equal({ region: 'eu', order: 2 });
  });

  it('writes a group whole: upsert creates, replaces in place, keeps identical entries, deletes the rest; one bad entry writes nothing', async () => {
    const s = node.service;
    const groups = new GroupService(s);
    const entry = (name: string, cron: string, tz = 'Asia/Shanghai'): TaskInput => ({ name, schedule: { cron, tz }, action: { http: { url: `${rx.url}/${name}` } } });
    const first = await groups.upsert(me, { group: 'g1', entries: [entry('g1.a', '0 0 * * * *'), entry('g1.b', '0 30 * * * *')], detail: { put: 1 } });
    expect(first.created.map((t) => t.name)).to.deep.equal(['g1.a', 'g1.b']);
    const [a, b] = first.created;

    const second = await groups.upsert(me, { group: 'g1', entries: [entry('g1.a', '0 0 * * * *'), entry('g1.b', '0 15 * * * *'), entry('g1.c', '0 45 * * * *')] });
    expect(second.unchanged.map((t) => t.id)).to.deep.equal([a!.id]);
    expect(second.updated.map((t) => [t.id, t.schedule])).to.deep.equal([[b!.id, { cron: '0 15 * * * *', tz: 'Asia/Shanghai' }]]);
    expect(second.created.map((t) => t.name)).to.deep.equal(['g1.c']);

    const before = (await groups.tasks(me, 'g1')).map((t) => JSON.stringify(t));
    for (const bad of [[entry('g1.a', '0 0 * * * *'), entry('g1.x', '0 61 * * * *')], [entry('g1.a', '0 0 * * * *', 'Mars/Olympus')], [entry('g1.a', '* * * * * *'), entry('g1.a', '0 0 * * * *')]]) {
      const err = await groups.upsert(me, { group: 'g1', entries: bad }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(RotaError);
    }
    expect((await groups.tasks(me, 'g1')).map((t) => JSON.stringify(t))).to.deep.equal(before);

    // A name held outside the group is a conflict, named.
    await s.create(me, manualHttp('loner'));
    const clash = (await groups.upsert(me, { group: 'g1', entries: [entry('loner', '0 0 * * * *')] }).catch((e: unknown) => e)) as RotaError;
    expect(clash.code).to.equal('CONFLICT');
    expect(clash.message).to.match(/^loner: /);

    const third = await groups.upsert(me, { group: 'g1', entries: [entry('g1.c', '0 45 * * * *')] });
    expect(third.deleted.map((t) => t.name).sort()).to.deep.equal(['g1.a', 'g1.b']);
    expect(await groups.names(me)).to.deep.equal(['g1']);
    expect(await groups.names(other)).to.deep.equal([]);

    const off = await groups.setEnabled(me, 'g1', false);
    expect(off.every((t) => !t.enabled)).to.equal(true);
    const [c] = await groups.tasks(me, 'g1');
    const inst = (await s.instants([c!])).get(c!.id)!;
    expect(inst.nextMs).to.equal(null);
    await groups.setEnabled(me, 'g1', true);
    const inst2 = (await s.instants((await groups.tasks(me, 'g1')))).get(c!.id)!;
    expect(inst2.nextMs! % 3_600_000).to.equal(45 * 60_000);

    expect((await groups.delete(me, 'g1')).map((t) => t.name)).to.deep.equal(['g1.c']);
    expect(await groups.tasks(me, 'g1')).to.deep.equal([]);
    const actions = (await s.history.events('default')).filter((e) => e.group === 'g1' && e.taskId === undefined).map((e) => e.action);
    expect(actions).to.deep.equal(['group-put', 'group-put', 'group-put', 'group-disable', 'group-enable', 'group-delete']);
  });

  it('answers the run log over runs and audit events: scope, kinds, time, newest first, offset + limit, clear', async () => {
    const s = node.service;
    const groups = new GroupService(s);
    const log = new RunLogService(s);
    const ok = manualHttp('ok');
    const [good, bad] = (await groups.upsert(me, { group: 'lg', entries: [ok, manualHttp('bad', { url: `${rx.url}/bad`, expectStatus: [204] })] })).created;
    const outside = await s.create(me, manualHttp('outside'));
    const theirs = await s.create(other, manualHttp('theirs'));
    for (const t of [good!, bad!, good!, outside]) await s.trigger(me, t.id);
    await s.trigger(other, theirs.id);
    await waitFor(async () => (await log.query(me, { scope: { group: 'lg' }, events: [], runStates: ['succeeded', 'failed'], limit: 10 })).total === 3, 'three finished runs in the group');

    const all = await log.query(me, { scope: { group: 'lg' }, limit: 100 });
    const times = all.items.map((e) => e.atMs);
    expect(times).to.deep.equal([...times].sort((x, y) => y - x));
    const kinds = all.items.map((e) => (e.kind === 'run' ? `run:${e.task.name}:${e.run.state}` : `event:${e.event.action}`));
    expect(kinds.filter((k) => k.startsWith('run:')).sort()).to.deep.equal(['run:bad:failed', 'run:ok:succeeded', 'run:ok:succeeded']);
    expect(kinds.filter((k) => k.startsWith('event:')).sort()).to.deep.equal(['event:create', 'event:create', 'event:group-put', 'event:trigger', 'event:trigger', 'event:trigger']);
    expect(kinds.some((k) => k.includes('outside') || k.includes('theirs'))).to.equal(false);

    const failed = await log.query(me, { scope: { group: 'lg' }, runStates: ['failed'], events: [], limit: 10 });
    expect(failed.items.map((e) => e.kind === 'run' && e.run.message)).to.deep.equal(['HTTP 200 (expected 204)']);
    const manual = await log.query(me, { scope: { tasks: [good!] }, triggers: ['manual'], events: [], limit: 10 });
    expect(manual.total).to.equal(2);
    const puts = await log.query(me, { scope: { group: 'lg' }, events: ['group-put'], runStates: [], limit: 10 });
    expect(puts.total).to.equal(1);

    const page1 = await log.query(me, { scope: { group: 'lg' }, limit: 4 });
    const page2 = await log.query(me, { scope: { group: 'lg' }, offset: 4, limit: 4 });
    expect([...page1.items, ...page2.items].map((e) => e.atMs)).to.deep.equal(all.items.map((e) => e.atMs).slice(0, 8));
    const newest = all.items[0]!.atMs;
    const recent = await log.query(me, { scope: { group: 'lg' }, fromMs: newest, limit: 100 });
    expect(recent.items.every((e) => e.atMs >= newest)).to.equal(true);
    expect(recent.total).to.be.greaterThan(0).and.lessThan(all.total);
    const older = await log.query(me, { scope: { group: 'lg' }, toMs: newest - 1, limit: 100 });
    expect(older.total + recent.total).to.equal(all.total);

    const tenant = await log.query(me, { scope: { tenant: true }, events: [], limit: 100 });
    expect(tenant.items.map((e) => e.kind === 'run' && e.task.name).sort()).to.deep.equal(['bad', 'ok', 'ok', 'outside']);
    expect((await log.query(other, { scope: { tenant: true }, events: [], limit: 100 })).items.map((e) => e.kind === 'run' && e.task.name)).to.deep.equal(['theirs']);

    const cleared = await log.clear(me, { group: 'lg' });
    expect(cleared.tasks).to.equal(2);
    expect((await log.query(me, { scope: { group: 'lg' }, limit: 100 })).total).to.equal(0);
    expect((await log.query(me, { scope: { tasks: [outside] }, events: [], limit: 100 })).total).to.equal(1);
  });

  it('lists every task of a tenant in one scan, in id order, filtered', async () => {
    const s = node.service;
    for (let i = 0; i < 12; i++) await s.create(i % 3 ? me : other, { ...manualHttp(`t${i}`), ...(i % 2 ? { group: 'odd' } : {}) });
    const mine = await s.listAll(me);
    expect(mine.map((t) => t.name)).to.deep.equal(['t1', 't2', 't4', 't5', 't7', 't8', 't10', 't11']);
    expect(mine.map((t) => Number(t.id))).to.deep.equal(mine.map((t) => Number(t.id)).sort((a, b) => a - b));
    expect((await s.listAll(me, { group: 'odd' })).map((t) => t.name)).to.deep.equal(['t1', 't5', 't7', 't11']);
    const p1 = await s.list(me, {}, 5);
    const p2 = await s.list(me, {}, 5, { ...(p1.next ? { after: p1.next } : {}) });
    expect([...p1.items, ...p2.items].map((l) => l.task.name)).to.deep.equal(mine.map((t) => t.name));
    expect(p2.next).to.equal(undefined);
    expect(p1.total).to.equal(8);
    // By name (t1, t10, t11, t2, ...), paged by offset.
    const byName = [...mine.map((t) => t.name)].sort((a, b) => a.localeCompare(b));
    const n1 = await s.list(me, {}, 3, { sort: 'name' });
    const n2 = await s.list(me, {}, 10, { sort: 'name', offset: 3 });
    expect([...n1.items, ...n2.items].map((l) => l.task.name)).to.deep.equal(byName);
    expect(n1.next, 'no cursor out of id order').to.equal(undefined);
  });
});

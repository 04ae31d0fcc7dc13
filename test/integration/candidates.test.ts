import { expect } from 'chai';
import { PlanStore, decodeChunk, type CandidatePlan } from '../../src/store/plan-store.js';
import { FiringReads } from '../../src/store/firing-reads.js';
import { NodeSession } from '../../src/store/session.js';
import { K } from '../../src/store/keys.js';
import { systemClock } from '../../src/domain/clock.js';
import { silentLogger } from '../../src/log.js';
import { claimedFiring, type PlannedFiring } from '../../src/domain/candidates.js';
import { probeTxnLimit, type EtcdHandle } from '../../src/store/etcd.js';
import type { Firing } from '../../src/domain/firing.js';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { Receiver } from '../support/receiver.js';
import { api, startNode } from '../support/node.js';
import { listKeys, listPrefix } from '../../src/store/watch.js';

/**
 * Protocol v2's writes against a real etcd: the leader's plan chunks with the cursors they move,
 * a candidate's claim at the instant (one winner, a changed task or an ended run claims nothing)
 * and the leader's backstop for what nobody claimed.
 */
describe('protocol v2: plans, candidate claims, backstop (integration, real etcd)', function () {
  this.timeout(20_000);
  let h: EtcdHandle;
  const sessions: NodeSession[] = [];

  async function node(id: string): Promise<NodeSession> {
    const s = new NodeSession(h, systemClock, 10, silentLogger);
    await s.start({ id, address: '127.0.0.1:1', ip: '127.0.0.1', hostname: 'h', attributes: {}, capacity: 10, state: 'active', version: 't', startedMs: 0 });
    sessions.push(s);
    return s;
  }

  /** Task `id` stored (any definition: the claim only compares its revision); its revision. */
  async function task(id: string): Promise<number> {
    const r = await h.ns.put(K.task(id)).value(JSON.stringify({ id, tenant: 'default', name: `t${id}` })).exec();
    return Number(r.header.revision);
  }

  const planned = (taskId: string, ms: number, taskRev: number, candidates = ['n1', 'n2']): PlannedFiring => ({ taskId, tenant: 'default', scheduledMs: ms, replica: 0, trigger: 'schedule', taskRev, candidates, lateUntilMs: ms + 60_000 });

  beforeEach(async () => {
    h = (await freshEtcd()).handle;
  });
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
    h.close();
  });

  it('two candidates claiming the same firing at once: exactly one wins, the other gets null', async () => {
    const [a, b] = [await node('n1'), await node('n2')];
    const rev = await task('5');
    const p = planned('5', 1000, rev);
    // Separate stores, as on two nodes; submitted in the same turn of the event loop.
    const [sa, sb] = [new PlanStore(h), new PlanStore(h)];
    for (let round = 0; round < 20; round++) {
      const q = { ...p, scheduledMs: 1000 + round };
      const got = await Promise.all([sa.claim('n1', a.leaseNumeric, q, claimedFiring(q, 'n1', a.leaseId, 1)), sb.claim('n2', b.leaseNumeric, q, claimedFiring(q, 'n2', b.leaseId, 1))]);
      expect(got.filter((x) => x !== null), `round ${round}`).to.have.length(1);
      expect(got.find((x) => x)?.task?.id).to.equal('5');
    }
  });

  it("more claims at once than etcd's op limit: each nested transaction counts against it, so they go in packs, all won", async () => {
    h.maxTxnOps = await probeTxnLimit(h);
    const s = await node('n1');
    const rev = await task('11');
    const store = new PlanStore(h);
    const n = h.maxTxnOps + 50;
    const got = await Promise.all(Array.from({ length: n }, (_, i) => planned('11', 10_000 + i, rev)).map((q) => store.claim('n1', s.leaseNumeric, q, claimedFiring(q, 'n1', s.leaseId, 1))));
    expect(got.filter((g) => g !== null).length).to.equal(n);
  });

  it('a claim fails when the firing or its first run exists, the task changed, or the lease is not the node\'s', async () => {
    const s = await node('n1');
    const store = new PlanStore(h);
    const rev = await task('6');
    const claim = (q: PlannedFiring, lease = s.leaseNumeric) => store.claim('n1', lease, q, claimedFiring(q, 'n1', s.leaseId, 1));
    // The first candidate's run ended and its firing is gone: a later turn must not run it again.
    await h.ns.put(K.run('6', 2000, 1)).value('{}').exec();
    expect(await claim(planned('6', 2000, rev))).to.equal(null);
    expect(await new PlanStore(h).open(planned('6', 2000, rev)), 'open: a run exists').to.equal(false);
    expect(await new PlanStore(h).open(planned('6', 2500, rev)), 'open: nothing yet').to.equal(true);
    expect(await claim(planned('6', 3000, rev), '12345')).to.equal(null);
    const newRev = await task('6'); // updated: plans from the old revision never fire
    expect(await claim(planned('6', 3000, rev))).to.equal(null);
    expect(await claim(planned('6', 3000, newRev))).to.not.equal(null);
    expect(await claim(planned('6', 3000, newRev)), 'claimed already').to.equal(null);
    await h.ns.delete().key(K.task('6'));
    expect(await claim(planned('6', 4000, newRev)), 'deleted task').to.equal(null);
  });

  it('plans: each transaction moves its cursors and puts one chunk; a stale cursor fails alone; old chunks go in one range delete', async () => {
    const fence = { key: 'election/t', createRevision: Number((await h.ns.put('election/t').value('n1').exec()).header.revision) };
    const store = new PlanStore(h);
    const revs = [await task('1'), await task('2'), await task('3')];
    const cur = async (id: string) => Number((await h.ns.put(K.cursor(id)).value('0').exec()).header.revision);
    const c = [await cur('1'), await cur('2'), await cur('3')];
    await h.ns.put(K.cursor('2')).value('5'); // moved by someone else since the planner read it
    const plan = (i: number, ms: number): CandidatePlan => ({ taskId: String(i + 1), cursor: { expectRev: c[i]!, toMs: ms }, planned: [planned(String(i + 1), ms, revs[i]!, ['n1', 'n2', 'n3'])], skipped: [] });
    const res = await store.writePlans(fence, [plan(0, 10_000), plan(1, 20_000), plan(2, 30_000)]);
    expect(res!.map((r) => r.ok)).to.deep.equal([true, false, true]);
    expect(await h.ns.get(K.cursor('1')).string()).to.equal('10000');
    expect(await h.ns.get(K.cursor('2')).string()).to.equal('5');
    const { kvs } = await listPrefix(h, K.plans);
    expect(kvs, 'one chunk for the batch that committed').to.have.length(1);
    const back = decodeChunk(kvs[0]!.value);
    expect(back.map((p) => [p.taskId, p.scheduledMs, p.candidates])).to.deep.equal([['1', 10_000, ['n1', 'n2', 'n3']], ['3', 30_000, ['n1', 'n2', 'n3']]]);
    expect(back[0]).to.deep.equal(planned('1', 10_000, revs[0]!, ['n1', 'n2', 'n3']));
    // A second chunk, newer; deleting through 30 s drops the first only.
    await store.writePlans(fence, [{ ...plan(0, 40_000), cursor: { expectRev: Number((await h.ns.get(K.cursor('1')).exec()).kvs[0]!.mod_revision), toMs: 40_000 } }]);
    expect(await store.deleteThrough(30_000)).to.equal(1);
    expect((await store.list()).planned.map((p) => p.scheduledMs)).to.deep.equal([40_000]);
    // Another leader's key: fenced.
    await h.ns.delete().key('election/t');
    await h.ns.put('election/t').value('n2');
    expect(await store.writePlans(fence, [plan(2, 50_000)])).to.equal(null);
  });

  it("the leader's mark on the plans: a new leader's list leaves out what it covers, and reads whole a chunk written after it", async () => {
    const fence = { key: 'election/t', createRevision: Number((await h.ns.put('election/t').value('n1').exec()).header.revision) };
    const store = new PlanStore(h);
    const revs = [await task('1'), await task('2')];
    const cursor = async (id: string) => Number((await h.ns.get(K.cursor(id)).exec()).kvs[0]?.mod_revision ?? 0);
    const plan = async (i: number, instants: number[]): Promise<CandidatePlan> => ({
      taskId: String(i + 1),
      cursor: { expectRev: await cursor(String(i + 1)), toMs: Math.max(...instants) },
      planned: instants.map((ms) => planned(String(i + 1), ms, revs[i]!)),
      skipped: [],
    });
    expect(await store.settled(), 'none written yet: everything is read').to.equal(null);
    await store.writePlans(fence, [await plan(0, [1_000, 2_000]), await plan(1, [3_000])]); // one chunk, newest 3 s
    await store.writePlans(fence, [await plan(0, [4_000, 5_000])]); // newest 5 s
    expect(await store.settle(fence, 4_500)).to.equal('ok');
    const mark = await store.settled();
    expect(mark?.ms).to.equal(4_500);
    // Written after the mark, of instants before it (catch-up firings, a leader of another version): read whole.
    await store.writePlans(fence, [await plan(1, [500, 6_000])]);
    const ids = (ps: PlannedFiring[]) => ps.map((p) => `${p.taskId}@${p.scheduledMs}`).sort();
    expect(ids((await store.list(mark)).planned)).to.deep.equal(['1@5000', '2@500', '2@6000']);
    expect(ids((await store.list()).planned), 'without the mark: all').to.deep.equal(['1@1000', '1@2000', '1@4000', '1@5000', '2@3000', '2@500', '2@6000']);
    // Another leader's key: the mark does not move.
    await h.ns.delete().key('election/t');
    await h.ns.put('election/t').value('n2');
    expect(await store.settle(fence, 9_000)).to.equal('fenced');
    expect((await store.settled())?.ms).to.equal(4_500);
  });

  it('backstop: writes the firing only when nobody claimed it, no run exists and the task is unchanged', async () => {
    const fence = { key: 'election/t', createRevision: Number((await h.ns.put('election/t').value('n1').exec()).header.revision) };
    const s = await node('n1');
    const store = new PlanStore(h);
    const rev = await task('9');
    const unassigned = (ms: number): Firing => ({ taskId: '9', tenant: 'default', scheduledMs: ms, attempt: 1, trigger: 'schedule', state: 'unassigned', dueMs: ms });
    const q = planned('9', 1000, rev);
    expect(await store.claim('n1', s.leaseNumeric, q, claimedFiring(q, 'n1', s.leaseId, 1))).to.not.equal(null); // claimed
    await h.ns.put(K.run('9', 2000, 1)).value('{}').exec(); // ran and ended
    const res = await store.backstop(fence, [1000, 2000, 3000].map((ms) => ({ firing: unassigned(ms), taskRev: rev })));
    expect(res).to.deep.equal(['stale', 'stale', 'ok']);
    expect((await new FiringReads(h).getFiring('9', 3000))?.firing.state).to.equal('unassigned');
    await task('9');
    expect(await store.backstop(fence, [{ firing: unassigned(4000), taskRev: rev }]), 'task changed').to.deep.equal(['stale']);
  });
});

/**
 * With firings planned 20 s ahead, a change of the task still reaches every one of them: none
 * fires from a stale definition after an update, and none fires after a delete.
 */
describe('protocol v2: changes reach the firings planned ahead (one node, real etcd)', function () {
  this.timeout(60_000);
  it('update: every instant after it runs the new definition; delete: nothing after it', async () => {
    const { endpoint, prefix } = await freshEtcd();
    const rx = await new Receiver().start();
    const node = await startNode(endpoint, prefix);
    try {
      const body = (v: string) => ({ name: 'tick', schedule: { cron: '* * * * * *' }, action: { http: { url: rx.url, body: { json: { v } } } } });
      const t = await api(node, 'POST', '/api/v1/tasks', body('old'));
      const beat = await api(node, 'POST', '/api/v1/tasks', { name: 'beat', schedule: { cron: '* * * * * *' }, action: { http: { url: rx.url } } });
      await waitFor(() => rx.forTask(t.body.id).length >= 2, 'tick fires');
      const up = await api(node, 'PUT', `/api/v1/tasks/${t.body.id}`, body('new'));
      expect(up.status, JSON.stringify(up.body)).to.equal(200);
      const updatedMs = up.body.updatedMs as number;
      await waitFor(() => rx.forTask(t.body.id).filter((h) => h.scheduledMs > updatedMs).length >= 3, 'three firings after the update');
      const after = rx.forTask(t.body.id).filter((h) => h.scheduledMs > updatedMs);
      expect(after.map((h) => JSON.parse(h.body).v)).to.deep.equal(after.map(() => 'new'));
      expect(rx.forTask(t.body.id).filter((h) => h.scheduledMs <= updatedMs).every((h) => JSON.parse(h.body).v === 'old')).to.equal(true);
      const instants = after.map((h) => h.scheduledMs);
      expect(instants, 'no instant skipped or doubled').to.deep.equal(instants.map((_, i) => instants[0]! + i * 1000));

      const del = await api(node, 'DELETE', `/api/v1/tasks/${t.body.id}`);
      expect(del.status).to.equal(204);
      const deletedAt = Date.now();
      // The beat fired two instants past the delete: the deleted task's planned firings had their turns.
      await waitFor(() => rx.forTask(beat.body.id).some((h) => h.scheduledMs >= deletedAt + 2000), 'the beat two seconds past the delete');
      expect(rx.forTask(t.body.id).filter((h) => h.scheduledMs > deletedAt)).to.deep.equal([]);
      expect(rx.duplicates()).to.deep.equal([]);
    } finally {
      await node.stop();
      await rx.stop();
    }
  });
});

/**
 * Plans are kept a minute past their newest instant, then deleted by the leader, also when every
 * planned firing was claimed and the backstop never had anything to do (it once pruned only then).
 * Takes about 95 s: the minute, a stride, and the leader's prune period.
 */
describe('protocol v2: old plans leave etcd (one node, real etcd)', function () {
  this.timeout(150_000);
  it('the first chunk of a task claimed at every instant is deleted once its newest firing is a minute old', async () => {
    const { endpoint, prefix, handle: h } = await freshEtcd();
    const node = await startNode(endpoint, prefix);
    try {
      await api(node, 'POST', '/api/v1/tasks', { name: 'p', schedule: { cron: '* * * * * *' }, action: { process: { command: 'true' } } });
      const first = await waitFor(async () => (await listKeys(h, K.plans))[0], 'a plan chunk');
      const newestMs = Number(first.slice(K.plans.length, K.plans.length + 13));
      await waitFor(async () => !(await listKeys(h, K.plans)).includes(first), 'the first chunk deleted', 120_000, 1000);
      expect(Date.now() - newestMs, 'not before its newest firing is a minute old').to.be.at.least(60_000);
      expect((await listKeys(h, K.plans)).length, 'the newer chunks stay').to.be.greaterThan(0);
    } finally {
      await node.stop();
    }
  });
});

/**
 * The leader's mark on the plans moves with the claims, and every planned firing before it was
 * claimed: a new leader that reads only what is past the mark misses none.
 */
describe("protocol v2: the leader's mark on the plans (one node, real etcd)", function () {
  this.timeout(30_000);
  it('moves forward as firings are claimed, and no planned firing before it is left unclaimed', async () => {
    const { endpoint, prefix, handle: h } = await freshEtcd();
    const node = await startNode(endpoint, prefix);
    try {
      const t0 = Date.now();
      await api(node, 'POST', '/api/v1/tasks', { name: 'm', schedule: { cron: '* * * * * *' }, action: { process: { command: 'true' } } });
      const store = new PlanStore(h);
      const first = await waitFor(async () => (await store.settled())?.ms, 'a mark on the plans');
      const later = await waitFor(async () => {
        const m = await store.settled();
        return m && m.ms >= first + 2_000 ? m : undefined;
      }, 'the mark two seconds further', 15_000);
      expect(later.ms, 'never ahead of the clock').to.be.at.most(Date.now());
      expect(later.ms, 'not behind the firings already run').to.be.greaterThan(t0);
      // Everything it covers ran (its first run record) or is running (its firing).
      const covered = (await store.list()).planned.filter((p) => p.scheduledMs < later.ms);
      expect(covered.length, 'instants before the mark').to.be.greaterThan(0);
      for (const p of covered) {
        const [firing, run] = await Promise.all([h.ns.get(K.firing(p.taskId, p.scheduledMs)).exec(), h.ns.get(K.run(p.taskId, p.scheduledMs, 1)).exec()]);
        expect(firing.kvs.length + run.kvs.length, `${p.taskId}@${p.scheduledMs}`).to.be.greaterThan(0);
      }
    } finally {
      await node.stop();
    }
  });
});

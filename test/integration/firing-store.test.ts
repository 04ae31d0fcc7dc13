import { expect } from 'chai';
import { LeaderFirings, type FiringPlan } from '../../src/store/leader-firings.js';
import { NodeFirings } from '../../src/store/node-firings.js';
import { NodeSession } from '../../src/store/session.js';
import { K } from '../../src/store/keys.js';
import { systemClock } from '../../src/domain/clock.js';
import { silentLogger } from '../../src/log.js';
import type { Firing } from '../../src/domain/firing.js';
import type { Run } from '../../src/domain/task.js';
import { freshEtcd } from '../support/etcd.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startEtcdProcess } from '../../src/store/etcd-process.js';
import { connectEtcd, probeTxnLimit } from '../../src/store/etcd.js';

/**
 * Claims, outcomes, repair moves and plans batched into one transaction: an item gone stale
 * (its revision moved) fails alone, and the others still commit together.
 */
describe('firing store batches (integration, real etcd)', function () {
  this.timeout(20_000);
  /** Task `id`'s firing at `ms`, running on n1, and the succeeded run its outcome records. */
  const running = (id: string, ms: number): Firing => ({ taskId: id, tenant: 'default', scheduledMs: ms, attempt: 1, trigger: 'schedule', state: 'running', dueMs: ms, node: 'n1', lease: 'L', startedMs: ms });
  const succeeded = (id: string, ms: number, extra: Partial<Run> = {}): Run => ({ id: `${id}-${ms}-1`, taskId: id, tenant: 'default', scheduledMs: ms, attempt: 1, trigger: 'schedule', state: 'succeeded', node: 'n1', startedMs: ms, endedMs: ms + 1, ...extra }) as Run;

  it('claims: a stale firing in the batch gets null, the rest are claimed in one transaction; another lease claims nothing', async () => {
    const { handle: h } = await freshEtcd();
    const s = new NodeSession(h, systemClock, 10, silentLogger);
    try {
      await s.start({ id: 'n1', address: '127.0.0.1:1', ip: '127.0.0.1', hostname: 'h', attributes: {}, capacity: 10, state: 'active', version: 't', startedMs: 0 });
      const store = new NodeFirings(h);
      const f = (ms: number): Firing => ({ taskId: '7', tenant: 'default', scheduledMs: ms, attempt: 1, trigger: 'schedule', state: 'assigned', dueMs: ms, node: 'n1', lease: s.leaseId });
      const revs: number[] = [];
      for (const ms of [1000, 2000, 3000]) {
        const r = await h.ns.put(K.firing('7', ms)).value(JSON.stringify(f(ms))).exec();
        revs.push(Number(r.header.revision));
      }
      await h.ns.put(K.firing('7', 2000)).value(JSON.stringify({ ...f(2000), node: 'n2' })); // taken back meanwhile
      const run = (x: Firing): Firing => ({ ...x, state: 'running', startedMs: x.scheduledMs });
      const got = await Promise.all([1000, 2000, 3000].map((ms, i) => store.claim('n1', s.leaseNumeric, revs[i]!, run(f(ms)))));
      expect(got[1]).to.equal(null);
      expect(got[0]).to.not.equal(null);
      expect(got[2]?.revision, 'committed together').to.equal(got[0]?.revision);
      expect((await store.getFiring('7', 1000))?.firing.state).to.equal('running');
      expect((await store.getFiring('7', 2000))?.firing.node).to.equal('n2');
      expect((await store.getFiring('7', 3000))?.firing.state).to.equal('running');

      const again = await store.getFiring('7', 2000);
      expect(await store.claim('n1', '12345', again!.modRevision, run(f(2000))), 'not this node\'s lease').to.equal(null);
    } finally {
      await s.close();
      h.close();
    }
  });

  it('outcomes: a firing taken back fails alone; the others are written', async () => {
    const { handle: h } = await freshEtcd();
    try {
      const store = new NodeFirings(h);
      const f = (ms: number) => running('8', ms);
      const revs: number[] = [];
      for (const ms of [1000, 2000, 3000]) revs.push(Number((await h.ns.put(K.firing('8', ms)).value(JSON.stringify(f(ms))).exec()).header.revision));
      await h.ns.put(K.firing('8', 3000)).value(JSON.stringify({ ...f(3000), node: 'n2' }));
      const run = (ms: number) => succeeded('8', ms);
      const ok = await Promise.all([1000, 2000, 3000].map((ms, i) => store.complete('n1', revs[i]!, f(ms), run(ms), null)));
      expect(ok).to.deep.equal(['ok', 'ok', 'stale']);
      expect(await store.getFiring('8', 1000)).to.equal(null);
      expect(await store.getFiring('8', 2000)).to.equal(null);
      expect((await store.getFiring('8', 3000))?.firing.node).to.equal('n2');
      expect(await h.ns.get(K.run('8', 2000, 1)).string()).to.be.a('string');
      expect(await h.ns.get(K.run('8', 3000, 1)).string()).to.equal(null);
    } finally {
      h.close();
    }
  });

  it("a late outcome: written over the leader's lost record, saying it came late; never over another outcome; the same one again is 'same'", async () => {
    const { handle: h } = await freshEtcd();
    const store = new NodeFirings(h);
    const lost = { ...succeeded('9', 5000), state: 'lost', endedMs: 9000, message: 'node n1 lost (lease expired)' } as Run;
    await h.ns.put(K.run('9', 5000, 1)).value(JSON.stringify(lost));
    expect(await store.recordLate(succeeded('9', 5000))).to.equal('ok');
    const got = JSON.parse((await h.ns.get(K.run('9', 5000, 1)).string())!) as Run;
    expect(got.state).to.equal('succeeded');
    expect(got.message).to.equal('recorded late: the leader had presumed this attempt lost (node n1 lost (lease expired))');
    expect(await store.recordLate(succeeded('9', 5000)), 'the same outcome again').to.equal('same');
    expect(await store.recordLate(succeeded('9', 5000, { state: 'failed', endedMs: 7 })), 'another outcome').to.equal('stale');
    expect(await store.recordLate(succeeded('9', 6000)), 'no record yet').to.equal('ok');
    expect(JSON.parse((await h.ns.get(K.run('9', 6000, 1)).string())!).message).to.equal(undefined);
  });

  it('leader transitions: a stale firing in a pack is left out and the rest commit together; a lost fence says fenced', async () => {
    const { handle: h } = await freshEtcd();
    try {
      const store = new LeaderFirings(h);
      const fenceKey = 'election/test';
      const fence = { key: fenceKey, createRevision: Number((await h.ns.put(fenceKey).value('n1').exec()).header.revision) };
      const f = (ms: number): Firing => ({ taskId: '9', tenant: 'default', scheduledMs: ms, attempt: 1, trigger: 'schedule', state: 'assigned', dueMs: ms, node: 'n1', lease: 'L1' });
      const prevs: { firing: Firing; modRevision: number }[] = [];
      for (const ms of [1000, 2000, 3000, 4000]) prevs.push({ firing: f(ms), modRevision: Number((await h.ns.put(K.firing('9', ms)).value(JSON.stringify(f(ms))).exec()).header.revision) });
      await h.ns.put(K.firing('9', 2000)).value(JSON.stringify({ ...f(2000), state: 'running' })); // claimed meanwhile
      const moved = (x: Firing): Firing => ({ ...x, node: 'n2', lease: 'L2' });
      const res = await store.transitionMany(fence, prevs.map((p) => ({ prev: p, next: moved(p.firing), runs: [] })));
      expect(res).to.deep.equal(['ok', 'stale', 'ok', 'ok']);
      const revs = await Promise.all([1000, 3000, 4000].map(async (ms) => (await store.getFiring('9', ms))!));
      expect(revs.map((x) => x.firing.node)).to.deep.equal(['n2', 'n2', 'n2']);
      expect(new Set(revs.map((x) => x.modRevision)).size, 'one transaction').to.equal(1);
      expect((await store.getFiring('9', 2000))?.firing.state).to.equal('running');
      expect(await h.ns.get(K.assignment('n2', '9', 3000)).string()).to.be.a('string');

      await h.ns.delete().key(fenceKey);
      await h.ns.put(fenceKey).value('n3'); // another leader's key, a later create revision
      const again = await store.getFiring('9', 1000);
      expect(await store.transitionMany(fence, [{ prev: again!, next: null, runs: [] }])).to.deep.equal(['fenced']);
      expect(await store.getFiring('9', 1000)).to.not.equal(null);
    } finally {
      h.close();
    }
  });

  it('plans: a stale cursor in a batch fails alone and the other plans commit together; a lost fence says so (null)', async () => {
    const { handle: h } = await freshEtcd();
    try {
      const store = new LeaderFirings(h);
      const fenceKey = 'election/plans';
      const fence = { key: fenceKey, createRevision: Number((await h.ns.put(fenceKey).value('n1').exec()).header.revision) };
      const firing = (task: string, ms: number): Firing => ({ taskId: task, tenant: 'default', scheduledMs: ms, attempt: 1, trigger: 'schedule', state: 'assigned', dueMs: ms, node: 'n1', lease: 'L1' });
      const cursorRev: Record<string, number> = {};
      for (const t of ['21', '22', '23']) cursorRev[t] = Number((await h.ns.put(K.cursor(t)).value('0').exec()).header.revision);
      await h.ns.put(K.cursor('22')).value('500').exec(); // moved by someone else since it was read
      const plan = (t: string): FiringPlan => ({ taskId: t, cursor: { expectRev: cursorRev[t]!, toMs: 1000 }, firings: [firing(t, 1000)], skipped: [], kills: [] });
      const res = await store.writePlans(fence, ['21', '22', '23'].map(plan));
      expect(res?.map((r) => [r.plan.taskId, r.ok])).to.deep.equal([['21', true], ['22', false], ['23', true]]);
      expect(res![0]!.revision, 'one transaction').to.equal(res![2]!.revision);
      expect(await h.ns.get(K.cursor('21')).string()).to.equal('1000');
      expect(await h.ns.get(K.cursor('22')).string()).to.equal('500');
      expect(await store.getFiring('22', 1000)).to.equal(null);
      expect((await store.getFiring('23', 1000))?.firing.node).to.equal('n1');

      await h.ns.delete().key(fenceKey);
      await h.ns.put(fenceKey).value('n3');
      const rev = Number((await h.ns.get(K.cursor('21')).exec()).kvs[0]!.mod_revision);
      expect(await store.writePlans(fence, [{ ...plan('21'), cursor: { expectRev: rev, toMs: 2000 }, firings: [firing('21', 2000)] }])).to.equal(null);
      expect(await store.getFiring('21', 2000)).to.equal(null);
    } finally {
      h.close();
    }
  });

  it("etcd's op limit: probed (1,024 on a member Rota starts, 128 on one without the flag); outcomes pack up to it", async () => {
    const { handle: h } = await freshEtcd();
    const dir = mkdtempSync(join(tmpdir(), 'rota-etcd-128-'));
    const plain = await startEtcdProcess({ dataDir: dir, clientPort: await freePort(), peerPort: await freePort(), name: 'plain', maxTxnOps: 128 });
    const h128 = connectEtcd({ endpoints: [plain.endpoint], prefix: '/p/' });
    try {
      expect(await probeTxnLimit(h)).to.equal(1024);
      expect(await probeTxnLimit(h128)).to.equal(128);

      // 200 outcomes at once (3 operations each): one transaction under 1,024, five (of 42) under 128.
      for (const [handle, limit, txns] of [[h, 1024, 1], [h128, 128, 5]] as const) {
        handle.maxTxnOps = limit;
        const store = new NodeFirings(handle);
        const f = (ms: number) => running('9', ms);
        const run = (ms: number) => succeeded('9', ms);
        const ms = Array.from({ length: 200 }, (_, i) => (i + 1) * 1000);
        const revs = await Promise.all(ms.map(async (m) => Number((await handle.ns.put(K.firing('9', m)).value(JSON.stringify(f(m))).exec()).header.revision)));
        let commits = 0;
        const txn = handle.ns.if.bind(handle.ns);
        handle.ns.if = ((...a: Parameters<typeof txn>) => (commits++, txn(...a))) as typeof txn;
        const ok = await Promise.all(ms.map((m, i) => store.complete('n1', revs[i]!, f(m), run(m), null)));
        expect(ok.every((r) => r === 'ok')).to.equal(true);
        expect(commits, `transactions under ${limit}`).to.equal(txns);
        expect((await handle.ns.getAll().prefix(K.runs).keys()).length).to.equal(200);
      }
    } finally {
      h128.close();
      h.close();
      await plain.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('outcomes whose run records carry large output tails go in packs under etcd\'s request size limit', async () => {
    const { handle: h } = await freshEtcd();
    try {
      h.maxTxnOps = await probeTxnLimit(h);
      const store = new NodeFirings(h);
      const f = (ms: number) => running('10', ms);
      // Eight records of 300 KB: 2.4 MB together, over etcd's 1.5 MiB request limit.
      const tail = 'x'.repeat(300_000);
      const run = (ms: number) => succeeded('10', ms, { outputTail: tail });
      const ms = Array.from({ length: 8 }, (_, i) => (i + 1) * 1000);
      const revs = await Promise.all(ms.map(async (m) => Number((await h.ns.put(K.firing('10', m)).value(JSON.stringify(f(m))).exec()).header.revision)));
      const ok = await Promise.all(ms.map((m, i) => store.complete('n1', revs[i]!, f(m), run(m), null)));
      expect(ok).to.deep.equal(ms.map(() => 'ok'));
      expect((await h.ns.getAll().prefix(K.taskRuns('10')).keys()).length).to.equal(8);
    } finally {
      h.close();
    }
  });
});

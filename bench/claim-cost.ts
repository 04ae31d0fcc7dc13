/**
 * What one instant's claims cost (protocol v2): N planned firings claimed at once by one node
 * against a 3-member etcd on this machine, batched as the agent batches them; the time from
 * submitting to the last answer. Also the same N as protocol 1's claims of assignments.
 *   node dist/bench/claim-cost.js [--n 333] [--rounds 5]
 */
import { parseArgs } from 'node:util';
import { EtcdCluster } from '../test/support/cluster.js';
import { connectEtcd, probeTxnLimit } from '../src/store/etcd.js';
import { PlanStore } from '../src/store/plan-store.js';
import { NodeFirings } from '../src/store/node-firings.js';
import { NodeSession } from '../src/store/session.js';
import { K } from '../src/store/keys.js';
import { systemClock } from '../src/domain/clock.js';
import { silentLogger } from '../src/log.js';
import { claimedFiring, type PlannedFiring } from '../src/domain/candidates.js';
import type { Firing } from '../src/domain/firing.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '333' }, rounds: { type: 'string', default: '5' } } });
const n = Number(values.n);
const rounds = Number(values.rounds);
const etcd = await EtcdCluster.start();
const h = connectEtcd({ endpoints: etcd.endpoints, prefix: '/cc/' });
try {
  h.maxTxnOps = await probeTxnLimit(h).catch(() => 128);
  const s = new NodeSession(h, systemClock, 10, silentLogger);
  await s.start({ id: 'n1', address: '127.0.0.1:1', ip: '127.0.0.1', hostname: 'h', attributes: {}, capacity: 1000, state: 'active', version: 't', startedMs: 0 });
  const revs: number[] = [];
  for (let i = 0; i < n; i++) revs.push(Number((await h.ns.put(K.task(String(i))).value(JSON.stringify({ id: String(i), tenant: 'default', name: `t${i}`, action: { http: { url: 'http://127.0.0.1:1/x' } } })).exec()).header.revision));
  const plans = new PlanStore(h);
  const firings = new NodeFirings(h);
  const v2: number[] = [];
  const v1: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const ms = 1_000_000 + r * 1000;
    const planned: PlannedFiring[] = revs.map((rev, i) => ({ taskId: String(i), tenant: 'default', scheduledMs: ms, replica: 0, trigger: 'schedule', taskRev: rev, candidates: ['n1'], lateUntilMs: ms + 60_000 }));
    let t0 = performance.now();
    const got = await Promise.all(planned.map((p) => plans.claim('n1', s.leaseNumeric, p, claimedFiring(p, 'n1', s.leaseId, ms))));
    v2.push(performance.now() - t0);
    if (got.some((g) => !g)) throw new Error('a v2 claim failed');
    // Protocol 1: assignments written first, then claimed by their revisions.
    const ms1 = ms + 500;
    const assigned: { f: Firing; rev: number }[] = [];
    for (let i = 0; i < n; i++) {
      const f: Firing = { taskId: String(i), tenant: 'default', scheduledMs: ms1, attempt: 1, trigger: 'schedule', state: 'assigned', node: 'n1', lease: s.leaseId, dueMs: ms1 };
      assigned.push({ f, rev: Number((await h.ns.put(K.firing(f.taskId, ms1)).value(JSON.stringify(f)).exec()).header.revision) });
    }
    t0 = performance.now();
    await Promise.all(assigned.map(({ f, rev }) => firings.claim('n1', s.leaseNumeric, rev, { ...f, state: 'running', startedMs: ms1 })));
    v1.push(performance.now() - t0);
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  console.log(`| claims at once | v2 claim (create if absent) ms, median of ${rounds} | v1 claim (of an assignment) ms |`);
  console.log('|---:|---:|---:|');
  console.log(`| ${n} | ${med(v2).toFixed(1)} | ${med(v1).toFixed(1)} |`);
  await s.close();
} finally {
  h.close();
  await etcd.stop();
}

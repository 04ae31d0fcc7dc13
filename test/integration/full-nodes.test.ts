import { expect } from 'chai';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { startNode } from '../support/node.js';
import { DEFAULTS } from '../../src/config.js';
import type { RotaNode } from '../../src/node.js';

/** Claims each node made as a candidate, by rank, from its /metrics. */
async function claimsByRank(n: RotaNode): Promise<number[]> {
  const text = await (await fetch(`http://127.0.0.1:${n.port}/metrics`)).text();
  const out = [0, 0, 0];
  for (const m of text.matchAll(/^rota_candidate_claims_total\{rank="(\d)"\} (\d+)$/gm)) out[Number(m[1])] = Number(m[2]);
  return out;
}

async function clusterClaims(nodes: RotaNode[]): Promise<number[]> {
  const per = await Promise.all(nodes.map(claimsByRank));
  return [0, 1, 2].map((r) => per.reduce((s, c) => s + c[r]!, 0));
}

/**
 * Three in-process nodes of capacity 1, each kept full by runs of 4 s started every second: a full
 * candidate passes its turn only to one that may have room. Once the nodes' readings say every one
 * is full, the first candidate claims (passing would only make each firing wait two claim steps for
 * the last one, just as full); every firing still runs once.
 */
describe('every node full (three in-process nodes, capacity 1)', function () {
  this.timeout(120_000);
  const nodes: RotaNode[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
  });

  it('the first candidate claims when every later one says it is full too; each firing runs once', async () => {
    const { endpoint, prefix } = await freshEtcd();
    for (const id of ['a', 'b', 'c']) nodes.push(await startNode(endpoint, prefix, { node: { ...DEFAULTS.node, id, capacity: 1 } }, id));
    const a = nodes[0]!;
    const me = { tenant: 'default' };
    const tasks = await Promise.all(Array.from({ length: 3 }, (_, i) => a.service.create(me, { name: `long${i}`, schedule: { cron: '* * * * * *' }, action: { process: { command: 'sleep 4' } } })));
    // Every node full, and its reading saying so (published every 2 s) seen by the others.
    await new Promise((r) => setTimeout(r, 8_000));
    const before = await clusterClaims(nodes);
    const from = Date.now();
    await new Promise((r) => setTimeout(r, 6_000));
    const after = await clusterClaims(nodes);
    const to = Date.now();
    const window = after.map((c, r) => c - before[r]!);
    const total = window.reduce((s, c) => s + c, 0);
    expect(total, `claims in the window by rank: ${window.join(' / ')}`).to.be.at.least(9);
    // Before: a full candidate passed unless it was the last, so every claim here was rank 2.
    expect(window[0]! / total, `claims by rank: ${window.join(' / ')}`).to.be.at.least(0.8);

    const runs = await waitFor(async () => {
      const all = (await Promise.all(tasks.map((t) => a.service.listRuns(me, t.id, 200)))).flatMap((p) => p.items);
      const inWindow = all.filter((r) => r.scheduledMs >= from && r.scheduledMs < to - 1_000);
      return inWindow.every((r) => r.state === 'succeeded') ? inWindow : null;
    }, 'the runs of the window ended', 30_000, 250);
    expect(runs.length).to.be.at.least(9);
    expect(new Set(runs.map((r) => `${r.taskId}/${r.scheduledMs}`)).size, 'each (task, second) once').to.equal(runs.length);
    const perSecond = new Map<number, number>();
    for (const r of runs) perSecond.set(r.scheduledMs, (perSecond.get(r.scheduledMs) ?? 0) + 1);
    expect([...perSecond.values()].every((n) => n === tasks.length), 'every task in every second').to.equal(true);
  });
});

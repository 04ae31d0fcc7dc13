import { expect } from 'chai';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { api, startNode } from '../support/node.js';
import { systemClock, type Clock } from '../../src/domain/clock.js';
import type { RotaNode } from '../../src/node.js';

/** The system clock, `aheadMs` ahead (a node whose NTP is broken), through the clock every part of a node uses. */
const ahead = (aheadMs: number): Clock => ({ ...systemClock, now: () => Date.now() + aheadMs });

/**
 * Three nodes, one whose clock runs 3 s ahead: it finds itself off from the cluster's median,
 * says so in /api/v1/nodes and /metrics, and claims nothing (it would start every firing 3 s
 * early); the other two run every firing. A node back within the threshold claims again.
 */
describe("a node whose clock is off (three in-process nodes, one clock 3 s ahead)", function () {
  this.timeout(120_000);
  const nodes: RotaNode[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
  });

  it('is flagged in /api/v1/nodes and /metrics and claims nothing; the others run every firing', async () => {
    const { endpoint, prefix } = await freshEtcd();
    nodes.push(await startNode(endpoint, prefix, {}, 'a'));
    nodes.push(await startNode(endpoint, prefix, {}, 'b'));
    nodes.push(await startNode(endpoint, prefix, {}, 'c', ahead(3_000)));
    const [a, , c] = nodes as [RotaNode, RotaNode, RotaNode];
    type N = { id: string; clock?: { offsetMs: number | null; skewed: boolean } };
    const listed = await waitFor(async () => {
      const items = (await api(a, 'GET', '/api/v1/nodes')).body.items as N[];
      return items.length === 3 && items.find((n) => n.id === 'c')?.clock?.skewed ? items : null;
    }, 'c flagged as skewed', 30_000, 250);
    const byId = new Map(listed.map((n) => [n.id, n.clock]));
    expect(byId.get('c')!.offsetMs).to.be.within(2_500, 3_500);
    expect(byId.get('a')!.skewed).to.equal(false);
    expect(byId.get('b')!.skewed).to.equal(false);
    expect(Math.abs(byId.get('a')!.offsetMs!)).to.be.below(500);
    expect(await (await fetch(`http://127.0.0.1:${c.port}/metrics`)).text()).to.match(/^rota_clock_skewed 1$/m);

    const me = { tenant: 'default' };
    const tasks = await Promise.all(Array.from({ length: 6 }, (_, i) => a.service.create(me, { name: `tick${i}`, schedule: { cron: '* * * * * *' }, action: { process: { command: 'true' } } })));
    const from = Math.ceil(Date.now() / 1000) * 1000 + 2_000;
    const to = from + 5_000;
    const runs = await waitFor(async () => {
      const all = (await Promise.all(tasks.map((t) => a.service.listRuns(me, t.id, 100)))).flatMap((p) => p.items);
      const window = all.filter((r) => r.scheduledMs >= from && r.scheduledMs < to);
      return window.length >= tasks.length * 5 && window.every((r) => r.state === 'succeeded') ? window : null;
    }, 'every firing of the window run', 30_000, 250);
    // Every (task, second) once, none on the node whose clock is off.
    expect(new Set(runs.map((r) => `${r.taskId}/${r.scheduledMs}`)).size).to.equal(tasks.length * 5);
    expect(runs.filter((r) => r.node === 'c').map((r) => r.id)).to.deep.equal([]);
  });
});

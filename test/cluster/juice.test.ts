import { expect } from 'chai';
import { clusterFixture } from '../support/cluster.js';
import { waitFor } from '../support/etcd.js';
import { connectEtcd } from '../../src/store/etcd.js';
import { RunStore } from '../../src/store/run-store.js';

/** Juice's placement by resources and constraints on three node processes (3 etcd members). */
describe('cluster: Juice placement by resources and constraints (3 nodes, 2 cpus / 1024 MB each)', function () {
  this.timeout(120_000);
  const f = clusterFixture(false, { node: { resources: { cpu: 2, memMb: 1024 } } });

  const juice = async (method: string, path: string, body?: unknown) => {
    const n = f.c.nodes.find((x) => x.alive)!;
    const r = await fetch(`${n.url}${path}`, { method, headers: { 'X-Tenant-Id': 'jt', ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
    return (await r.json()) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  it('a node runs only what fits beside what it runs: four 2-cpu tasks on three 2-cpu nodes, the fourth waits', async () => {
    const ids: number[] = [];
    // Each runs 5 s: long enough that the moment three run is seen before the first of them ends
    // (with 2 s a full make test once saw it only after one ended and the fourth had started).
    for (let i = 0; i < 4; i++) ids.push((await juice('POST', '/v1/tasks', { taskName: `full-${i}`, commands: 'sleep 5', resources: { cpu: 2, mem: 256 } })).data.taskId);
    const rows = async () => (await juice('GET', `/v1/tasks?taskIds=${ids.join(',')}`)).data as { taskId: number; taskStatus: number }[];
    // One listing: three running and, in the same answer, the fourth waiting (no node has 2 cpus free).
    const three = await waitFor(async () => {
      const r = await rows();
      return r.filter((x) => x.taskStatus === 1).length === 3 ? r : null;
    }, 'three running at once', 30_000, 100);
    expect(three.filter((r) => r.taskStatus === -1)).to.have.length(1);
    await waitFor(async () => (await rows()).every((r) => r.taskStatus === 2), 'all four FINISHED', 30_000, 200);
    // The runs, per node, never overlapped (each took all of its node's cpu).
    const runs = (await Promise.all(ids.map((id) => juiceRuns(id)))).flat();
    const byNode = new Map<string, { startedMs: number; endedMs: number }[]>();
    for (const r of runs) byNode.set(r.node, [...(byNode.get(r.node) ?? []), r]);
    expect(byNode.size).to.equal(3);
    for (const [node, rs] of byNode) {
      rs.sort((a, b) => a.startedMs - b.startedMs);
      for (let i = 1; i < rs.length; i++) expect(rs[i]!.startedMs, `${node}: runs overlap`).to.be.at.least(rs[i - 1]!.endedMs);
    }
  });

  it('constraints: rack_id sends a task to the nodes of that rack only', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) ids.push((await juice('POST', '/v1/tasks', { taskName: `rack-${i}`, commands: 'true', resources: { cpu: 0.1, mem: 16 }, constraints: { field: 'rack_id', values: ['r2'] } })).data.taskId);
    await waitFor(async () => ((await juice('GET', `/v1/tasks?taskIds=${ids.join(',')}`)).data as { taskStatus: number }[]).every((r) => r.taskStatus === 2), 'all FINISHED', 30_000, 200);
    const nodes = (await Promise.all(ids.map((id) => juiceRuns(id)))).flat().map((r) => r.node);
    expect(new Set(nodes)).to.deep.equal(new Set(['n2']));
  });

  /** A Juice task's run records, read from etcd (tenant jt's runs are not the native API's default tenant's). */
  async function juiceRuns(id: number): Promise<{ node: string; state: string; startedMs: number; endedMs: number }[]> {
    const h = connectEtcd({ endpoints: f.c.etcd.endpoints, prefix: '/rota/' });
    try {
      return (await new RunStore(h).allForTask(String(id))).filter((r) => r.state === 'succeeded').map((r) => ({ node: r.node!, state: r.state, startedMs: r.startedMs!, endedMs: r.endedMs! }));
    } finally {
      h.close();
    }
  }
});

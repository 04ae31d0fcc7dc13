import { expect } from 'chai';
import { randomInt } from 'node:crypto';
import { TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/etcd.js';
import { MaxSampler, ReplicaLocks, processesWithArgv } from '../support/procs.js';

interface Replica {
  replica: number;
  state: string;
  node?: string;
  pid?: number;
  runId?: string;
}

/**
 * Promise 6 and the process manager's "never two copies of a replica". The proof is a lock per
 * replica (ReplicaLocks in test/support/procs.ts): every copy holds an exclusive flock for its
 * whole life, and a copy that starts while another copy of its replica is still alive finds the
 * lock taken and records it; each test asserts no such record. Sampling the process table
 * (MaxSampler, every 50 ms) stays as a cheap second look.
 */
describe('cluster: daemon replicas (3 nodes, 3 etcd members)', function () {
  this.timeout(180_000);
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start();
  });
  after(async () => {
    await c.stop();
  });

  async function daemon(name: string): Promise<{ id: string; argv: string[]; locks: ReplicaLocks }> {
    // A unique sleep duration marks this task's processes in the real process table.
    const argv = ['sleep', `1000.${randomInt(1e9)}`];
    const locks = new ReplicaLocks();
    const r = await c.api('POST', '/api/v1/tasks', { name, schedule: { daemon: true }, replicas: 2, action: { process: { command: locks.command(argv) } }, policies: { restart: { delayMs: 200 } } });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    return { id: r.body.id, argv, locks };
  }

  async function replicas(id: string): Promise<Replica[]> {
    return (await c.api('GET', `/api/v1/tasks/${id}/replicas`)).body.items as Replica[];
  }

  async function settled(id: string, argv: string[], alive: (node: string) => boolean): Promise<Replica[]> {
    return waitFor(async () => {
      const rs = await replicas(id);
      const ok = rs.length === 2 && rs.every((r) => r.state === 'running' && r.pid && r.node && alive(r.node)) && processesWithArgv(argv).length === 2;
      return ok ? rs : null;
    }, 'both replicas running on live nodes', 60_000, 100);
  }

  it('spreads replicas, moves the replica of a SIGKILLed node elsewhere, and never runs two copies', async () => {
    const { id, argv, locks } = await daemon('spread');
    const before = await settled(id, argv, () => true);
    expect(new Set(before.map((r) => r.node)).size).to.equal(2); // spread across nodes
    const leader = await c.leader();
    const victimId = before.map((r) => r.node!).find((n) => n !== leader.id) ?? before[0]!.node!;
    const victim = c.node(victimId);
    const sampler = new MaxSampler(() => processesWithArgv(argv).length);
    await victim.kill();
    const killedAt = Date.now();
    const after = await settled(id, argv, (n) => n !== victimId);
    console.log(`      replica moved from ${victimId} to ${after.find((r) => !before.some((b) => b.node === r.node && b.replica === r.replica))?.node} in ${Date.now() - killedAt} ms`);
    expect(locks.conflicts(), 'copies that started while another copy of their replica lived').to.deep.equal([]);
    expect(sampler.stop()).to.be.at.most(2);
    await victim.start();
  });

  it('a frozen node (SIGSTOP) stops its replica before the lease expires; the leader starts it elsewhere; never two copies', async () => {
    const { id, argv, locks } = await daemon('frozen');
    const before = await settled(id, argv, () => true);
    const leader = await c.leader();
    const victimId = before.map((r) => r.node!).find((n) => n !== leader.id) ?? before[0]!.node!;
    const victim = c.node(victimId);
    const sampler = new MaxSampler(() => processesWithArgv(argv).length);
    victim.signal('SIGSTOP');
    try {
      await settled(id, argv, (n) => n !== victimId);
    } finally {
      victim.signal('SIGCONT');
    }
    // Back from the freeze: it rejoins with a new lease and does not start a second copy.
    await waitFor(async () => (await victim.api('GET', '/readyz')).status === 200, 'frozen node ready again', 30_000, 200);
    await settled(id, argv, () => true);
    expect(locks.conflicts(), 'copies that started while another copy of their replica lived').to.deep.equal([]);
    expect(sampler.stop()).to.be.at.most(2);
  });

  it('drain moves a daemon replica off the node; its output is readable through any node', async () => {
    const sleepArgv = ['sleep', `1000.${randomInt(1e9)}`];
    const locks = new ReplicaLocks();
    const r = await c.api('POST', '/api/v1/tasks', { name: 'chatty', schedule: { daemon: true }, replicas: 1, action: { process: { command: `echo hello from $ROTA_RUN_ID; ${locks.command(sleepArgv)}` } } });
    const [first] = await waitFor(async () => {
      const rs = await replicas(r.body.id);
      return rs[0]?.state === 'running' && rs[0].pid && processesWithArgv(sleepArgv).length === 1 ? rs : null;
    }, 'replica running', 30_000, 100);
    // Output of a replica on another node, asked through each of the other nodes (proxied).
    for (const asker of c.nodes.filter((n) => n.id !== first!.node && n.alive)) {
      const out = await waitFor(async () => {
        const o = await asker.api('GET', `/api/v1/tasks/${r.body.id}/replicas/0/output`);
        return o.status === 200 && /hello from/.test(o.body.output) ? o.body : null;
      }, `output via ${asker.id}`, 15_000, 200);
      expect(out.node).to.equal(first!.node);
      // The run's whole output, streamed from its node through this one; followed, it stays open while the replica runs.
      const whole = await fetch(`${asker.url}/api/v1/runs/${encodeURIComponent(out.runId)}/output`);
      expect(whole.status).to.equal(200);
      expect(whole.headers.get('x-rota-output')).to.equal('file');
      expect(whole.headers.get('x-rota-node')).to.equal(first!.node);
      expect(await whole.text()).to.equal(`hello from ${out.runId}\n`);
      const followed = await fetch(`${asker.url}/api/v1/runs/${encodeURIComponent(out.runId)}/output?follow=true`);
      const reader = followed.body!.getReader();
      expect(Buffer.from((await reader.read()).value!).toString()).to.equal(`hello from ${out.runId}\n`);
      const more = await Promise.race([reader.read().then(() => 'ended'), new Promise((r) => setTimeout(() => r('still open'), 1500))]);
      expect(more, 'a follow of a live replica ends only when it does').to.equal('still open');
      await reader.cancel();
    }
    const sampler = new MaxSampler(() => processesWithArgv(sleepArgv).length);
    await c.api('POST', `/api/v1/nodes/${first!.node}/drain`);
    const moved = await waitFor(async () => {
      const rs = await replicas(r.body.id);
      return rs[0]?.state === 'running' && rs[0].node !== first!.node && rs[0].pid && processesWithArgv(sleepArgv).length === 1 ? rs[0] : null;
    }, 'replica moved off the drained node', 30_000, 100);
    expect(moved.node).to.not.equal(first!.node);
    expect(locks.conflicts(), 'a copy that started while the drained one lived').to.deep.equal([]);
    expect(sampler.stop()).to.be.at.most(1);
    const runs = await c.api('GET', `/api/v1/tasks/${r.body.id}/runs`);
    expect(runs.body.items.some((x: { message?: string }) => /draining; moved elsewhere/.test(x.message ?? ''))).to.equal(true);
    await c.api('POST', `/api/v1/nodes/${first!.node}/undrain`);
    await c.api('DELETE', `/api/v1/tasks/${r.body.id}`);
  });

  it('restarts one replica (its run killed, the next attempt started at once) while the other goes on', async () => {
    const r = await c.api('POST', '/api/v1/tasks', { name: 'two-replicas', schedule: { daemon: true }, replicas: 2, action: { process: { command: `sleep 1000.${randomInt(1e9)}` } } });
    const before = await waitFor(async () => {
      const rs = await replicas(r.body.id);
      return rs.length === 2 && rs.every((x) => x.state === 'running' && x.pid) ? rs : null;
    }, 'both replicas running', 30_000, 100);
    const asked = await c.api('POST', `/api/v1/tasks/${r.body.id}/replicas/1/restart`);
    expect(asked.status, JSON.stringify(asked.body)).to.equal(202);
    expect(asked.body.runId).to.equal(before[1]!.runId);
    const after = await waitFor(async () => {
      const rs = await replicas(r.body.id);
      return rs[1]?.state === 'running' && rs[1].pid && rs[1].runId !== before[1]!.runId ? rs : null;
    }, 'replica 1 started again', 30_000, 100);
    expect(after[0]!.runId, 'replica 0 goes on').to.equal(before[0]!.runId);
    expect(after[0]!.pid).to.equal(before[0]!.pid);
    const old = (await c.api('GET', `/api/v1/runs/${encodeURIComponent(before[1]!.runId!)}`)).body;
    expect(old.state).to.equal('killed');
    expect(old.message).to.equal('restarted by request (this replica only)');
    expect(after[1]!.runId, 'the same firing, next attempt').to.equal(before[1]!.runId!.replace(/-1-r1$/, '-2-r1'));
    expect((await c.api('POST', `/api/v1/tasks/${r.body.id}/replicas/2/restart`)).status).to.equal(404);
    const once = await c.api('POST', '/api/v1/tasks', { name: 'not-a-daemon', schedule: { manual: true }, action: { process: { command: 'true' } } });
    expect((await c.api('POST', `/api/v1/tasks/${once.body.id}/replicas/0/restart`)).body.error.code).to.equal('INVALID_STATE');
    await c.api('DELETE', `/api/v1/tasks/${r.body.id}`);
  });

  it("a run's output followed through another node: the answer begins at once, though the run writes nothing for 6 s", async () => {
    const r = await c.api('POST', '/api/v1/tasks', { name: 'quiet-start', schedule: { manual: true }, action: { process: { command: 'sleep 6; echo late line' } } });
    const { runId } = (await c.api('POST', `/api/v1/tasks/${r.body.id}/trigger`)).body;
    const run = await waitFor(async () => {
      const x = (await c.api('GET', `/api/v1/runs/${runId}`)).body;
      return x.state === 'running' && x.node ? x : null;
    }, 'the run started', 15_000, 50);
    const other = c.nodes.find((n) => n.alive && n.id !== run.node)!;
    const res = await fetch(`${other.url}/api/v1/runs/${runId}/output?follow=true`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('x-rota-node')).to.equal(run.node);
    expect(await res.text()).to.equal('late line\n');
    expect((await c.api('GET', `/api/v1/runs/${runId}`)).body.state).to.equal('succeeded');
  });

  it('stopping the task (delete) leaves no process behind, children included', async () => {
    const marker = `1000.${randomInt(1e9)}`;
    const r = await c.api('POST', '/api/v1/tasks', { name: 'kids', schedule: { daemon: true }, replicas: 2, action: { process: { command: `sleep ${marker} & sleep ${marker} & wait` } } });
    await waitFor(() => processesWithArgv(['sleep', marker]).length === 4, 'four children running', 30_000, 100);
    await c.api('DELETE', `/api/v1/tasks/${r.body.id}`);
    await waitFor(() => processesWithArgv(['sleep', marker]).length === 0, 'every process gone', 30_000, 100);
  });
});

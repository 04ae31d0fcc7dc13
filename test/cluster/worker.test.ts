import { expect } from 'chai';
import { clusterFixture } from '../support/cluster.js';
import { waitFor } from '../support/etcd.js';

/** Promises 3 and 5: a worker dying mid-run, and draining a worker. */
describe('cluster: workers (3 nodes, 3 etcd members)', function () {
  this.timeout(120_000);
  const f = clusterFixture();

  it('a worker SIGKILLed mid-run: the run is marked lost and retried on another node, all in the history', async () => {
    const { c } = f;
    const leader = await c.leader();
    const t = await c.api('POST', '/api/v1/tasks', {
      name: 'long',
      schedule: { manual: true },
      action: { process: { command: 'sleep 3; echo finished' } },
      placement: { excludeNodes: [leader.id] },
      policies: { onLost: 'retry' },
    });
    const trig = await c.api('POST', `/api/v1/tasks/${t.body.id}/trigger`);
    const first = await waitFor(async () => {
      const r = await c.api('GET', `/api/v1/runs/${trig.body.runId}`);
      return r.body.state === 'running' ? r.body : null;
    }, 'first attempt running');
    const victim = c.node(first.node);
    await victim.kill();
    const runs = await waitFor(async () => {
      const r = await c.api('GET', `/api/v1/tasks/${t.body.id}/runs`);
      const items = r.body.items as { attempt: number; state: string; node: string; trigger: string; message?: string }[];
      return items.some((x) => x.attempt === 2 && x.state === 'succeeded') ? items : null;
    }, 'the retry succeeded', 60_000, 200);
    const lost = runs.find((x) => x.attempt === 1)!;
    const retry = runs.find((x) => x.attempt === 2)!;
    expect(lost.state).to.equal('lost');
    expect(lost.message).to.match(/vanished/);
    expect(retry.trigger).to.equal('retry');
    expect(retry.node).to.not.equal(victim.id);
    await victim.start();
  });

  it('drain: a drained node takes no new work, its in-flight list empties, readyz says 503; undrain restores it', async () => {
    const { c, rx } = f;
    const leader = await c.leader();
    const target = c.nodes.find((n) => n.id !== leader.id && n.alive)!;
    // Something in flight on the target before the drain.
    const slow = await c.api('POST', '/api/v1/tasks', { name: 'slow', schedule: { manual: true }, action: { process: { command: 'sleep 2' } }, placement: { nodes: [target.id] } });
    const trig = await c.api('POST', `/api/v1/tasks/${slow.body.id}/trigger`);
    await waitFor(async () => (await c.api('GET', `/api/v1/runs/${trig.body.runId}`)).body.state === 'running', 'slow run running');
    const d = await c.api('POST', `/api/v1/nodes/${target.id}/drain`);
    expect(d.status).to.equal(200);
    const drainedAt = Date.now();
    const during = await c.api('GET', `/api/v1/nodes/${target.id}/inflight`);
    expect(during.body.items.map((i: { runId: string }) => i.runId)).to.include(trig.body.runId);
    await waitFor(async () => (await target.api('GET', '/readyz')).status === 503, 'target not ready while draining');
    // New work while drained: never on the target.
    const tick = await c.api('POST', '/api/v1/tasks', { name: 'tick', schedule: { every: '1s' }, action: { http: { url: rx.url } } });
    await waitFor(() => rx.forTask(tick.body.id).length >= 4, 'ticks');
    const runs = await c.api('GET', `/api/v1/tasks/${tick.body.id}/runs?limit=100`);
    const after = runs.body.items.filter((r: { startedMs?: number }) => (r.startedMs ?? 0) > drainedAt + 200);
    expect(after.length).to.be.greaterThan(0);
    expect(after.map((r: { node: string }) => r.node)).to.not.include(target.id);
    await waitFor(async () => (await c.api('GET', `/api/v1/nodes/${target.id}/inflight`)).body.items.length === 0, 'in-flight list empties');
    expect((await c.api('GET', `/api/v1/runs/${trig.body.runId}`)).body.state).to.equal('succeeded');
    const host = await c.api('GET', '/api/v1/inflight?host=127.0.0.1');
    expect(host.status).to.equal(200);
    await c.api('POST', `/api/v1/nodes/${target.id}/undrain`);
    await waitFor(async () => (await target.api('GET', '/readyz')).status === 200, 'target ready again');
    await c.api('DELETE', `/api/v1/tasks/${tick.body.id}`);
  });
});

import { expect } from 'chai';
import { clusterFixture } from '../support/cluster.js';
import { waitFor } from '../support/etcd.js';
import { expectSeriesClean, secondTasks, settle } from '../support/load.js';

/** Promises 1, 2 and 4 under a dying or frozen leader (nodes are separate processes). */
describe('cluster: leader failure (3 nodes, 3 etcd members)', function () {
  this.timeout(120_000);
  const f = clusterFixture(true);

  it('leader SIGKILL under 1-second tasks: nothing missed (caught up), nothing run twice', async () => {
    const { c, rx } = f;
    const ids = await secondTasks(c, rx, 5, 'k');
    const from = Date.now() + 1000;
    await waitFor(() => ids.every((id) => rx.forTask(id).some((h) => h.scheduledMs >= from + 2000)), 'steady firing');
    const old = await c.leader();
    await old.kill();
    const killedAt = Date.now();
    const next = await c.leader();
    expect(next.id).to.not.equal(old.id);
    const end = Date.now() + 3000;
    await settle(rx, ids, end);
    const resumed = Math.min(...ids.map((id) => Math.min(...rx.forTask(id).filter((h) => h.scheduledMs > killedAt + 500).map((h) => h.receivedMs))));
    console.log(`      leader ${old.id} killed; firings resumed after ${resumed - killedAt} ms under ${next.id}`);
    await expectSeriesClean(c, rx, ids, from, end);
  });

  it('leader frozen (SIGSTOP) past its lease, then resumed: its writes are rejected, nothing runs twice', async () => {
    const { c, rx } = f;
    const ids = await secondTasks(c, rx, 3, 'f');
    const from = Date.now() + 1000;
    const old = await c.leader();
    old.signal('SIGSTOP');
    const next = await waitFor(async () => {
      const l = await c.nodes.find((n) => n !== old)!.api('GET', '/api/v1/cluster');
      return l.body.leader && l.body.leader.id !== old.id ? l.body.leader.id : null;
    }, 'a new leader while the old one is frozen', 30_000, 200);
    // Let the new leader schedule a few seconds while the old one is still frozen.
    const frozenUntil = Date.now() + 3000;
    await settle(rx, ids, frozenUntil);
    old.signal('SIGCONT');
    // The old process comes back as a new incarnation (new lease) and does not lead.
    await waitFor(async () => {
      const r = await old.api('GET', '/api/v1/cluster');
      return r.body.leader?.id === next && r.body.self.leader === false && r.body.members.some((m: { id: string; lease: string }) => m.id === old.id);
    }, 'old leader rejoined as a follower', 30_000, 200);
    const end = Date.now() + 3000;
    await settle(rx, ids, end);
    await expectSeriesClean(c, rx, ids, from, end);
  });
});

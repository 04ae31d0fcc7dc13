import { expect } from 'chai';
import { clusterFixture } from '../support/cluster.js';
import { waitFor } from '../support/etcd.js';
import { checkSeries, secondTasks, settle } from '../support/load.js';

/** Promise 5: a graceful rolling restart of every node under load misses and repeats nothing. */
describe('cluster: rolling restart (3 nodes, 3 etcd members)', function () {
  this.timeout(180_000);
  const f = clusterFixture();

  it('restarts n1, n2, n3 one after another (SIGTERM, exit 0, start): 0 missed, 0 duplicates', async () => {
    const { c, rx } = f;
    const ids = await secondTasks(c, rx, 5, 'r');
    const from = Date.now() + 1000;
    await waitFor(() => ids.every((id) => rx.forTask(id).some((h) => h.scheduledMs >= from + 1000)), 'steady firing');
    for (const n of c.nodes) {
      const wasLeader = (await c.leader()).id === n.id;
      const code = await n.stop();
      expect(code, `${n.id} exit code`).to.equal(0);
      const stoppedAt = Date.now();
      const gap = await waitFor(() => {
        const after = rx.hits.filter((h) => h.scheduledMs > stoppedAt);
        return after.length ? Math.max(1, Math.min(...after.map((h) => h.receivedMs)) - stoppedAt) : 0;
      }, 'firings after the stop');
      console.log(`      ${n.id}${wasLeader ? ' (leader)' : ''} stopped; next firing received ${gap} ms later`);
      await n.start();
    }
    const end = Date.now() + 2000;
    await settle(rx, ids, end);
    const s = checkSeries(rx, ids, from, end);
    expect(s.missed).to.deep.equal([]);
    expect(s.duplicates).to.deep.equal([]);
    expect(s.retried).to.deep.equal([]);
  });
});

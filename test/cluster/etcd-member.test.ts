import { clusterFixture } from '../support/cluster.js';
import { waitFor } from '../support/etcd.js';
import { expectSeriesClean, secondTasks, settle } from '../support/load.js';

/** The store losing a member (possibly its raft leader) and getting it back. */
describe('cluster: etcd member failure (3 nodes, 3 etcd members)', function () {
  this.timeout(120_000);
  const f = clusterFixture();

  it('keeps scheduling while a member is SIGKILLed and after it restarts: 0 missed, 0 duplicates', async () => {
    const { c, rx } = f;
    const ids = await secondTasks(c, rx, 3, 'e');
    const from = Date.now() + 1000;
    for (const i of [0, 1]) {
      await c.etcd.kill(i);
      const killedAt = Date.now();
      await waitFor(() => rx.hits.some((h) => h.scheduledMs > killedAt + 2000), `firings after etcd member ${i + 1} died`, 30_000, 100);
      await c.etcd.startMember(i);
      const back = Date.now();
      await waitFor(() => rx.hits.some((h) => h.scheduledMs > back + 1000), 'firings after the member returned', 30_000, 100);
    }
    const end = Date.now() + 2000;
    await settle(rx, ids, end);
    await expectSeriesClean(c, rx, ids, from, end);
  });
});

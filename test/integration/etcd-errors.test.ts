import { expect } from 'chai';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { startNode } from '../support/node.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import type { RotaNode } from '../../src/node.js';
import { FiringReads } from '../../src/store/firing-reads.js';

/**
 * A node whose link to etcd drops for a moment (a TCP proxy cut, shorter than the lease): the
 * writes its run slots make meanwhile fail, and must be read back and retried, not taken for
 * "the leader took it back" (a daemon replica whose restart write failed used to stop for good).
 */
describe('etcd errors in the node (integration, link cut through a TCP proxy)', function () {
  this.timeout(60_000);
  let node: RotaNode;
  let proxy: TcpProxy;
  let firings: FiringReads;

  beforeEach(async () => {
    const { endpoint, prefix, handle } = await freshEtcd();
    firings = new FiringReads(handle);
    proxy = await new TcpProxy(Number(new URL(endpoint).port)).start();
    node = await startNode(endpoint.replace(/:\d+$/, `:${proxy.port}`), prefix);
  });
  afterEach(async () => {
    proxy.heal();
    await node.stop().catch(() => undefined);
    await proxy.stop();
  });

  it('a daemon replica restarting while the link is cut keeps restarting once it is back', async () => {
    const me = { tenant: 'default' };
    const t = await node.service.create(me, { name: 'ticker', replicas: 1, schedule: { daemon: true }, action: { process: { command: 'sleep 0.2' } }, policies: { restart: { delayMs: 100, maxBackoffMs: 200 } } });
    const restarts = async () => (await firings.getFiring(t.id, t.updatedMs))?.firing.restarts ?? 0;
    await waitFor(async () => (await restarts()) >= 2, 'the replica restarting');
    // Cut for 2 s (the lease is 5 s): the replica exits and restarts meanwhile, its writes fail.
    // The sleep is the fault's length, not a wait for an outcome: what follows polls.
    proxy.cut();
    await new Promise((r) => setTimeout(r, 2_000));
    proxy.heal();
    const after = await waitFor(async () => restarts().catch(() => 0), 'etcd reachable again', 20_000);
    await waitFor(async () => (await restarts()) >= after + 3, 'three more restarts after the cut', 20_000);
    const f = (await firings.getFiring(t.id, t.updatedMs))!.firing;
    expect(f.node).to.equal('n1');
    const runs = await node.service.listRuns(me, t.id, 100);
    const attempts = runs.items.filter((r) => r.state === 'succeeded').map((r) => r.attempt).sort((a, b) => a - b);
    expect(new Set(attempts).size, 'no attempt recorded twice').to.equal(attempts.length);
  });
});

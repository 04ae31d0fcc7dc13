import { expect } from 'chai';
import { EtcdCluster } from '../support/cluster.js';
import { connectEtcd, type EtcdHandle } from '../../src/store/etcd.js';

/**
 * A member that has lost its leader (here: the last of three, the other two killed) answers
 * "no leader" at once, because every call asks etcd to require a leader (store/etcd.ts): the
 * client then tries another member. Without it the call is held until its deadline.
 */
describe('etcd require-leader (integration, a three-member etcd with two members killed)', function () {
  this.timeout(120_000);
  let etcd: EtcdCluster;
  let h: EtcdHandle;

  before(async () => {
    etcd = await EtcdCluster.start();
  });
  after(async () => {
    h?.close();
    await etcd?.stop();
  });

  it('a call to a member without a leader fails saying "no leader", not at its deadline', async () => {
    h = connectEtcd({ endpoints: [etcd.endpoints[2]!], prefix: '/no-leader/', callTimeoutMs: 60_000 });
    await h.ns.put('k').value('v').exec();
    await etcd.kill(0);
    await etcd.kill(1);
    // The member notices the loss after its election timeout; until then a read may still be
    // answered or refused otherwise. Each try is held 60 s (the deadline) if the leader is not required.
    const errors: string[] = [];
    const until = Date.now() + 40_000;
    while (Date.now() < until) {
      const err = await h.ns.get('k').string().then(() => null, (e: Error) => e);
      if (err) errors.push(err.message);
      if (err && /no leader/.test(err.message)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(errors.at(-1), errors.join(' | ')).to.match(/no leader/);
  });
});

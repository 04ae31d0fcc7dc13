import { expect } from 'chai';
import { EtcdCluster } from '../support/cluster.js';
import { connectEtcd, type EtcdHandle } from '../../src/store/etcd.js';

/**
 * A member that has lost its leader (here: the last of three, the other two killed) answers
 * "no leader" at once, because every call asks etcd to require a leader (store/etcd.ts): the
 * client then tries another member. Without it the call is held until its deadline.
 */
describe('etcd require-leader (integration, a three-member etcd: its leader killed, then a member alone)', function () {
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

  it("etcd's leader killed: calls made through its election are retried on the members that elect the next one, none fails", async () => {
    const all = connectEtcd({ endpoints: etcd.endpoints, prefix: '/election/' });
    try {
      // Which member leads: each member's status names the leader and itself.
      const leaderIndex = await (async () => {
        for (let i = 0; i < 3; i++) {
          const one = connectEtcd({ endpoints: [etcd.endpoints[i]!], prefix: '/' });
          try {
            const s = await one.client.maintenance.status();
            if (s.leader === s.header.member_id) return i;
          } finally {
            one.close();
          }
        }
        throw new Error('no member leads');
      })();
      const failures: string[] = [];
      let done = 0;
      const until = Date.now() + 6_000;
      // Four writers, a put every 20 ms each, from before the kill until well after the election.
      const writers = [0, 1, 2, 3].map(async (w) => {
        for (let n = 0; Date.now() < until; n++) {
          await all.ns.put(`w${w}/${n}`).value('x').exec().then(() => done++, (e: Error) => failures.push(e.message));
          await new Promise((r) => setTimeout(r, 20));
        }
      });
      await new Promise((r) => setTimeout(r, 500));
      await etcd.kill(leaderIndex);
      await Promise.all(writers);
      expect(failures, failures.slice(0, 3).join(' | ')).to.deep.equal([]);
      expect(done).to.be.greaterThan(50);
      await etcd.startMember(leaderIndex); // back for the next case
    } finally {
      all.close();
    }
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

import { expect } from 'chai';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { NodeSession } from '../../src/store/session.js';
import { K } from '../../src/store/keys.js';
import { silentLogger } from '../../src/log.js';
import { systemClock, type Clock } from '../../src/domain/clock.js';

describe('store: node session (integration, real etcd)', () => {
  it('a lease given up locally (deadline passed while etcd still renews it) is revoked, freeing its keys', async () => {
    const { handle: h } = await freshEtcd();
    // A clock that can jump: what a node sees after its event loop stalled past the deadline.
    let skew = 0;
    const clock: Clock = { ...systemClock, now: () => systemClock.now() + skew };
    const s = new NodeSession(h, clock, 5, silentLogger);
    try {
      await s.start({ id: 'n1', address: '127.0.0.1:1', ip: '127.0.0.1', hostname: 'h', attributes: {}, capacity: 1, state: 'active', version: 't', startedMs: 0 });
      await h.ns.put('election/x').value('n1').lease(s.leaseNumeric).exec(); // what the election holds
      expect(s.alive()).to.equal(true);
      let lost = '';
      s.once('lost', (reason: string) => (lost = reason));
      skew = 10_000;
      expect(s.alive()).to.equal(false);
      expect(lost).to.equal('keepalive deadline passed');
      // Gone at once (revoked), not after keepalives stop: well within one TTL.
      await waitFor(async () => (await h.ns.get(K.node('n1')).string()) === null && (await h.ns.get('election/x').string()) === null, 'membership and election keys gone', 3000);
    } finally {
      await s.close();
      h.close();
    }
  });
});

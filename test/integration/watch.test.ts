import { expect } from 'chai';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { watchPrefix, type KvEvent } from '../../src/store/watch.js';
import { silentLogger } from '../../src/log.js';

describe('store: prefix watch (integration, real etcd)', () => {
  it('delivers a snapshot, then every event of a multi-key transaction (one revision, many events)', async () => {
    const { handle: h } = await freshEtcd();
    await h.ns.put('w/a').value('1').exec();
    let snapshot: string[] = [];
    const events: KvEvent[] = [];
    const w = await watchPrefix(h, 'w/', { reset: (kvs) => (snapshot = kvs.map((k) => k.key)), event: (e) => events.push(e) }, silentLogger);
    try {
      expect(snapshot).to.deep.equal(['w/a']);
      await h.ns
        .if('w/a', 'Version', '>', 0)
        .then(h.ns.put('w/b').value('2'), h.ns.put('w/c').value('3'), h.ns.delete().key('w/a'))
        .commit();
      await waitFor(() => events.length >= 3, 'three events');
      expect(events.map((e) => [e.type, e.key])).to.deep.equal([
        ['put', 'w/b'],
        ['put', 'w/c'],
        ['delete', 'w/a'],
      ]);
      expect(new Set(events.map((e) => e.modRevision)).size).to.equal(1);
    } finally {
      await w.close();
      h.close();
    }
  });

  it('pages a large prefix when listing', async () => {
    const { handle: h } = await freshEtcd();
    for (let i = 0; i < 30; i++) await h.ns.put(`p/${String(i).padStart(3, '0')}`).value('x').exec();
    const { listPrefix } = await import('../../src/store/watch.js');
    const { kvs } = await listPrefix(h, 'p/', 7);
    expect(kvs.map((k) => k.key)).to.have.length(30);
    expect(new Set(kvs.map((k) => k.key)).size).to.equal(30);
    h.close();
  });
});

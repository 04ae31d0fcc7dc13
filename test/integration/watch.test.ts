import { expect } from 'chai';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { watchPrefix, type KvEvent } from '../../src/store/watch.js';
import { silentLogger } from '../../src/log.js';
import { connectEtcd } from '../../src/store/etcd.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/** A watch through a proxy that can be cut, plus a direct handle for writing meanwhile. */
async function throughProxy() {
  const { handle: direct, endpoint, prefix } = await freshEtcd();
  const proxy = await new TcpProxy(Number(new URL(endpoint).port)).start();
  const viaProxy = connectEtcd({ endpoints: [proxy.endpoint], prefix, callTimeoutMs: 3000 });
  return { direct, proxy, viaProxy };
}

describe('store: prefix watch (integration, real etcd)', () => {
  it('ignoreDeletes: etcd sends the puts only', async () => {
    const { handle: h } = await freshEtcd();
    const events: KvEvent[] = [];
    const w = await watchPrefix(h, 'd/', { reset: () => undefined, event: (e) => events.push(e) }, silentLogger, { ignoreDeletes: true });
    try {
      await h.ns.put('d/a').value('1').exec();
      await h.ns.delete().key('d/a').exec();
      await h.ns.put('d/b').value('2').exec();
      await waitFor(() => events.some((e) => e.key === 'd/b'), 'the second put');
      expect(events.map((e) => [e.type, e.key])).to.deep.equal([
        ['put', 'd/a'],
        ['put', 'd/b'],
      ]);
    } finally {
      await w.close();
      h.close();
    }
  });

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

  it('lists the keys alone, in pages, the same keys as the full listing and none past the prefix', async () => {
    const { handle: h } = await freshEtcd();
    for (let i = 0; i < 30; i++) await h.ns.put(`p/${String(i).padStart(3, '0')}`).value('x'.repeat(100)).exec();
    await h.ns.put('p0').value('beside the prefix').exec();
    const { listKeys } = await import('../../src/store/watch.js');
    for (const size of [7, 10, 30, 1000]) {
      const keys = await listKeys(h, 'p/', size);
      expect(keys, `page size ${size}`).to.deep.equal(Array.from({ length: 30 }, (_, i) => `p/${String(i).padStart(3, '0')}`));
    }
    h.close();
  });

  it('loses no event across a reconnect (own resume revision, not the server\'s current one)', async function () {
    this.timeout(60_000);
    const { direct, proxy, viaProxy } = await throughProxy();
    const seen = new Set<string>();
    const w = await watchPrefix(viaProxy, 'r/', { reset: (kvs) => kvs.forEach((k) => seen.add(k.key)), event: (e) => e.type === 'put' && seen.add(e.key) }, silentLogger);
    try {
      await direct.ns.put('r/0000').value('x').exec();
      await waitFor(() => seen.has('r/0000'), 'first event');
      // Flap the link while writing: each reconnect's create response carries the server's
      // current revision, which etcd3 1.1.2 adopts as its resume point before the catch-up
      // events have arrived; a second cut then skips them unless we restore our own.
      let n = 0;
      for (let round = 0; round < 12; round++) {
        proxy.cut();
        for (let i = 0; i < 40; i++, n++) await direct.ns.put(`r/${String(n + 1).padStart(4, '0')}`).value('x'.repeat(200)).exec();
        proxy.heal();
        await waitFor(() => w.reconnects > round, 'a reconnect', 20_000, 5);
        await new Promise((r) => setTimeout(r, 40 + round * 15)); // varies when the next cut lands; asserts nothing
      }
      await waitFor(() => seen.size === n + 1, `all ${n + 1} keys after the reconnects`, 40_000, 100);
      expect(w.reconnects).to.be.greaterThan(0);
    } finally {
      await w.close();
      viaProxy.close();
      direct.close();
      await proxy.stop();
    }
  });

  it('re-lists and hands over a fresh snapshot when its resume revision was compacted away', async function () {
    this.timeout(60_000);
    const { direct, proxy, viaProxy } = await throughProxy();
    let state = new Map<string, string>();
    let resets = 0;
    const w = await watchPrefix(
      viaProxy,
      'c/',
      {
        reset: (kvs) => {
          resets++;
          state = new Map(kvs.map((k) => [k.key, k.value]));
        },
        event: (e) => (e.type === 'put' ? state.set(e.key, e.value) : state.delete(e.key)),
      },
      silentLogger,
    );
    try {
      await direct.ns.put('c/gone').value('1').exec();
      await waitFor(() => state.has('c/gone'), 'first event');
      proxy.cut();
      await direct.ns.delete().key('c/gone').exec();
      for (let i = 0; i < 5; i++) await direct.ns.put(`c/${i}`).value(String(i)).exec();
      const rev = Number((await direct.ns.get('c/4').exec()).header.revision);
      await direct.client.kv.compact({ revision: String(rev) });
      proxy.heal();
      await waitFor(() => resets >= 2 && state.size === 5 && !state.has('c/gone'), 'state rebuilt from a re-list', 40_000, 100);
    } finally {
      await w.close();
      viaProxy.close();
      direct.close();
      await proxy.stop();
    }
  });
});

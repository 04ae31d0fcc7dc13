import { expect } from 'chai';
import { BLOCKED_BY_FETCH, freePort } from '../../src/store/etcd-process.js';

describe('freePort: ports for test servers and etcd members', () => {
  it('leaves out the ports fetch refuses to connect to (a node on 10080 answered nothing)', async () => {
    for (const port of BLOCKED_BY_FETCH) {
      const why = await fetch(`http://127.0.0.1:${port}/`).then(
        () => 'answered',
        (e: Error & { cause?: Error }) => e.cause?.message ?? e.message,
      );
      expect(why, String(port)).to.equal('bad port');
    }
    const ports = await Promise.all(Array.from({ length: 50 }, () => freePort()));
    expect(ports.filter((p) => BLOCKED_BY_FETCH.has(p))).to.deep.equal([]);
    expect(new Set(ports).size, 'never the same port twice').to.equal(50);
  });
});

import { expect } from 'chai';
import { Batcher } from '../../src/lib/batcher.js';

describe('Batcher (group commit)', () => {
  it('items submitted while the batches are in flight go together in the next one, each gets its own result', async () => {
    const batches: number[][] = [];
    const gates: (() => void)[] = [];
    let max = 3;
    const b = new Batcher<number, number>(
      async (items) => {
        batches.push(items);
        await new Promise<void>((r) => gates.push(r));
        return items.map((x) => x * 10);
      },
      () => max,
      1,
    );
    const first = b.submit(1);
    await new Promise((r) => setImmediate(r));
    expect(batches).to.deep.equal([[1]]);
    const later = [2, 3, 4, 5].map((x) => b.submit(x));
    await new Promise((r) => setImmediate(r));
    expect(batches).to.have.length(1); // one in flight at a time: the rest wait
    gates.shift()!();
    expect(await first).to.equal(10);
    await new Promise((r) => setImmediate(r));
    expect(batches[1]).to.deep.equal([2, 3, 4]); // at most `max` per batch
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(batches[2]).to.deep.equal([5]);
    gates.shift()!();
    expect(await Promise.all(later)).to.deep.equal([20, 30, 40, 50]);
    // The limit is asked at each batch (etcd's op limit is learned after the store is made).
    max = 1;
    const more = [6, 7].map((x) => b.submit(x));
    await new Promise((r) => setImmediate(r));
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
    gates.shift()!();
    expect(await Promise.all(more)).to.deep.equal([60, 70]);
    expect(batches.slice(3)).to.deep.equal([[6], [7]]);
  });

  it('a failing batch rejects each of its submitters and later batches still run', async () => {
    let n = 0;
    const b = new Batcher<number, number>(async (items) => {
      if (n++ === 0) throw new Error('etcd down');
      return items;
    }, () => 10);
    const failed = await b.submit(1).then(
      () => null,
      (e: Error) => e.message,
    );
    expect(failed).to.equal('etcd down');
    expect(await b.submit(2)).to.equal(2);
  });
});

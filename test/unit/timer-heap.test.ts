import { expect } from 'chai';
import { TimerHeap } from '../../src/lib/timer-heap.js';

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('TimerHeap', () => {
  it('is empty at first', () => {
    const h = new TimerHeap();
    expect(h.peek()).to.equal(null);
    expect(h.size).to.equal(0);
    expect(h.takeDue(Number.MAX_SAFE_INTEGER)).to.deep.equal([]);
  });

  it('peeks the earliest due time and takes keys in due order', () => {
    const h = new TimerHeap();
    const dues: [string, number][] = [['e', 50], ['a', 10], ['d', 40], ['b', 20], ['f', 60], ['c', 30]];
    for (const [k, d] of dues) h.set(k, d);
    expect(h.size).to.equal(6);
    expect(h.peek()).to.equal(10);
    expect(h.takeDue(1_000)).to.deep.equal(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(h.size).to.equal(0);
    expect(h.peek()).to.equal(null);
  });

  it('takeDue returns only the keys due at or before now, in order, and leaves the rest', () => {
    const h = new TimerHeap();
    h.set('late', 300);
    h.set('first', 100);
    h.set('edge', 200);
    h.set('mid', 150);
    expect(h.takeDue(99)).to.deep.equal([]);
    expect(h.takeDue(200)).to.deep.equal(['first', 'mid', 'edge']);
    expect(h.size).to.equal(1);
    expect(h.peek()).to.equal(300);
    expect(h.takeDue(200)).to.deep.equal([]);
    expect(h.takeDue(300)).to.deep.equal(['late']);
  });

  it('re-scheduling a key replaces its old due time (later or earlier)', () => {
    const h = new TimerHeap();
    h.set('a', 100);
    h.set('b', 200);
    h.set('a', 300); // later: the old 100 must not fire
    expect(h.size).to.equal(2);
    expect(h.peek()).to.equal(200);
    expect(h.takeDue(250)).to.deep.equal(['b']);
    expect(h.peek()).to.equal(300);
    h.set('a', 50); // earlier
    expect(h.peek()).to.equal(50);
    expect(h.takeDue(60)).to.deep.equal(['a']);
    expect(h.peek()).to.equal(null);
    expect(h.takeDue(1_000)).to.deep.equal([]);
  });

  it('a key due again at a time it had before fires once', () => {
    const h = new TimerHeap();
    h.set('a', 100);
    h.set('a', 200);
    h.set('a', 100);
    h.set('a', 100);
    expect(h.size).to.equal(1);
    expect(h.takeDue(1_000)).to.deep.equal(['a']);
    expect(h.size).to.equal(0);
  });

  it('set(key, null) removes the key', () => {
    const h = new TimerHeap();
    h.set('a', 100);
    h.set('b', 200);
    h.set('a', null);
    expect(h.size).to.equal(1);
    expect(h.peek()).to.equal(200);
    expect(h.takeDue(1_000)).to.deep.equal(['b']);
    h.set('missing', null);
    expect(h.size).to.equal(0);
  });

  it('a removed key can be scheduled again, also at its old time', () => {
    const h = new TimerHeap();
    h.set('a', 100);
    h.set('a', null);
    h.set('a', 100);
    expect(h.takeDue(100)).to.deep.equal(['a']);
    expect(h.takeDue(100)).to.deep.equal([]);
    h.set('a', 100);
    expect(h.size).to.equal(1);
    expect(h.takeDue(100)).to.deep.equal(['a']);
  });

  it('clear empties it', () => {
    const h = new TimerHeap();
    h.set('a', 1);
    h.set('b', 2);
    h.clear();
    expect(h.size).to.equal(0);
    expect(h.peek()).to.equal(null);
    expect(h.takeDue(10)).to.deep.equal([]);
    h.set('a', 5);
    expect(h.takeDue(10)).to.deep.equal(['a']);
  });

  it('returns several keys sharing one due time', () => {
    const h = new TimerHeap();
    for (const k of ['x', 'y', 'z']) h.set(k, 100);
    h.set('w', 50);
    const out = h.takeDue(100);
    expect(out[0]).to.equal('w');
    expect([...out.slice(1)].sort()).to.deep.equal(['x', 'y', 'z']);
  });

  it('agrees with a naive model over many random operations', () => {
    for (const seed of [1, 2, 3, 42, 1234]) {
      const r = rng(seed);
      const h = new TimerHeap();
      const model = new Map<string, number>();
      let now = 0;
      for (let step = 0; step < 4_000; step++) {
        const op = r();
        const key = `k${Math.floor(r() * 40)}`;
        if (op < 0.5) {
          const due = now + Math.floor(r() * 200) - 20; // sometimes already due
          h.set(key, due);
          model.set(key, due);
        } else if (op < 0.62) {
          h.set(key, null);
          model.delete(key);
        } else if (op < 0.8) {
          const earliest = model.size ? Math.min(...model.values()) : null;
          expect(h.peek(), `seed ${seed} step ${step} peek`).to.equal(earliest);
        } else if (op < 0.97) {
          now += Math.floor(r() * 60);
          const got = h.takeDue(now);
          const want = [...model.entries()].filter(([, d]) => d <= now);
          for (const [k] of want) model.delete(k);
          // Due order; keys sharing a due time may come in any order.
          const dues = got.map((k) => want.find(([w]) => w === k)?.[1]);
          expect(dues.every((d) => d !== undefined), `seed ${seed} step ${step}: took a key not due`).to.equal(true);
          for (let i = 1; i < dues.length; i++) expect(dues[i]!, `seed ${seed} step ${step} order`).to.be.at.least(dues[i - 1]!);
          expect([...got].sort(), `seed ${seed} step ${step} takeDue`).to.deep.equal(want.map(([k]) => k).sort());
        } else {
          h.clear();
          model.clear();
        }
        expect(h.size, `seed ${seed} step ${step} size`).to.equal(model.size);
      }
      now += 1_000_000;
      const rest = h.takeDue(now);
      expect([...rest].sort()).to.deep.equal([...model.keys()].sort());
      expect(h.size).to.equal(0);
    }
  });
});

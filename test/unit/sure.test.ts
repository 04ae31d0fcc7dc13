import { expect } from 'chai';
import { sureWrite, type ReadBack } from '../../src/agent/sure.js';
import { systemClock } from '../../src/domain/clock.js';

/** A guarded write on one value in memory, with etcd's three ways of failing. */
class Cell {
  rev = 1;
  value = 'old';
  writes = 0;
  reads = 0;
  pending: (() => void) | null = null;
  unreachableReads = 0;
  constructor(public failures: ('before' | 'after' | 'later')[] = []) {}

  async write(expect: number, value: string): Promise<number | null> {
    this.writes++;
    if (this.rev !== expect) return null;
    const apply = () => {
      this.value = value;
      this.rev++;
    };
    const f = this.failures.shift();
    if (f === 'before') throw new Error('not applied');
    if (f === 'later') {
      this.pending = apply;
      throw new Error('timed out; committed after the next read');
    }
    apply();
    if (f === 'after') throw new Error('applied, reply lost');
    return this.rev;
  }

  async read(expect: number, value: string): Promise<ReadBack<number>> {
    this.reads++;
    if (this.unreachableReads > 0) {
      this.unreachableReads--;
      throw new Error('unreachable');
    }
    const seen = { rev: this.rev, value: this.value };
    this.pending?.();
    this.pending = null;
    if (seen.rev === expect) return { kind: 'unapplied' };
    return seen.value === value ? { kind: 'ours', value: seen.rev } : { kind: 'other' };
  }
}

const deps = (alive = () => true) => ({ clock: systemClock, alive, onError: () => undefined });
const sure = (c: Cell, alive?: () => boolean) => sureWrite(deps(alive), () => c.write(1, 'new'), () => c.read(1, 'new'), 1, 4);

describe('sureWrite: a guarded write whose reply may be lost', () => {
  it('written at once: one write, no read', async () => {
    const c = new Cell();
    expect(await sure(c)).to.equal(2);
    expect([c.writes, c.reads]).to.deep.equal([1, 0]);
  });

  it('refused without an error before: not ours, not read back', async () => {
    const c = new Cell();
    c.rev = 5;
    expect(await sure(c)).to.equal(null);
    expect(c.reads).to.equal(0);
  });

  it('failed before it applied: read back unapplied, written again', async () => {
    const c = new Cell(['before']);
    expect(await sure(c)).to.equal(2);
    expect(c.value).to.equal('new');
  });

  it('applied although the reply was lost: read back as ours, not written twice', async () => {
    const c = new Cell(['after']);
    expect(await sure(c)).to.equal(2);
    expect(c.writes).to.equal(1);
  });

  it('committed after it was read back unapplied: the second write is refused by its own compares, and read back as ours', async () => {
    const c = new Cell(['later']);
    expect(await sure(c)).to.equal(2);
    expect(c.writes).to.equal(2);
  });

  it('refused for real after an error (changed by someone else): not ours', async () => {
    const c = new Cell(['before']);
    const s = sureWrite(deps(), () => c.write(1, 'new'), async () => {
      c.rev = 9; // the leader took the firing back between the two writes
      c.value = 'theirs';
      return { kind: 'unapplied' };
    }, 1, 4);
    expect(await s).to.equal(null);
  });

  it('reads back through an unreachable etcd, and gives up once the lease is ending', async () => {
    const c = new Cell(['after']);
    c.unreachableReads = 3;
    expect(await sure(c)).to.equal(2);
    expect(c.reads).to.equal(4);
    const gone = new Cell(['before']);
    gone.unreachableReads = 1_000;
    let alive = 5;
    expect(await sure(gone, () => alive-- > 0)).to.equal(null);
  });
});

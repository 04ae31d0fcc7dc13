import { expect } from 'chai';
import { RunStore } from '../../src/store/run-store.js';
import { K } from '../../src/store/keys.js';

describe('which tasks the janitor prunes (RunStore.overBounds)', () => {
  const now = 1_800_000_000_000;
  const maxAge = 7 * 24 * 3600_000;
  const oldest = (ms: number) => K.run('42', ms, 1);

  it('leaves a task alone within both bounds, at the edges too', () => {
    expect(RunStore.overBounds('42', { count: 10, oldestKey: oldest(now - maxAge) }, 10, maxAge, now)).to.equal(false);
    expect(RunStore.overBounds('42', { count: 1, oldestKey: oldest(now) }, 10, maxAge, now)).to.equal(false);
  });

  it('prunes a task over the count, or with a run older than the max age', () => {
    expect(RunStore.overBounds('42', { count: 11, oldestKey: oldest(now) }, 10, maxAge, now)).to.equal(true);
    expect(RunStore.overBounds('42', { count: 1, oldestKey: oldest(now - maxAge - 1) }, 10, maxAge, now)).to.equal(true);
  });

  it('compares within the task: another task id with a shorter or longer name does not confuse it', () => {
    expect(RunStore.overBounds('4', { count: 1, oldestKey: K.run('4', now, 1) }, 10, maxAge, now)).to.equal(false);
    expect(RunStore.overBounds('420', { count: 1, oldestKey: K.run('420', now - maxAge - 1, 1) }, 10, maxAge, now)).to.equal(true);
  });
});

import { expect } from 'chai';
import {
  isLate,
  isQuickExit,
  overlapDecision,
  planMisfire,
  restartDelayMs,
  retryDelayMs,
  stillRunsWhenLate,
} from '../../src/domain/policies.js';
import type { MisfirePolicy, RestartPolicy } from '../../src/domain/task.js';

describe('retryDelayMs', () => {
  it('uses the explicit delay list, null when exhausted', () => {
    const p = { delaysMs: [100, 2_000, 30_000] };
    expect(retryDelayMs(p, 1)).to.equal(100);
    expect(retryDelayMs(p, 2)).to.equal(2_000);
    expect(retryDelayMs(p, 3)).to.equal(30_000);
    expect(retryDelayMs(p, 4)).to.equal(null);
    expect(retryDelayMs({ delaysMs: [] }, 1)).to.equal(null);
  });

  it('defaults to no retries', () => {
    expect(retryDelayMs({}, 1)).to.equal(null);
  });

  it('backs off exponentially with defaults 1s, x2, cap 5min', () => {
    const p = { max: 12 };
    expect([1, 2, 3, 4].map((n) => retryDelayMs(p, n))).to.deep.equal([1_000, 2_000, 4_000, 8_000]);
    expect(retryDelayMs(p, 9)).to.equal(256_000);
    expect(retryDelayMs(p, 10)).to.equal(300_000);
    expect(retryDelayMs(p, 12)).to.equal(300_000);
    expect(retryDelayMs(p, 13)).to.equal(null);
  });

  it('honours initialMs, factor and capMs', () => {
    const p = { max: 5, initialMs: 500, factor: 3, capMs: 10_000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(p, n))).to.deep.equal([500, 1_500, 4_500, 10_000, 10_000, null]);
    expect(retryDelayMs({ max: 2000, initialMs: 1_000 }, 2000)).to.equal(300_000);
  });

  it('rejects attempt numbers below 1', () => {
    expect(() => retryDelayMs({ max: 3 }, 0)).to.throw(RangeError);
  });
});

describe('misfire', () => {
  const policy = (mode: MisfirePolicy['mode']): MisfirePolicy => ({ mode, graceMs: 5_000, windowMs: 60_000, maxCount: 3 });

  it('isLate compares lateness with graceMs', () => {
    expect(isLate(policy('skip'), 10_000, 15_000)).to.equal(false);
    expect(isLate(policy('skip'), 10_000, 15_001)).to.equal(true);
  });

  const now = 1_000_000;
  const missed = [now - 120_000, now - 50_000, now - 40_000, now - 30_000, now - 20_000, now - 10_000];

  it('skip runs none', () => {
    expect(planMisfire(policy('skip'), missed, 10, now)).to.deep.equal({ run: [], skipped: 10 });
  });

  it('run-once runs only the newest', () => {
    expect(planMisfire(policy('run-once'), missed, 10, now)).to.deep.equal({ run: [now - 10_000], skipped: 9 });
    expect(planMisfire(policy('run-once'), [], 0, now)).to.deep.equal({ run: [], skipped: 0 });
  });

  it('run-all runs the newest maxCount within the window', () => {
    expect(planMisfire(policy('run-all'), missed, 6, now)).to.deep.equal({
      run: [now - 30_000, now - 20_000, now - 10_000],
      skipped: 3,
    });
    const roomy = { ...policy('run-all'), maxCount: 100 };
    expect(planMisfire(roomy, missed, 6, now)).to.deep.equal({ run: missed.slice(1), skipped: 1 });
    expect(planMisfire({ ...roomy, windowMs: 60_000 }, [now - 60_000], 1, now).run).to.deep.equal([now - 60_000]);
    expect(planMisfire({ ...roomy, maxCount: 0 }, missed, 6, now)).to.deep.equal({ run: [], skipped: 6 });
  });
});

describe('stillRunsWhenLate', () => {
  const policy = (mode: MisfirePolicy['mode']): MisfirePolicy => ({ mode, graceMs: 1000, windowMs: 10_000, maxCount: 5 });
  it('on time always runs; late: skip never, run-all and run-once within the window', () => {
    for (const mode of ['skip', 'run-all', 'run-once'] as const) expect(stillRunsWhenLate(policy(mode), 9_000, 10_000)).to.equal(true);
    expect(stillRunsWhenLate(policy('skip'), 8_000, 10_000)).to.equal(false);
    expect(stillRunsWhenLate(policy('run-all'), 8_000, 10_000)).to.equal(true);
    expect(stillRunsWhenLate(policy('run-once'), 0, 10_000)).to.equal(true);
    expect(stillRunsWhenLate(policy('run-all'), -1, 10_000)).to.equal(false);
  });
});

describe('overlapDecision', () => {
  it('allow always runs', () => {
    expect(overlapDecision('allow', 0)).to.equal('run');
    expect(overlapDecision('allow', 3)).to.equal('run');
  });
  it('forbid skips while a run is active', () => {
    expect(overlapDecision('forbid', 0)).to.equal('run');
    expect(overlapDecision('forbid', 1)).to.equal('skip');
  });
  it('replace replaces an active run', () => {
    expect(overlapDecision('replace', 0)).to.equal('run');
    expect(overlapDecision('replace', 2)).to.equal('replace');
  });
});

describe('daemon restarts', () => {
  const p: RestartPolicy = { delayMs: 3_000, maxBackoffMs: 60_000, resetAfterMs: 60_000 };

  it('doubles the delay per consecutive quick exit up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 50].map((n) => restartDelayMs(p, n))).to.deep.equal([
      3_000, 6_000, 12_000, 24_000, 48_000, 60_000, 60_000,
    ]);
  });

  it('counts exits before resetAfterMs as quick', () => {
    expect(isQuickExit(p, 59_999)).to.equal(true);
    expect(isQuickExit(p, 60_000)).to.equal(false);
  });
});

import { expect } from 'chai';
import { clockBounds, clockOffsetMs, midpoint, surelySkewed } from '../../src/domain/clock-skew.js';
import { claimDecision } from '../../src/domain/candidates.js';

describe("clock skew: this node's clock against the cluster's median", () => {
  it('a node 2 s ahead of two others finds itself +2 s off; each of the others finds itself on time', () => {
    expect(clockOffsetMs([-2000, -2000])).to.equal(2000);
    expect(clockOffsetMs([0, 2000])).to.equal(0);
    expect(clockOffsetMs([2, 2000])).to.equal(-2);
  });

  it('behind the others: negative; five nodes: the median of all', () => {
    expect(clockOffsetMs([1500, 1490])).to.equal(-1490);
    expect(clockOffsetMs([10, -20, 900, 5])).to.equal(-5);
  });

  it('fewer than three clocks cannot tell which one is off: no offset, never skewed', () => {
    expect(clockOffsetMs([])).to.equal(null);
    expect(clockOffsetMs([5000])).to.equal(null);
    expect(surelySkewed([clockBounds(-5000, 5000)], 500)).to.equal(false);
  });

  it('bounds from one reading each way: theirs - mine lies between minus how late theirs came and how late mine reached them', () => {
    // Their clock 2 s ahead, 10 ms each way: theirs came -1,990 ms "late" by my clock, mine 2,010 ms late by theirs.
    const b = clockBounds(-2000 + 10, 2000 + 10);
    expect(b).to.deep.equal({ loMs: 1990, hiMs: 2010 });
    expect(midpoint(b)).to.equal(2000);
  });

  it('surely skewed beyond the threshold either way, with quick deliveries', () => {
    // Me 2 s ahead of two others (10 ms each way): theirs - mine is about -2 s.
    const behind = clockBounds(2000 + 10, -2000 + 10);
    expect(surelySkewed([behind, behind], 500)).to.equal(true);
    expect(clockOffsetMs([midpoint(behind), midpoint(behind)])).to.equal(2000);
    // Me 2 s behind.
    const ahead = clockBounds(-2000 + 10, 2000 + 10);
    expect(surelySkewed([ahead, ahead], 500)).to.equal(true);
    // One of the others is the one off: the median is on time.
    expect(surelySkewed([ahead, clockBounds(10, 10)], 500)).to.equal(false);
  });

  it('slow deliveries are not a clock that is off: same clocks, their writes 1.4 s late, mine 20 ms', () => {
    // The former one-way estimate said 1.4 s off here (under 2,000 firings/s every node in turn did).
    const slow = clockBounds(1400, 20);
    expect(surelySkewed([slow, slow], 500)).to.equal(false);
    expect(surelySkewed([clockBounds(20, 1400), clockBounds(20, 1400)], 500)).to.equal(false);
  });

  it('a skewed candidate claims nothing, not even as the last candidate', () => {
    const p = { taskId: '1', tenant: 'default', scheduledMs: 1000, replica: 0, trigger: 'schedule' as const, taskRev: 1, candidates: ['a', 'b'], lateUntilMs: 60_000 };
    const me = { nodeId: 'b', alive: true, draining: false, inflight: 0, capacity: 10 };
    expect(claimDecision(p, me, 1000)).to.equal('claim');
    expect(claimDecision(p, { ...me, skewed: true }, 1000)).to.equal('pass');
  });
});

import { expect } from 'chai';
import { clockOffsetMs, clockSkewed } from '../../src/domain/clock-skew.js';
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
    expect(clockSkewed(null, 500)).to.equal(false);
  });

  it('skewed beyond the threshold either way', () => {
    expect(clockSkewed(501, 500)).to.equal(true);
    expect(clockSkewed(-501, 500)).to.equal(true);
    expect(clockSkewed(500, 500)).to.equal(false);
  });

  it('a skewed candidate claims nothing, not even as the last candidate', () => {
    const p = { taskId: '1', tenant: 'default', scheduledMs: 1000, replica: 0, trigger: 'schedule' as const, taskRev: 1, candidates: ['a', 'b'], lateUntilMs: 60_000 };
    const me = { nodeId: 'b', alive: true, draining: false, inflight: 0, capacity: 10 };
    expect(claimDecision(p, me, 1000)).to.equal('claim');
    expect(claimDecision(p, { ...me, skewed: true }, 1000)).to.equal('pass');
  });
});

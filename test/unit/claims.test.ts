import { expect } from 'chai';
import { maxSilent, silentLeases } from '../../src/domain/claims.js';
import { ClaimWatch } from '../../src/scheduler/claim-watch.js';
import type { Firing } from '../../src/domain/firing.js';

const live = new Set(['A', 'B', 'C']);
const none = new Map<string, number>();

describe('silent nodes (domain/claims.ts)', () => {
  it('a lease is silent once an assignment has waited the deadline with no claim by its node since', () => {
    const u = [{ lease: 'A', sinceMs: 1000 }];
    expect([...silentLeases(u, none, none, live, 1999, 1000).keys()]).to.deep.equal([]);
    expect([...silentLeases(u, none, none, live, 2000, 1000)]).to.deep.equal([['A', 2000]]);
    // A claim before the assignment says nothing of it; one after it says the node works (slow, in order).
    expect([...silentLeases(u, new Map([['A', 999]]), none, live, 5000, 1000).keys()]).to.deep.equal(['A']);
    expect([...silentLeases(u, new Map([['A', 1500]]), none, live, 5000, 1000).keys()]).to.deep.equal([]);
  });

  it('stays silent (no new work) until the node claims again or the hold passes', () => {
    const since = new Map([['A', 2000]]);
    expect([...silentLeases([], none, since, live, 11_999, 1000, 10_000)]).to.deep.equal([['A', 2000]]);
    expect([...silentLeases([], none, since, live, 12_000, 1000, 10_000)]).to.deep.equal([]);
    expect([...silentLeases([], new Map([['A', 2500]]), since, live, 3000, 1000, 10_000)]).to.deep.equal([]);
  });

  it('ignores leases that are gone, and calls at most a minority silent (one of two), those silent longest', () => {
    expect(silentLeases([{ lease: 'Z', sinceMs: 0 }], none, none, live, 5000, 1000).size).to.equal(0);
    const waits = [{ lease: 'B', sinceMs: 300 }, { lease: 'C', sinceMs: 100 }, { lease: 'A', sinceMs: 200 }];
    expect([...silentLeases(waits, none, none, live, 5000, 1000).keys()], 'one of three: the longest waiting').to.deep.equal(['C']);
    expect([...silentLeases(waits, none, new Map([['B', 4000]]), live, 5000, 1000).keys()], 'one already silent stays so').to.deep.equal(['B']);
    expect([...silentLeases(waits, none, none, new Set(['A', 'B']), 5000, 1000).keys()], 'one of two').to.deep.equal(['A']);
    expect(silentLeases(waits, none, none, new Set(['A']), 5000, 1000).size, 'never the only one').to.equal(0);
    const five = new Set(['A', 'B', 'C', 'D', 'E']);
    expect(silentLeases([...waits, { lease: 'D', sinceMs: 0 }], none, none, five, 5000, 1000).size, 'two of five').to.equal(2);
    expect([0, 1, 2, 3, 4, 5, 7].map(maxSilent)).to.deep.equal([0, 0, 1, 1, 1, 2, 3]);
  });
});

describe('ClaimWatch', () => {
  const f = (state: Firing['state'], lease?: string): Firing => ({ taskId: 't', tenant: 'x', scheduledMs: 1, attempt: 1, trigger: 'schedule', state, dueMs: 1, ...(lease ? { node: 'n' + lease, lease } : {}) }) as Firing;

  it('tracks assignments until claimed or moved, and each lease\'s last claim, from the firings as they change', () => {
    const w = new ClaimWatch(1000);
    w.changed('k1', undefined, f('assigned', 'A'), 100);
    w.changed('k2', undefined, f('assigned', 'B'), 200);
    expect(w.nextCheckMs(0)).to.equal(1100);
    w.changed('k2', f('assigned', 'B'), f('running', 'B'), 300); // B claims
    expect(w.silentNow(live, 1300).silent).to.deep.equal(new Set(['A']));
    w.changed('k3', undefined, f('assigned', 'C'), 1200);
    w.changed('k4', undefined, f('assigned', 'B'), 1250);
    w.changed('k4', f('assigned', 'B'), f('running', 'B'), 1260);
    expect(w.nextCheckMs(0)).to.equal(2200);
    expect(w.silentNow(live, 2200).silent, 'A stays; C would be a second of three').to.deep.equal(new Set(['A']));
    expect(w.silentNow(new Set(['A', 'B', 'C', 'D', 'E']), 2200).silent, 'two of five').to.deep.equal(new Set(['A', 'C']));
    w.changed('k3', f('assigned', 'C'), undefined, 2300);
    expect(w.silentNow(live, 2400).fresh, 'reported once').to.deep.equal([]);
    expect(w.waitingOn('A')).to.deep.equal(['k1']);
    expect(w.nextCheckMs(0), 'a silent lease\'s assignments need no more checks').to.equal(null);
    w.changed('k1', f('assigned', 'A'), f('assigned', 'B'), 1500); // moved to B: waits on B from now
    expect(w.waitingOn('A')).to.deep.equal([]);
    expect(w.nextCheckMs(0)).to.equal(2500);
    w.changed('k1', f('assigned', 'B'), undefined, 1600);
    expect(w.nextCheckMs(0)).to.equal(null);
  });

  it('after a reset every assignment waits from then; a deadline looked at without finding its node silent is not looked at again', () => {
    const w = new ClaimWatch(1000);
    w.reset([['k', f('assigned', 'C')], ['r', f('running', 'A')]], 5000);
    expect(w.waitingOn('C')).to.deep.equal(['k']);
    expect(w.nextCheckMs(0)).to.equal(6000);
    expect(w.silentNow(new Set(['C']), 6000).silent.size, 'the only node is never silent').to.equal(0);
    expect(w.nextCheckMs(0)).to.equal(null);
  });

  it('waits longer when claims are slow: twice the slowest recent claim, from 1 s up to 4 s, the slowness fading', () => {
    const w = new ClaimWatch(1000);
    w.changed('a', undefined, f('assigned', 'A'), 0);
    w.changed('a', f('assigned', 'A'), f('running', 'A'), 1200); // A's claim took 1.2 s: overloaded, not dead
    expect(w.deadlineMs(1200)).to.equal(2400);
    w.changed('b', undefined, f('assigned', 'B'), 1300);
    expect(w.nextCheckMs(1300)).to.be.closeTo(1300 + 2400 * 0.5 ** (100 / 10_000), 1);
    expect(w.silentNow(live, 2500).silent.size, 'B has waited 1.2 s, under the stretched deadline').to.equal(0);
    expect(w.silentNow(live, 3800).silent, 'and is silent past it').to.deep.equal(new Set(['B']));
    expect(w.deadlineMs(1200 + 10_000), 'half as slow ten seconds on').to.equal(1200);
    expect(w.deadlineMs(1200 + 60_000), 'never under the floor').to.equal(1000);
    w.changed('c', undefined, f('assigned', 'C'), 70_000);
    w.changed('c', f('assigned', 'C'), f('running', 'C'), 79_000);
    expect(w.deadlineMs(79_000), 'never over 4 s').to.equal(4000);
  });

  it('a node that never claims does not stretch the deadline that finds it', () => {
    const w = new ClaimWatch(1000);
    w.changed('a', undefined, f('assigned', 'A'), 0);
    w.changed('a', f('assigned', 'A'), undefined, 5000); // moved away unclaimed, then deleted
    expect(w.deadlineMs(5000)).to.equal(1000);
  });
});

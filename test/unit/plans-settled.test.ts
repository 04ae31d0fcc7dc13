import { expect } from 'chai';
import { Backstop } from '../../src/scheduler/backstop.js';
import { TaskPlanning } from '../../src/scheduler/task-planning.js';
import { Unsettled, type LeaderState } from '../../src/scheduler/leader-state.js';
import { LeaderWork } from '../../src/scheduler/work.js';
import { ClusterView } from '../../src/scheduler/cluster-view.js';
import { Metrics } from '../../src/metrics.js';
import { silentLogger } from '../../src/log.js';
import { K } from '../../src/store/keys.js';
import type { PlannedFiring } from '../../src/domain/candidates.js';
import type { CandidatePlan } from '../../src/store/plan-store.js';

const planned = (taskId: string, ms: number): PlannedFiring => ({ taskId, tenant: 'default', scheduledMs: ms, replica: 0, trigger: 'schedule', taskRev: 1, candidates: ['a', 'b'], lateUntilMs: ms + 60_000 });

/**
 * The leader's mark on the plans (backstop.ts settle): the earliest instant it has not settled.
 * A leader state with its stores faked: `stored` holds what the plan store was asked to keep.
 */
function leaderState(nowMs: number, writePlans: (plans: CandidatePlan[]) => Promise<unknown>) {
  const marks: number[] = [];
  const time = { now: nowMs };
  const s = {
    candidates: { enabled: true, horizonMs: 20_000, strideMs: 5_000, stepMs: 250 },
    unsettled: new Unsettled(),
    planned: new Map<string, PlannedFiring>(),
    work: new LeaderWork(),
    view: new ClusterView(() => time.now),
    metrics: new Metrics(),
    log: silentLogger,
    fence: { key: 'election/x', createRevision: 1 },
    clock: { now: () => time.now },
    fenced: () => undefined,
    plans: {
      settled: async () => null,
      list: async () => ({ planned: [], revision: 1 }),
      settle: async (_fence: unknown, ms: number) => (marks.push(ms), 'ok'),
      writePlans: async (_fence: unknown, plans: CandidatePlan[]) => writePlans(plans),
    },
  };
  return { s, time, state: s as unknown as LeaderState, marks };
}

describe("the leader's mark on the plans", () => {
  it('is the earliest planned instant not seen claimed, now when there is none; it only moves forward, once a second', async () => {
    const { s, time, state, marks } = leaderState(10_000, async () => []);
    const b = new Backstop(state);
    await b.settle(time.now);
    expect(marks, 'not before this leader has read the stored plans').to.deep.equal([]);
    await b.load(() => undefined);
    s.planned.set(K.firingId('1', 9_000), planned('1', 9_000));
    s.planned.set(K.firingId('2', 12_000), planned('2', 12_000));
    await b.settle(time.now);
    expect(marks).to.deep.equal([9_000]);
    b.claimed(K.firingId('1', 9_000), 'a');
    time.now = 10_500;
    await b.settle(time.now);
    expect(marks, 'not again within the second').to.deep.equal([9_000]);
    time.now = 11_000;
    await b.settle(time.now);
    expect(marks, 'the claimed one settled: up to now (the other is ahead)').to.deep.equal([9_000, 11_000]);
    // A backstop look or a plan write in flight holds the mark at its earliest instant.
    const release = s.unsettled.hold(11_500);
    time.now = 13_000;
    await b.settle(time.now);
    expect(marks).to.deep.equal([9_000, 11_000, 11_500]);
    s.planned.clear();
    time.now = 14_000;
    await b.settle(time.now);
    expect(marks, 'still held at 11.5 s').to.deep.equal([9_000, 11_000, 11_500]);
    release();
    time.now = 15_000;
    await b.settle(time.now);
    expect(marks).to.deep.equal([9_000, 11_000, 11_500, 15_000]);
  });

  it('stays before the instants of a plan write that failed, for as long as this node leads: some of its chunks may be stored unknown to it', async () => {
    let fail = true;
    const { s, state } = leaderState(10_000, async (plans) => {
      if (fail) throw new Error('etcdserver: request timed out');
      return plans.map((plan) => ({ plan, ok: true, revision: 5 }));
    });
    const planning = new TaskPlanning(state, 1_500) as unknown as { writeCandidates(plans: CandidatePlan[]): Promise<boolean> };
    const plan = (taskId: string, instants: number[]): CandidatePlan => ({ taskId, cursor: { expectRev: 1, toMs: Math.max(...instants) }, planned: instants.map((ms) => planned(taskId, ms)), skipped: [] });
    let thrown = '';
    await planning.writeCandidates([plan('1', [30_000, 31_000]), plan('2', [29_000])]).catch((e: Error) => (thrown = e.message));
    expect(thrown).to.match(/timed out/);
    expect(s.unsettled.min(), 'held at the earliest instant of the failed write').to.equal(29_000);
    fail = false;
    expect(await planning.writeCandidates([plan('3', [40_000])])).to.equal(true);
    expect(s.unsettled.min(), 'a write that committed holds nothing after it; the failed one still holds').to.equal(29_000);
    expect([...s.planned.keys()]).to.deep.equal([K.firingId('3', 40_000)]);
  });
});

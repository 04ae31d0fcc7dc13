import { expect } from 'chai';
import { MAX_BACKSTOP_STRETCH_MS, backstopAtMs, claimAtMs, claimDecision, claimedFiring, lateUntilMs, rankCandidates, usesCandidates, type CandidateState, type PlannedFiring } from '../../src/domain/candidates.js';
import type { NodeInfo } from '../../src/domain/placement.js';
import { DEFAULT_POLICIES } from '../../src/domain/task.js';
import { T0, aTask } from '../support/task.js';
import { planTask, withCandidates, type PlanContext } from '../../src/scheduler/planner.js';

const NOW = T0;
const task = aTask;

const node = (id: string, over: Partial<NodeInfo> = {}): NodeInfo => ({ id, lease: `lease-${id}`, state: 'active', attributes: {}, capacity: 10, load: 0, ...over });
const planned = (over: Partial<PlannedFiring> = {}): PlannedFiring => ({ taskId: 't1', tenant: 'acme', scheduledMs: NOW, replica: 0, trigger: 'schedule', taskRev: 7, candidates: ['a', 'b', 'c'], lateUntilMs: NOW + 60_000, ...over });

describe('protocol v2: candidates (pure)', () => {
  it('which tasks are planned with candidates: overlap allow, no deps, no daemon', () => {
    expect(usesCandidates(task())).to.equal(true);
    expect(usesCandidates(task({ policies: { ...DEFAULT_POLICIES, overlap: 'forbid' } }))).to.equal(false);
    expect(usesCandidates(task({ policies: { ...DEFAULT_POLICIES, overlap: 'replace' } }))).to.equal(false);
    expect(usesCandidates(task({ deps: ['other'] }))).to.equal(false);
    expect(usesCandidates(task({ schedule: { daemon: true } }))).to.equal(false);
  });

  it('claim turns: the first at the instant (or its lead before it), each next one a step later; not a candidate: none', () => {
    const p = planned();
    expect(['a', 'b', 'c', 'x'].map((n) => claimAtMs(p, n, 250))).to.deep.equal([NOW, NOW + 250, NOW + 500, null]);
    expect(['a', 'b'].map((n) => claimAtMs(p, n, 250, 100))).to.deep.equal([NOW - 100, NOW + 250]);
    expect(backstopAtMs(p, 250)).to.equal(NOW + 3 * 250 + 500);
  });

  it('the backstop waits longer while claims reach the leader late: twice the slowest recent one, at most 4 s more', () => {
    const p = planned();
    const base = 3 * 250 + 500;
    expect(backstopAtMs(p, 250, 300), 'claims quick: the fixed wait').to.equal(NOW + base);
    expect(backstopAtMs(p, 250, 2_000), 'claims seen 2 s after their instants').to.equal(NOW + 4_000);
    expect(backstopAtMs(p, 250, 60_000), 'capped').to.equal(NOW + base + MAX_BACKSTOP_STRETCH_MS);
  });

  it('the latest start follows the misfire policy', () => {
    expect(lateUntilMs({ mode: 'skip', graceMs: 5_000, windowMs: 60_000, maxCount: 1 }, NOW)).to.equal(NOW + 5_000);
    expect(lateUntilMs({ mode: 'run-once', graceMs: 5_000, windowMs: 60_000, maxCount: 1 }, NOW)).to.equal(NOW + 60_000);
    expect(lateUntilMs({ mode: 'run-all', graceMs: 5_000, windowMs: 1_000, maxCount: 1 }, NOW)).to.equal(NOW + 5_000);
  });

  it('a candidate passes while it cannot take work or is full (unless last); nobody claims past the latest start', () => {
    const me = (over: Partial<CandidateState>): CandidateState => ({ nodeId: 'a', alive: true, draining: false, inflight: 0, capacity: 10, ...over });
    const table: [Partial<CandidateState>, number, ReturnType<typeof claimDecision>][] = [
      [{}, NOW, 'claim'],
      [{ alive: false }, NOW, 'pass'],
      [{ draining: true }, NOW, 'pass'],
      [{ inflight: 10 }, NOW, 'pass'],
      [{ nodeId: 'c', inflight: 10 }, NOW, 'claim'], // the last candidate takes it even when full
      [{}, NOW + 60_001, 'late'],
    ];
    for (const [over, at, want] of table) expect(claimDecision(planned(), me(over), at), JSON.stringify(over)).to.equal(want);
  });

  it('ranks: the placed node first, then the other eligible ones rotated by turn, at most three; draining and excluded ones never', () => {
    const nodes = [node('a'), node('b'), node('c'), node('d'), node('e', { state: 'draining' })];
    expect(rankCandidates(nodes[1]!, nodes, task(), 0)).to.deep.equal(['b', 'a', 'c']);
    expect(rankCandidates(nodes[1]!, nodes, task(), 1)).to.deep.equal(['b', 'c', 'd']);
    expect(rankCandidates(nodes[1]!, nodes, task({ placement: { strategy: 'least-loaded', excludeNodes: ['a', 'c'] } }), 0)).to.deep.equal(['b', 'd']);
    expect(rankCandidates(nodes[0]!, [nodes[0]!], task(), 5)).to.deep.equal(['a']);
  });

  it('a winning claim is the firing running on that incarnation, from its instant when claimed ahead', () => {
    expect(claimedFiring(planned(), 'a', 'L', NOW + 3)).to.deep.include({ state: 'running', node: 'a', lease: 'L', attempt: 1, startedMs: NOW + 3, via: 'candidate', dueMs: NOW });
    expect(claimedFiring(planned(), 'a', 'L', NOW - 50).startedMs).to.equal(NOW);
  });

  it("a plan's firings become planned firings spread over the nodes, with the task's revision; a plan needing the leader at the instant does not", () => {
    const nodes = [node('a'), node('b'), node('c')];
    const ctx: PlanContext = { nowMs: NOW, horizonMs: NOW + 5_000, nodes, turn: { n: 0 }, random: () => 0 };
    const t = task();
    const plan = planTask(t, { value: NOW, modRevision: 3 }, [], ctx)!;
    const c = withCandidates(plan, t, 42, ctx)!;
    expect(c.planned.map((p) => p.scheduledMs)).to.deep.equal([1, 2, 3, 4, 5].map((s) => NOW + s * 1000));
    expect(c.planned.every((p) => p.taskRev === 42 && p.candidates.length === 3)).to.equal(true);
    expect(new Set(c.planned.map((p) => p.candidates[0])).size, 'first candidates spread (least-loaded)').to.equal(3);
    expect(c.cursor).to.deep.equal({ expectRev: 3, toMs: NOW + 5_000 });
    // No node takes it now: the leader keeps it (unassigned, placed when one can).
    const none = { ...ctx, nodes: [] };
    expect(withCandidates(planTask(t, { value: NOW, modRevision: 3 }, [], none)!, t, 42, none)).to.equal(null);
  });
});

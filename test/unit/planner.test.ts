import { expect } from 'chai';
import { firingRunId, type Firing } from '../../src/domain/firing.js';
import type { NodeInfo } from '../../src/domain/placement.js';
import { aTask } from '../support/task.js';
import { DEFAULT_POLICIES, type MisfirePolicy, type Policies, type Task } from '../../src/domain/task.js';
import type { Versioned } from '../../src/store/keys.js';
import { MAX_FIRINGS_PER_STEP, nextDueMs, place, planTask, type PlanContext } from '../../src/scheduler/planner.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const S = 1_000;
const EVERY_SECOND = { cron: '* * * * * *', tz: 'UTC' };
const EVERY_10S = { cron: '*/10 * * * * *', tz: 'UTC' };

function policies(over: Partial<Policies> = {}, misfire: Partial<MisfirePolicy> = {}): Policies {
  const d = structuredClone(DEFAULT_POLICIES);
  return { ...d, ...over, misfire: { ...d.misfire, ...misfire } };
}

const task = (over: Partial<Task> = {}): Task => aTask({ schedule: EVERY_SECOND, ...over });

function node(id: string, over: Partial<NodeInfo> = {}): NodeInfo {
  return { id, lease: `lease-${id}`, state: 'active', attributes: {}, capacity: 10, load: 0, ...over };
}

function ctx(nodes: NodeInfo[] = [node('n1')], nowMs = NOW): PlanContext {
  return { nowMs, nodes, turn: { n: 0 }, random: () => 0 };
}

const cursor = (ms: number, modRevision = 42): Versioned<number> => ({ value: ms, modRevision });

function activeFiring(over: Partial<Firing> = {}, modRevision = 7): Versioned<Firing> {
  return {
    value: {
      taskId: 't1',
      tenant: 'acme',
      scheduledMs: NOW - 10 * S,
      attempt: 1,
      trigger: 'schedule',
      state: 'running',
      node: 'n2',
      lease: 'lease-n2',
      dueMs: NOW - 10 * S,
      startedMs: NOW - 10 * S,
      ...over,
    },
    modRevision,
  };
}

const times = (fs: { scheduledMs: number }[]) => fs.map((f) => f.scheduledMs);

describe('planTask', () => {
  it('plans one on-time firing per second for a 1-second cron 3 s behind, placed on the node', () => {
    const c = ctx();
    const plan = planTask(task(), cursor(NOW - 3 * S, 42), [], c)!;
    expect(plan).to.not.equal(null);
    expect(plan.taskId).to.equal('t1');
    expect(plan.cursor).to.deep.equal({ expectRev: 42, toMs: NOW });
    expect(plan.skipped).to.deep.equal([]);
    expect(plan.kills).to.deep.equal([]);
    expect(plan.firings).to.deep.equal(
      [NOW - 2 * S, NOW - S, NOW].map((ms) => ({
        taskId: 't1',
        tenant: 'acme',
        scheduledMs: ms,
        replica: 0,
        attempt: 1,
        trigger: 'schedule',
        state: 'assigned',
        node: 'n1',
        lease: 'lease-n1',
        dueMs: NOW,
      })),
    );
    expect(c.nodes[0]!.load).to.equal(3);
    expect(c.turn.n).to.equal(3);
  });

  it('returns null when nothing is due (cursor already at now)', () => {
    expect(planTask(task(), cursor(NOW), [], ctx())).to.equal(null);
  });

  it('returns null for a disabled task even when firings are overdue', () => {
    expect(planTask(task({ enabled: false }), cursor(NOW - 60 * S), [], ctx())).to.equal(null);
  });

  it('treats a firing exactly graceMs late as on time and one a millisecond later as missed', () => {
    const t = task({ schedule: EVERY_10S, policies: policies({}, { mode: 'skip', graceMs: 5 * S }) });
    const onTime = planTask(t, cursor(NOW - 10 * S), [], ctx(undefined, NOW + 5 * S))!;
    expect(times(onTime.firings)).to.deep.equal([NOW]);
    expect(onTime.skipped).to.deep.equal([]);
    const late = planTask(t, cursor(NOW - 10 * S), [], ctx(undefined, NOW + 5 * S + 1))!;
    expect(late.firings).to.deep.equal([]);
    expect(late.skipped).to.have.length(1);
    expect(late.cursor.toMs).to.equal(NOW);
  });

  describe('misfire run-all (graceMs 5s, windowMs 60s)', () => {
    const pol = policies({}, { mode: 'run-all', graceMs: 5 * S, windowMs: 60 * S });

    it('catches up only the firings within the window and records the older ones as one skipped run', () => {
      const c = ctx();
      const plan = planTask(task({ schedule: EVERY_10S, policies: pol }), cursor(NOW - 120 * S), [], c)!;
      // Due: NOW-110s .. NOW every 10 s. On time: NOW. Late: NOW-110s..NOW-10s, of which
      // NOW-60s..NOW-10s lie within the 60 s window.
      const catchUp = plan.firings.filter((f) => f.trigger === 'catch-up');
      const onTime = plan.firings.filter((f) => f.trigger === 'schedule');
      expect(times(catchUp)).to.deep.equal([60, 50, 40, 30, 20, 10].map((s) => NOW - s * S));
      expect(times(onTime)).to.deep.equal([NOW]);
      for (const f of catchUp) {
        expect(f.scheduledMs).to.be.at.least(NOW - 60 * S);
        expect(f.dueMs).to.equal(NOW);
        expect(f.state).to.equal('assigned');
        expect(f.node).to.equal('n1');
      }
      expect(plan.skipped).to.have.length(1);
      const r = plan.skipped[0]!;
      expect(r).to.deep.equal({
        id: `t1-${NOW - 110 * S}-1`,
        taskId: 't1',
        tenant: 'acme',
        scheduledMs: NOW - 110 * S,
        attempt: 1,
        trigger: 'catch-up',
        state: 'skipped',
        endedMs: NOW,
        message: "skipped 5 missed firing(s) by misfire policy 'run-all'",
      });
      expect(plan.cursor).to.deep.equal({ expectRev: 42, toMs: NOW });
      expect(plan.kills).to.deep.equal([]);
    });

    it(`counts every missed firing in the message even beyond the ${MAX_FIRINGS_PER_STEP}-firing step limit`, () => {
      const plan = planTask(task({ policies: pol }), cursor(NOW - 120 * S), [], ctx())!;
      // 120 firings due (NOW-119s..NOW); on time NOW-5s..NOW (6); within the window NOW-60s..NOW-6s (55);
      // the remaining 59 (NOW-119s..NOW-61s) are skipped.
      const catchUp = times(plan.firings.filter((f) => f.trigger === 'catch-up'));
      const onTime = times(plan.firings.filter((f) => f.trigger === 'schedule'));
      expect(onTime).to.deep.equal([5, 4, 3, 2, 1, 0].map((s) => NOW - s * S));
      expect(catchUp).to.have.length(55);
      expect(catchUp[0]).to.equal(NOW - 60 * S);
      expect(catchUp[catchUp.length - 1]).to.equal(NOW - 6 * S);
      expect(plan.skipped).to.have.length(1);
      expect(plan.skipped[0]!.message).to.equal("skipped 59 missed firing(s) by misfire policy 'run-all'");
      expect(plan.cursor.toMs).to.equal(NOW);
    });

    it('runs at most maxCount (the newest) missed firings', () => {
      const t = task({ schedule: EVERY_10S, policies: policies({}, { mode: 'run-all', graceMs: 5 * S, windowMs: 60 * S, maxCount: 2 }) });
      const plan = planTask(t, cursor(NOW - 120 * S), [], ctx())!;
      expect(times(plan.firings.filter((f) => f.trigger === 'catch-up'))).to.deep.equal([NOW - 20 * S, NOW - 10 * S]);
      expect(plan.skipped[0]!.message).to.equal("skipped 9 missed firing(s) by misfire policy 'run-all'");
    });
  });

  it('misfire skip: only the on-time firing(s) run, the missed ones become one skipped record', () => {
    const t = task({ schedule: EVERY_10S, policies: policies({}, { mode: 'skip' }) });
    const plan = planTask(t, cursor(NOW - 120 * S), [], ctx())!;
    expect(plan.firings.map((f) => [f.scheduledMs, f.trigger])).to.deep.equal([[NOW, 'schedule']]);
    expect(plan.skipped).to.have.length(1);
    expect(plan.skipped[0]!.state).to.equal('skipped');
    expect(plan.skipped[0]!.scheduledMs).to.equal(NOW - 110 * S);
    expect(plan.skipped[0]!.message).to.equal("skipped 11 missed firing(s) by misfire policy 'skip'");
    expect(plan.cursor.toMs).to.equal(NOW);
  });

  it('misfire skip with nothing late: no skipped record', () => {
    const plan = planTask(task({ policies: policies({}, { mode: 'skip' }) }), cursor(NOW - 3 * S), [], ctx())!;
    expect(plan.firings).to.have.length(3);
    expect(plan.skipped).to.deep.equal([]);
  });

  it('misfire run-once: exactly one catch-up (the newest missed) plus the on-time firing', () => {
    const t = task({ schedule: EVERY_10S, policies: policies({}, { mode: 'run-once' }) });
    const plan = planTask(t, cursor(NOW - 120 * S), [], ctx())!;
    const catchUp = plan.firings.filter((f) => f.trigger === 'catch-up');
    expect(times(catchUp)).to.deep.equal([NOW - 10 * S]);
    expect(times(plan.firings.filter((f) => f.trigger === 'schedule'))).to.deep.equal([NOW]);
    expect(plan.skipped).to.have.length(1);
    expect(plan.skipped[0]!.message).to.equal("skipped 10 missed firing(s) by misfire policy 'run-once'");
    expect(plan.skipped[0]!.scheduledMs).to.equal(NOW - 110 * S);
  });

  describe('overlap', () => {
    it('forbid with an active firing: no firing, a skipped run saying overlap forbid, cursor still moves', () => {
      const active = [activeFiring()];
      const plan = planTask(task({ policies: policies({ overlap: 'forbid' }) }), cursor(NOW - S, 5), active, ctx())!;
      expect(plan.firings).to.deep.equal([]);
      expect(plan.kills).to.deep.equal([]);
      expect(plan.skipped).to.have.length(1);
      const r = plan.skipped[0]!;
      expect(r.scheduledMs).to.equal(NOW);
      expect(r.trigger).to.equal('schedule');
      expect(r.state).to.equal('skipped');
      expect(r.message).to.contain('overlap forbid');
      expect(plan.cursor).to.deep.equal({ expectRev: 5, toMs: NOW });
    });

    it('forbid without an active firing: the first due firing runs and blocks the rest of the step', () => {
      const plan = planTask(task({ policies: policies({ overlap: 'forbid' }) }), cursor(NOW - 3 * S), [], ctx())!;
      expect(plan.firings).to.have.length(1);
      expect(plan.skipped).to.have.length(2);
      for (const r of plan.skipped) expect(r.message).to.contain('overlap forbid');
      expect([...times(plan.firings), ...times(plan.skipped)].sort((a, b) => a - b)).to.deep.equal([NOW - 2 * S, NOW - S, NOW]);
    });

    it('forbid ignores firings waiting for a retry (not active)', () => {
      const active = [activeFiring({ state: 'retry-wait', node: undefined, lease: undefined })];
      const plan = planTask(task({ policies: policies({ overlap: 'forbid' }) }), cursor(NOW - S), active, ctx())!;
      expect(times(plan.firings)).to.deep.equal([NOW]);
      expect(plan.skipped).to.deep.equal([]);
    });

    it('allow: runs alongside an active firing', () => {
      const plan = planTask(task({ policies: policies({ overlap: 'allow' }) }), cursor(NOW - S), [activeFiring()], ctx())!;
      expect(times(plan.firings)).to.deep.equal([NOW]);
      expect(plan.kills).to.deep.equal([]);
      expect(plan.skipped).to.deep.equal([]);
    });

    it('replace: kills the running firing and plans the new one', () => {
      const running = activeFiring({ attempt: 2 });
      const plan = planTask(task({ policies: policies({ overlap: 'replace' }) }), cursor(NOW - S), [running], ctx())!;
      expect(plan.kills).to.deep.equal([{ node: 'n2', runId: firingRunId(running.value) }]);
      expect(plan.kills[0]!.runId).to.equal(`t1-${NOW - 10 * S}-2`);
      expect(plan.firings).to.have.length(1);
      expect(plan.firings[0]).to.include({ scheduledMs: NOW, trigger: 'schedule', state: 'assigned', node: 'n1' });
      expect(plan.skipped).to.deep.equal([]);
    });

    it('replace: an active firing not yet running is not killed', () => {
      const assigned = activeFiring({ state: 'assigned', startedMs: undefined });
      const plan = planTask(task({ policies: policies({ overlap: 'replace' }) }), cursor(NOW - S), [assigned], ctx())!;
      expect(plan.kills).to.deep.equal([]);
      expect(times(plan.firings)).to.deep.equal([NOW]);
    });

    it('replace with several firings due in one step: each running firing is killed once', () => {
      // The kill requests are written as puts in one etcd transaction; etcd refuses a
      // transaction that puts the same key twice ("duplicate key given in txn request").
      const running = activeFiring();
      const plan = planTask(task({ policies: policies({ overlap: 'replace' }) }), cursor(NOW - 3 * S), [running], ctx())!;
      expect(plan.firings).to.have.length(3);
      expect(plan.kills).to.deep.equal([{ node: 'n2', runId: firingRunId(running.value) }]);
    });

    it('replace with two running firings and several due: both killed, each once', () => {
      const r1 = activeFiring({ scheduledMs: NOW - 20 * S, node: 'n2' });
      const r2 = activeFiring({ scheduledMs: NOW - 10 * S, node: 'n3', lease: 'lease-n3' });
      const plan = planTask(task({ policies: policies({ overlap: 'replace' }) }), cursor(NOW - 2 * S), [r1, r2], ctx())!;
      expect(plan.firings).to.have.length(2);
      expect(plan.kills).to.deep.equal([
        { node: 'n2', runId: firingRunId(r1.value) },
        { node: 'n3', runId: firingRunId(r2.value) },
      ]);
    });
  });

  describe('placement and cursor', () => {
    it('leaves firings unassigned when no node is eligible', () => {
      for (const nodes of [[], [node('n1', { state: 'draining' })]]) {
        const plan = planTask(task(), cursor(NOW - S), [], ctx(nodes))!;
        expect(plan.firings).to.have.length(1);
        expect(plan.firings[0]!.state).to.equal('unassigned');
        expect(plan.firings[0]!.node).to.equal(undefined);
        expect(plan.firings[0]!.lease).to.equal(undefined);
      }
    });

    it('spreads the firings of one step by load', () => {
      const c = ctx([node('n1'), node('n2')]);
      const plan = planTask(task(), cursor(NOW - 4 * S), [], c)!;
      expect(plan.firings.map((f) => f.node)).to.deep.equal(['n1', 'n2', 'n1', 'n2']);
      expect(c.nodes.map((n) => n.load)).to.deep.equal([2, 2]);
    });

    it("carries expectRev from the cursor entry's mod revision", () => {
      expect(planTask(task(), cursor(NOW - S, 1234), [], ctx())!.cursor).to.deep.equal({ expectRev: 1234, toMs: NOW });
    });

    it('without a cursor: expectRev 0 and firings counted from the creation time', () => {
      const plan = planTask(task({ createdMs: NOW - 2_500 }), undefined, [], ctx())!;
      expect(plan.cursor).to.deep.equal({ expectRev: 0, toMs: NOW });
      expect(times(plan.firings)).to.deep.equal([NOW - 2 * S, NOW - S, NOW]);
    });

    it('an every schedule fires on its grid from the creation time', () => {
      const created = NOW - 95 * S;
      const plan = planTask(task({ schedule: { everyMs: 30 * S }, createdMs: created }), cursor(created + 30 * S), [], ctx())!;
      expect(times(plan.firings)).to.deep.equal([created + 60 * S, created + 90 * S]);
      expect(plan.cursor.toMs).to.equal(created + 90 * S);
    });

    it('manual and daemon tasks never plan on their own', () => {
      expect(planTask(task({ schedule: { manual: true } }), cursor(NOW - 60 * S), [], ctx())).to.equal(null);
      expect(planTask(task({ schedule: { daemon: true } }), cursor(NOW - 60 * S), [], ctx())).to.equal(null);
    });
  });
});

describe('place', () => {
  const firing = (over: Partial<Firing> = {}): Firing => ({
    taskId: 't1',
    tenant: 'acme',
    scheduledMs: NOW,
    attempt: 1,
    trigger: 'schedule',
    state: 'unassigned',
    dueMs: NOW,
    ...over,
  });

  it('assigns to the chosen node, counting its load and advancing the turn', () => {
    const c = ctx([node('a', { load: 3 }), node('b', { load: 1 })]);
    const f = place(firing(), task(), c);
    expect(f).to.include({ state: 'assigned', node: 'b', lease: 'lease-b' });
    expect(c.nodes[1]!.load).to.equal(2);
    expect(c.turn.n).to.equal(1);
  });

  it('clears node and lease when no node is eligible, without mutating the input firing', () => {
    const before = firing({ state: 'assigned', node: 'gone', lease: 'old' });
    const c = ctx([node('a', { state: 'draining' })]);
    const f = place(before, task(), c);
    expect(f.state).to.equal('unassigned');
    expect(f.node).to.equal(undefined);
    expect(f.lease).to.equal(undefined);
    expect(before).to.include({ state: 'assigned', node: 'gone', lease: 'old' });
    expect(c.turn.n).to.equal(1);
  });
});

describe('nextDueMs', () => {
  it('cron: the next firing strictly after the cursor', () => {
    expect(nextDueMs(task(), NOW)).to.equal(NOW + S);
    expect(nextDueMs(task({ schedule: EVERY_10S }), NOW + 1)).to.equal(NOW + 10 * S);
  });

  it('every: the next grid point after the cursor', () => {
    const created = NOW - 95 * S;
    expect(nextDueMs(task({ schedule: { everyMs: 30 * S }, createdMs: created }), NOW)).to.equal(created + 120 * S);
  });

  it('at: the instant while still ahead, then null', () => {
    expect(nextDueMs(task({ schedule: { atMs: NOW + 5 * S } }), NOW)).to.equal(NOW + 5 * S);
    expect(nextDueMs(task({ schedule: { atMs: NOW + 5 * S } }), NOW + 5 * S)).to.equal(null);
  });

  it('null for manual, daemon and disabled tasks', () => {
    expect(nextDueMs(task({ schedule: { manual: true } }), NOW)).to.equal(null);
    expect(nextDueMs(task({ schedule: { daemon: true } }), NOW)).to.equal(null);
    expect(nextDueMs(task({ enabled: false }), NOW)).to.equal(null);
  });
});

describe('planTask: planning ahead', () => {
  it('writes a firing due within the horizon now, to start at its own time (not late, not early)', () => {
    const c = { ...ctx(), horizonMs: NOW + 30 };
    // Cursor at NOW - 1 ms: the firing at NOW is due; with NOW - 970 the next one (NOW + 30) is not yet.
    const plan = planTask(task(), cursor(NOW - 1), [], { ...c, nowMs: NOW - 20 })!;
    expect(times(plan.firings)).to.deep.equal([NOW]);
    expect(plan.firings[0]!.dueMs).to.equal(NOW); // the node waits until then
    expect(plan.firings[0]!.trigger).to.equal('schedule');
    expect(plan.cursor.toMs).to.equal(NOW);
    expect(planTask(task(), cursor(NOW), [], { ...c, horizonMs: NOW + 500 })).to.equal(null);
  });

  it('an instant whose firing exists already is not planned again; the cursor passes it (a resume moved the cursor back)', () => {
    const ahead = activeFiring({ scheduledMs: NOW + S, state: 'running', startedMs: NOW + S, dueMs: NOW + S });
    const plan = planTask(task(), cursor(NOW - 1), [ahead], { ...ctx(), horizonMs: NOW + 2 * S })!;
    expect(plan.firings.map((f) => f.scheduledMs)).to.deep.equal([NOW, NOW + 2 * S]);
    expect(plan.cursor.toMs).to.equal(NOW + 2 * S);
  });
});


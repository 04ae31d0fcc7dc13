import { expect } from 'chai';
import { planTrigger, repairFiring, type RepairContext } from '../../src/scheduler/repair.js';
import type { NodeInfo } from '../../src/domain/placement.js';
import type { Firing } from '../../src/domain/firing.js';
import { DEFAULT_POLICIES, type Task } from '../../src/domain/task.js';

const NOW = 1_800_000_000_000;
const node = (id: string, state: 'active' | 'draining' = 'active'): NodeInfo => ({ id, lease: `L${id}`, state, attributes: {}, capacity: 10, load: 0 });

function task(over: Partial<Task> = {}): Task {
  return {
    id: '5', tenant: 't', name: 'job', enabled: true, schedule: { manual: true }, action: { process: { command: 'true', env: {} } },
    replicas: 1, placement: { strategy: 'least-loaded' }, policies: DEFAULT_POLICIES, createdMs: NOW - 1000, updatedMs: NOW - 1000, ...over,
  };
}

function firing(over: Partial<Firing> = {}): Firing {
  return { taskId: '5', tenant: 't', scheduledMs: NOW - 500, replica: 0, attempt: 1, trigger: 'schedule', state: 'running', node: 'n1', lease: 'Ln1', dueMs: NOW - 500, startedMs: NOW - 400, ...over };
}

function ctx(live: string[], nodes = [node('n1'), node('n2')], draining: string[] = []): RepairContext {
  return { nowMs: NOW, nodes, turn: { n: 0 }, random: () => 0, liveLeases: new Set(live), isDraining: (n) => draining.includes(n) };
}

describe('repairFiring (the reconciler decision)', () => {
  it('a running firing whose lease is gone: a lost run record and attempt 2 placed on a live node', () => {
    const r = repairFiring(firing(), task(), ctx(['Ln2'], [node('n2')]));
    expect(r.kind).to.equal('transition');
    if (r.kind !== 'transition') return;
    expect(r.lost).to.equal(true);
    expect(r.retried).to.equal(true);
    expect(r.confirmLeaseGone).to.equal(true);
    expect(r.runs[0]).to.include({ state: 'lost', attempt: 1, id: `5-${NOW - 500}-1` });
    expect(r.next).to.include({ state: 'assigned', node: 'n2', attempt: 2, trigger: 'retry' });
  });


  it('a running firing whose lease is gone but whose outcome the leader\'s own journal holds waits for it, not lost, not retried', () => {
    const journalled = (runId: string) => runId === `5-${NOW - 500}-1`;
    const r = repairFiring(firing(), task(), { ...ctx(['Ln2'], [node('n2')]), journalled });
    expect(r).to.deep.equal({ kind: 'wait', untilMs: NOW + 1_000 });
    // Another run's outcome in the journal changes nothing for this one.
    const other = repairFiring(firing({ scheduledMs: NOW - 900 }), task(), { ...ctx(['Ln2'], [node('n2')]), journalled });
    expect(other.kind === 'transition' && other.lost).to.equal(true);
  });
  it('onLost discard drops the firing after recording the loss; a daemon is always placed again', () => {
    const discard = repairFiring(firing(), task({ policies: { ...DEFAULT_POLICIES, onLost: 'discard' } }), ctx(['Ln2'], [node('n2')]));
    expect(discard.kind === 'transition' && discard.next).to.equal(null);
    const daemon = repairFiring(firing(), task({ schedule: { daemon: true }, policies: { ...DEFAULT_POLICIES, onLost: 'discard' } }), ctx(['Ln2'], [node('n2')]));
    expect(daemon.kind === 'transition' && daemon.next?.node).to.equal('n2');
  });

  it('an assigned (never claimed) firing of a gone or draining node is placed again with the same attempt', () => {
    const gone = repairFiring(firing({ state: 'assigned' }), task(), ctx(['Ln2'], [node('n2')]));
    expect(gone.kind === 'transition' && gone.next).to.include({ node: 'n2', attempt: 1 });
    expect(gone.kind === 'transition' && gone.runs).to.deep.equal([]);
    const drained = repairFiring(firing({ state: 'assigned' }), task(), ctx(['Ln1', 'Ln2'], [node('n1', 'draining'), node('n2')], ['n1']));
    expect(drained.kind === 'transition' && drained.next?.node).to.equal('n2');
  });

  it('a firing claimed for an instant still ahead on a gone node is placed again, same attempt, no lost record', () => {
    const r = repairFiring(firing({ startedMs: NOW + 300, scheduledMs: NOW + 300, dueMs: NOW + 300 }), task(), ctx(['Ln2'], [node('n2')]));
    expect(r.kind === 'transition' && r.runs).to.deep.equal([]);
    expect(r.kind === 'transition' && r.lost).to.equal(false);
    expect(r.kind === 'transition' && r.next).to.include({ state: 'assigned', node: 'n2', attempt: 1, trigger: 'schedule' });
    expect(r.kind === 'transition' && r.next?.startedMs).to.equal(undefined);
    // Its node would start it from a local timer: the lease must be confirmed gone in etcd first.
    expect(r.kind === 'transition' && r.confirmLeaseGone).to.equal(true);
    // Its instant has passed: it may have started, so it is lost like any running firing.
    const started = repairFiring(firing({ startedMs: NOW }), task(), ctx(['Ln2'], [node('n2')]));
    expect(started.kind === 'transition' && started.lost).to.equal(true);
  });

  it('a never-started scheduled firing placed again late follows the misfire policy', () => {
    const skip = task({ policies: { ...DEFAULT_POLICIES, misfire: { ...DEFAULT_POLICIES.misfire, mode: 'skip', graceMs: 1000 } } });
    const late = firing({ state: 'unassigned', node: undefined, lease: undefined, scheduledMs: NOW - 2000, dueMs: NOW - 2000 });
    const r = repairFiring(late, skip, ctx(['Ln1']));
    expect(r.kind === 'transition' && r.next).to.equal(null);
    expect(r.kind === 'transition' && r.runs[0]).to.include({ state: 'skipped', scheduledMs: NOW - 2000 });
    // Within the grace it runs; run-all runs it while within the window; a retry is never skipped.
    expect(repairFiring({ ...late, scheduledMs: NOW - 500 }, skip, ctx(['Ln1'])).kind === 'transition').to.equal(true);
    const runAll = repairFiring(late, task(), ctx(['Ln1']));
    expect(runAll.kind === 'transition' && runAll.next).to.include({ state: 'assigned', node: 'n1' });
    const old = repairFiring({ ...late, scheduledMs: NOW - 61_000 }, task(), ctx(['Ln1']));
    expect(old.kind === 'transition' && old.next).to.equal(null);
    const retry = repairFiring({ ...late, attempt: 2, trigger: 'retry' }, skip, ctx(['Ln1']));
    expect(retry.kind === 'transition' && retry.next?.node).to.equal('n1');
    // Handed back by a gone node before it started: the same rule.
    const gone = repairFiring(firing({ state: 'assigned', scheduledMs: NOW - 2000 }), skip, ctx(['Ln2'], [node('n2')]));
    expect(gone.kind === 'transition' && gone.runs[0]?.state).to.equal('skipped');
  });

  it('a retry waits for its due time, then is placed; unassigned firings wait for a node', () => {
    expect(repairFiring(firing({ state: 'retry-wait', dueMs: NOW + 5000, node: undefined, lease: undefined }), task(), ctx(['Ln1']))).to.deep.equal({ kind: 'wait', untilMs: NOW + 5000 });
    const due = repairFiring(firing({ state: 'retry-wait', dueMs: NOW - 1, node: undefined, lease: undefined }), task(), ctx(['Ln1']));
    expect(due.kind === 'transition' && due.retried).to.equal(true);
    expect(repairFiring(firing({ state: 'unassigned', node: undefined, lease: undefined }), task(), ctx([], []))).to.deep.equal({ kind: 'none' });
  });

  it("leaves a healthy running firing alone and drops a deleted task's unstarted one", () => {
    expect(repairFiring(firing(), task(), ctx(['Ln1']))).to.deep.equal({ kind: 'none' });
    const orphan = repairFiring(firing({ state: 'assigned' }), undefined, ctx(['Ln1']));
    expect(orphan.kind === 'transition' && orphan.next).to.equal(null);
  });
});

describe('planTrigger: replace and firings claimed ahead', () => {
  it('kills the runs that started, not a scheduled firing claimed for an instant still ahead', () => {
    const started = firing({ scheduledMs: NOW - 1000, startedMs: NOW - 1000 });
    const ahead = firing({ scheduledMs: NOW + 1000, startedMs: NOW + 1000, node: 'n2', lease: 'Ln2' });
    const p = planTrigger(task(), NOW, { replace: true }, [started, ahead], ctx(['Ln1', 'Ln2']));
    expect(p.kills.map((k) => k.runId)).to.deep.equal([`5-${NOW - 1000}-1`]);
  });
});

describe('planTrigger', () => {
  it('forbid with a live run: a skipped run, nothing fired; replace: kills the running one and fires', () => {
    const live = [firing()];
    const forbid = planTrigger(task({ policies: { ...DEFAULT_POLICIES, overlap: 'forbid' } }), NOW, {}, live, ctx(['Ln1']));
    expect(forbid.firings).to.deep.equal([]);
    expect(forbid.skipped?.message).to.match(/overlap forbid/);
    const replace = planTrigger(task({ policies: { ...DEFAULT_POLICIES, overlap: 'forbid' } }), NOW, { replace: true }, live, ctx(['Ln1']));
    expect(replace.kills).to.deep.equal([{ node: 'n1', runId: `5-${NOW - 500}-1` }]);
    expect(replace.firings).to.have.length(1);
  });

  it('fires every replica, each placed, with the trigger params', () => {
    const p = planTrigger(task({ replicas: 3 }), NOW, { params: { a: 1 } }, [], ctx(['Ln1', 'Ln2']));
    expect(p.firings.map((f) => [f.replica, f.trigger, f.params])).to.deep.equal([[0, 'manual', { a: 1 }], [1, 'manual', { a: 1 }], [2, 'manual', { a: 1 }]]);
    expect(new Set(p.firings.map((f) => f.node)).size).to.equal(2); // spread by load
  });

  it('a firing no node can take waits, and expires after expireAfterMs with an expired run; a container with no runtime anywhere fails at once', () => {
    const big = task({ placement: { strategy: 'least-loaded', requests: { cpu: 4 } }, policies: { ...DEFAULT_POLICIES, expireAfterMs: 60_000 } });
    const small = (id: string): NodeInfo => ({ ...node(id), cpu: 2, memMb: 1024 });
    const waiting = firing({ state: 'unassigned', node: undefined, lease: undefined, startedMs: undefined, trigger: 'manual', dueMs: NOW - 1000 });
    expect(repairFiring(waiting, big, ctx(['Ln1'], [small('n1')]))).to.deep.equal({ kind: 'wait', untilMs: NOW - 1000 + 60_000 });
    const expired = repairFiring({ ...waiting, dueMs: NOW - 60_000 }, big, ctx(['Ln1'], [small('n1')]));
    expect(expired.kind).to.equal('transition');
    if (expired.kind !== 'transition') return;
    expect(expired.next).to.equal(null);
    expect(expired.runs[0]).to.include({ state: 'expired', attempt: 1 });
    expect(expired.runs[0]!.startedMs).to.equal(undefined);
    expect(expired.runs[0]!.message).to.match(/no node could take it within 60 s/);
    // Without expireAfterMs it waits for good; once a node fits, it is placed.
    expect(repairFiring(waiting, task({ placement: big.placement }), ctx(['Ln1'], [small('n1')]))).to.deep.equal({ kind: 'none' });
    const placed = repairFiring(waiting, big, ctx(['Ln1', 'Ln2'], [small('n1'), { ...node('n2'), cpu: 8, memMb: 8192 }]));
    expect(placed.kind === 'transition' && placed.next).to.deep.include({ state: 'assigned', node: 'n2', requests: { cpu: 4 } });

    const ctr = task({ action: { container: { image: 'alpine', args: [], env: {} } } });
    const none = repairFiring(waiting, ctr, ctx(['Ln1'], [node('n1')]));
    expect(none.kind === 'transition' && none.runs[0]).to.include({ state: 'failed' });
    expect(none.kind === 'transition' && none.runs[0]!.message).to.match(/no node of the cluster has a container runtime/);
    const elsewhere = repairFiring(waiting, ctr, ctx(['Ln1', 'Ln2'], [node('n1'), { ...node('n2'), runtimes: ['podman'] }]));
    expect(elsewhere.kind === 'transition' && elsewhere.next).to.include({ state: 'assigned', node: 'n2' });
  });
});


import { attemptRun, firingRunId, hasStarted, isActive, isDaemon, replicaFirings, skippedRun, type Firing } from '../domain/firing.js';
import { nextAttemptNow, placeAgainSame } from '../domain/firing-transitions.js';
import { overlapDecision, stillRunsWhenLate } from '../domain/policies.js';
import type { Run, Task } from '../domain/task.js';
import { place, type PlanContext } from './planner.js';

/** What the leader does about one firing it was told about. */
export type Repair =
  | { kind: 'none' }
  | { kind: 'wait'; untilMs: number }
  /** The firing's incarnation looks gone: confirm with etcd before acting. */
  | { kind: 'transition'; next: Firing | null; runs: Run[]; lost: boolean; retried: boolean; confirmLeaseGone: boolean };

export interface RepairContext extends PlanContext {
  liveLeases: Set<string>;
  isDraining(node: string): boolean;
  /** Leases whose nodes have stopped claiming (domain/claims.ts). */
  silent?: ReadonlySet<string>;
  /** Runs whose outcome this (the leader's own) node holds in its journal, not committed yet (agent/outcome-journal.ts). */
  journalled?: (runId: string) => boolean;
}

/** How soon the leader looks again at a firing whose outcome its own node's journal still holds. */
const JOURNALLED_WAIT_MS = 1_000;

/**
 * Pure: a firing whose incarnation vanished (never claimed: placed again, same attempt;
 * running: a `lost` run record, then attempt + 1 elsewhere unless onLost is discard), one
 * assigned to a draining or silent node (placed elsewhere), an unassigned one or a retry that is due
 * (placed), and the firings of a deleted task that never started (dropped).
 */
export function repairFiring(f: Firing, task: Task | undefined, ctx: RepairContext): Repair {
  const now = ctx.nowMs;
  if ((f.state === 'assigned' || f.state === 'running') && f.lease && !ctx.liveLeases.has(f.lease)) {
    // Never started: assigned, or claimed for an instant still ahead (a node past its lease
    // deadline starts nothing, and that deadline is before the lease's expiry in etcd).
    const started = hasStarted(f, now);
    // Its outcome is in this node's own journal (etcd was away when the run ended): not lost,
    // it goes in with the journal's next round. Taken back now, it would run again.
    if (started && ctx.journalled?.(firingRunId(f))) return { kind: 'wait', untilMs: now + JOURNALLED_WAIT_MS };
    if (!started) {
      const again = placeAgain(placeAgainSame(f), task, ctx);
      // Claimed ahead, its node starts it by a local timer: be sure the lease is gone in etcd.
      return f.state === 'running' && again.kind === 'transition' ? { ...again, confirmLeaseGone: true } : again;
    }
    const lost: Run = {
      ...attemptRun(f), node: f.node, state: 'lost', startedMs: f.startedMs, endedMs: now,
      message: `node ${f.node} (lease ${f.lease}) vanished while the run was in flight (or claimed, before its instant)`,
    };
    const retry = !!task && (isDaemon(task) || task.policies.onLost === 'retry');
    const next = retry ? place(nextAttemptNow(f, now), task, ctx) : null;
    return { kind: 'transition', next, runs: [lost], lost: true, retried: retry, confirmLeaseGone: true };
  }
  if (f.state === 'assigned' && f.node && (ctx.isDraining(f.node) || (!!f.lease && !!ctx.silent?.has(f.lease)))) return placeAgain(f, task, ctx);
  if (f.state === 'unassigned' || (f.state === 'retry-wait' && f.dueMs <= now)) {
    if (!task) return move(null, false, false);
    if (f.state === 'unassigned' && missedByPolicy(f, task, now)) return skip(f, task, now);
    if ('container' in task.action && !ctx.nodes.some((n) => n.runtimes?.length)) {
      return end(f, task, now, 'failed', 'no node of the cluster has a container runtime (docker or podman): the task cannot run anywhere');
    }
    const placed = place({ ...f }, task, ctx);
    if (placed.state === 'unassigned') {
      // No node takes it now (resources, constraints, deps): it waits, until it expires if its task says so.
      const exp = task.policies.expireAfterMs;
      if (exp === undefined || ctx.blocked?.(task)) return f.state === 'unassigned' ? { kind: 'none' } : move(placed, true, false);
      const waitedFrom = f.dueMs;
      if (now >= waitedFrom + exp) return end(f, task, now, 'expired', `expired: no node could take it within ${Math.round(exp / 1000)} s (resources, constraints or placement)`);
      return f.state === 'unassigned' ? { kind: 'wait', untilMs: waitedFrom + exp } : move(placed, true, false);
    }
    return move(placed, f.state === 'retry-wait', false);
  }
  if (f.state === 'retry-wait') return { kind: 'wait', untilMs: f.dueMs };
  if (!task && f.state === 'assigned') return move(null, false, false);
  return { kind: 'none' };
}

/** A scheduled first attempt that never started and is now too late for its misfire policy. */
function missedByPolicy(f: Firing, task: Task, now: number): boolean {
  return (f.trigger === 'schedule' || f.trigger === 'catch-up') && f.attempt === 1 && !stillRunsWhenLate(task.policies.misfire, f.scheduledMs, now);
}

function skip(f: Firing, task: Task, now: number): Repair {
  const run = skippedRun(task, f.scheduledMs, f.trigger, `skipped: not started within the misfire policy '${task.policies.misfire.mode}' (no node started it in time)`, now);
  return { kind: 'transition', next: null, runs: [f.replica ? { ...run, replica: f.replica, id: firingRunId(f) } : run], lost: false, retried: false, confirmLeaseGone: false };
}

/** A firing that will not run: its attempt ends with a run record saying why, never started. */
function end(f: Firing, task: Task, now: number, state: 'failed' | 'expired', message: string): Repair {
  const run: Run = { ...attemptRun(f), tenant: task.tenant, state, endedMs: now, message };
  return { kind: 'transition', next: null, runs: [run], lost: false, retried: false, confirmLeaseGone: false };
}

/** A firing that never started goes to another node (same attempt), unless its policy now skips it. */
function placeAgain(f: Firing, task: Task | undefined, ctx: RepairContext): Repair {
  if (!task) return move(null, false, false);
  if (missedByPolicy(f, task, ctx.nowMs)) return skip(f, task, ctx.nowMs);
  return move(place({ ...f }, task, ctx), false, false);
}

function move(next: Firing | null, retried: boolean, confirmLeaseGone: boolean): Repair {
  return { kind: 'transition', next, runs: [], lost: false, retried, confirmLeaseGone };
}

export interface TriggerPlan {
  firings: Firing[];
  skipped: Run | null;
  kills: { node: string; runId: string }[];
}

/**
 * Pure: a manual trigger (or a restart, `replace`) of a task at `ms`: its replica firings, or a
 * skipped run under overlap forbid, and the kills a replace needs. Daemons are never triggered
 * (a restart is a new generation).
 */
export function planTrigger(task: Task, ms: number, req: { params?: Record<string, unknown>; replace?: boolean }, active: Firing[], ctx: PlanContext): TriggerPlan {
  const decision = overlapDecision(req.replace ? 'replace' : task.policies.overlap, active.filter(isActive).length);
  if (decision === 'skip') {
    return { firings: [], skipped: skippedRun(task, ms, 'manual', 'skipped: the previous run is still active (overlap forbid)', ctx.nowMs), kills: [] };
  }
  const kills = decision === 'replace' ? active.filter((a) => hasStarted(a, ctx.nowMs) && a.node).map((a) => ({ node: a.node!, runId: firingRunId(a) })) : [];
  const firings = replicaFirings(task, ms, 'manual', ctx.nowMs, req.params).map((f) => place(f, task, ctx));
  return { firings, skipped: null, kills };
}

import { missedFirings, nextFire } from '../domain/schedule.js';
import { isLate, overlapDecision, planMisfire } from '../domain/policies.js';
import { charge, chooseNode, type NodeInfo } from '../domain/placement.js';
import { firingRunId, replicaFirings, skippedRun, isActive, type Firing } from '../domain/firing.js';
import type { Task, Trigger } from '../domain/task.js';
import type { FiringPlan } from '../store/leader-firings.js';
import type { CandidatePlan } from '../store/plan-store.js';
import { lateUntilMs, rankCandidates } from '../domain/candidates.js';
import type { Versioned } from '../store/keys.js';

/** At most this many firings of one task are planned in one step (catch-up is bounded). */
export const MAX_FIRINGS_PER_STEP = 100;

export interface PlanContext {
  nowMs: number;
  /**
   * Plan up to this instant (>= nowMs): firings a little ahead are written before they are due,
   * so the plan transaction is off the critical path; the node starts them at their time.
   */
  horizonMs?: number;
  nodes: NodeInfo[];
  /** Advanced for every placement decision (round-robin, tie-breaks). */
  turn: { n: number };
  random: () => number;
  /** Tasks that must wait for their deps get no node (their firings stay pending). */
  blocked?: (task: Task) => boolean;
}

/** When the task next needs the planner, or null when it never fires on its own. */
export function nextDueMs(task: Task, cursorMs: number): number | null {
  if (!task.enabled) return null;
  return nextFire(task.schedule, cursorMs, task.createdMs);
}

/**
 * Assigns a firing to a node (or leaves it unassigned when no node is eligible or its deps are
 * busy). Each placement counts as load, so the replicas of one firing spread across nodes.
 */
export function place(f: Firing, task: Task, ctx: PlanContext): Firing {
  const requests = task.placement.requests;
  const n = ctx.blocked?.(task) ? null : chooseNode(ctx.nodes, task.placement, ctx.turn.n++, ctx.random, { container: 'container' in task.action });
  if (!n) return { ...f, state: 'unassigned', node: undefined, lease: undefined };
  charge(n, requests);
  const { requests: _was, via: _via, ...rest } = f;
  return { ...rest, state: 'assigned', node: n.id, lease: n.lease, ...(requests && (requests.cpu || requests.memMb) ? { requests } : {}) };
}

/**
 * Everything due for one task at ctx.nowMs: the firings between its cursor and now, split by
 * the misfire policy into on-time, caught-up and skipped ones, then filtered by the overlap
 * policy against the firings still active. Pure: the caller writes the plan.
 */
export function planTask(task: Task, cursor: Versioned<number> | undefined, active: Versioned<Firing>[], ctx: PlanContext): FiringPlan | null {
  if (!task.enabled) return null;
  const fromMs = cursor?.value ?? task.createdMs;
  const { firings: due, total } = missedFirings(task.schedule, fromMs, Math.max(ctx.nowMs, ctx.horizonMs ?? ctx.nowMs), task.createdMs, MAX_FIRINGS_PER_STEP);
  if (due.length === 0) return null;
  const newest = due[due.length - 1]!;
  const policy = task.policies.misfire;
  const late = due.filter((ms) => isLate(policy, ms, ctx.nowMs));
  const onTime = due.filter((ms) => !isLate(policy, ms, ctx.nowMs));
  const lateTotal = total - onTime.length;
  const catchUp = late.length > 0 ? planMisfire(policy, late, lateTotal, ctx.nowMs) : { run: [], skipped: 0 };

  const plan: FiringPlan = { taskId: task.id, cursor: { expectRev: cursor?.modRevision ?? 0, toMs: newest }, firings: [], skipped: [], kills: [] };
  if (catchUp.skipped > 0) {
    const at = late.find((ms) => !catchUp.run.includes(ms)) ?? late[0]!;
    plan.skipped.push(skippedRun(task, at, 'catch-up', `skipped ${catchUp.skipped} missed firing(s) by misfire policy '${policy.mode}'`, ctx.nowMs));
  }
  // An instant whose firing exists already is planned (a resume moves the cursor back to now,
  // before firings written ahead that a pause may not have dropped): the cursor passes it.
  const planned = new Set(active.map((e) => e.value.scheduledMs));
  const wanted: [number, Trigger][] = [...catchUp.run.map((ms): [number, Trigger] => [ms, 'catch-up']), ...onTime.map((ms): [number, Trigger] => [ms, 'schedule'])].filter(([ms]) => !planned.has(ms));
  let activeCount = active.filter((e) => isActive(e.value)).length;
  for (const [ms, trigger] of wanted) {
    const decision = overlapDecision(task.policies.overlap, activeCount);
    if (decision === 'skip') {
      plan.skipped.push(skippedRun(task, ms, trigger, 'skipped: the previous run is still active (overlap forbid)', ctx.nowMs));
      continue;
    }
    if (decision === 'replace' && plan.kills.length === 0) {
      for (const e of active) if (e.value.state === 'running' && (e.value.startedMs ?? 0) <= ctx.nowMs && e.value.node) plan.kills.push({ node: e.value.node, runId: firingRunId(e.value) });
    }
    for (const f of replicaFirings(task, ms, trigger, ctx.nowMs)) plan.firings.push(place(f, task, ctx));
    activeCount++;
  }
  return plan;
}

/**
 * A plan's firings as planned firings with candidates (protocol v2): each placed firing's node
 * is its first candidate, the other eligible nodes follow. null when the plan needs the leader at
 * the instant after all: a firing no node takes now (it waits unassigned) or a catch-up (the
 * misfire policy ran it late on purpose, which the candidates' lateness limit would refuse).
 */
export function withCandidates(plan: FiringPlan, task: Task, taskRev: number, ctx: PlanContext): CandidatePlan | null {
  if (plan.kills.length > 0) return null;
  const planned: CandidatePlan['planned'] = [];
  for (const f of plan.firings) {
    const first = f.state === 'assigned' ? ctx.nodes.find((n) => n.id === f.node) : undefined;
    if (!first || f.trigger !== 'schedule') return null;
    planned.push({
      taskId: f.taskId,
      tenant: f.tenant,
      scheduledMs: f.scheduledMs,
      replica: f.replica ?? 0,
      trigger: 'schedule',
      taskRev,
      candidates: rankCandidates(first, ctx.nodes, task, ctx.turn.n++),
      lateUntilMs: lateUntilMs(task.policies.misfire, f.scheduledMs),
      ...(f.requests ? { requests: f.requests } : {}),
    });
  }
  return { taskId: plan.taskId, cursor: plan.cursor, planned, skipped: plan.skipped };
}

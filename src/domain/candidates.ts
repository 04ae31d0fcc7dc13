import { isDaemon, type Firing } from './firing.js';
import { eligibleNodes, type NodeInfo } from './placement.js';
import type { MisfirePolicy, Task } from './task.js';

/**
 * Firing protocol v2, the pure part. The leader writes firings well ahead of their instant (a
 * horizon longer than a failover), each with an ordered list of candidate nodes; at the instant
 * the first candidate claims it by compare-and-swap (the firing key created only if absent),
 * the next one a claim step later if it has not, and so on. A dead, frozen, draining or full
 * node simply does not claim: nobody has to notice it, and one winner is the swap's promise.
 */
export interface PlannedFiring {
  taskId: string;
  tenant: string;
  scheduledMs: number;
  replica: number;
  trigger: 'schedule' | 'catch-up';
  /**
   * The mod revision of the task definition it was planned from: the claim compares it, so a
   * firing planned before an update, a pause or a delete never fires from a stale definition.
   */
  taskRev: number;
  /** Node ids in claim order. */
  candidates: string[];
  /** The last instant it may still start (its misfire policy); after that the leader records it missed. */
  lateUntilMs: number;
  requests?: { cpu?: number; memMb?: number };
}

/** Default time each candidate waits for the one before it (scheduler.claimStepMs). */
export const CLAIM_STEP_MS = 250;

/** Candidates per firing (at most): the first, and two to take over from it. */
export const MAX_CANDIDATES = 3;

/** After the last candidate's turn, the leader waits this much more before it steps in. */
export const BACKSTOP_SLACK_MS = 500;

/**
 * Tasks whose firings are planned with candidates: their run at the instant depends on nothing
 * but the definition. Overlap forbid/replace and deps depend on what runs at the instant, cpu and
 * memory requests on what fits beside it then (the leader counts what each node runs), and
 * daemons on their replicas: those keep the leader's assignment written just before the instant.
 */
export function usesCandidates(task: Task): boolean {
  const r = task.placement.requests;
  return !isDaemon(task) && task.policies.overlap === 'allow' && !task.deps?.length && !r?.cpu && !r?.memMb;
}

/** The last instant a firing scheduled at `ms` may start under its misfire policy. */
export function lateUntilMs(policy: MisfirePolicy, ms: number): number {
  return ms + (policy.mode === 'skip' ? policy.graceMs : Math.max(policy.graceMs, policy.windowMs));
}

/**
 * The claim order for one firing: the node placement chose first, then the other eligible nodes
 * (rotated by `turn`, so a dead first candidate's firings spread over the rest), `max` in all.
 */
export function rankCandidates(first: NodeInfo, nodes: NodeInfo[], task: Task, turn: number, max = MAX_CANDIDATES): string[] {
  const others = eligibleNodes(nodes, task.placement, { container: 'container' in task.action })
    .filter((n) => n.id !== first.id)
    .map((n) => n.id)
    .sort();
  const rotated = others.map((_, i) => others[(i + turn) % others.length]!);
  return [first.id, ...rotated].slice(0, Math.max(1, max));
}

/**
 * When `nodeId` claims the firing if no one before it has (null: not a candidate). The first
 * candidate may claim `leadMs` ahead of the instant (scheduler.claimLeadMs, default 0), taking
 * the claim's round trip off the way to the start; a first candidate that dies between such a
 * claim and the instant holds its firing until its lease expires (the leader then places it
 * again, as a never-started claim), so the lead trades a little of the failover bound for
 * lateness.
 */
export function claimAtMs(p: PlannedFiring, nodeId: string, stepMs: number, leadMs = 0): number | null {
  const rank = p.candidates.indexOf(nodeId);
  if (rank < 0) return null;
  return rank === 0 ? p.scheduledMs - leadMs : p.scheduledMs + rank * stepMs;
}

/** The backstop's wait stretches by at most this much when claims are slow (backstopAtMs). */
export const MAX_BACKSTOP_STRETCH_MS = 4_000;

/**
 * When the leader looks at a planned firing that no candidate has claimed: after the last
 * candidate's turn and a slack, or, while claims reach the leader late (`slowMs`: the slowest
 * recent one, from the instant to the leader seeing it), after twice that, at most
 * MAX_BACKSTOP_STRETCH_MS more. Under overload every claim came after the fixed wait and the
 * leader read back nearly every firing (70,000 reads in a minute at 2,000 firings/s, on the
 * busiest node), feeding the overload; a dead candidate's turn passes to the next one without
 * the backstop, so the stretch costs a failover nothing.
 */
export function backstopAtMs(p: PlannedFiring, stepMs: number, slowMs = 0): number {
  const base = Math.max(1, p.candidates.length) * stepMs + BACKSTOP_SLACK_MS;
  return p.scheduledMs + Math.max(base, Math.min(base + MAX_BACKSTOP_STRETCH_MS, 2 * slowMs));
}

export interface CandidateState {
  nodeId: string;
  alive: boolean;
  draining: boolean;
  /** Its clock is off from the cluster's (domain/clock-skew.ts): it claims nothing, not even as the last candidate. */
  skewed?: boolean;
  /** Firings running on it now and its capacity. */
  inflight: number;
  capacity: number;
}

/**
 * Whether a candidate claims now. It passes while it cannot take work (lease deadline passed,
 * draining, its clock off from the others') or is full, unless it is the last candidate (the firing would otherwise wait for
 * the leader); past the misfire policy's limit nobody claims, and the leader records a miss.
 */
export function claimDecision(p: PlannedFiring, me: CandidateState, nowMs: number): 'claim' | 'pass' | 'late' {
  if (!me.alive || me.draining || me.skewed) return 'pass';
  if (nowMs > p.lateUntilMs) return 'late';
  const last = p.candidates.indexOf(me.nodeId) === p.candidates.length - 1;
  if (me.inflight >= me.capacity && !last) return 'pass';
  return 'claim';
}

/** The firing a winning claim writes: running on this incarnation from now (or from its instant, claimed ahead). */
export function claimedFiring(p: PlannedFiring, node: string, lease: string, nowMs: number): Firing {
  return {
    taskId: p.taskId,
    tenant: p.tenant,
    scheduledMs: p.scheduledMs,
    ...(p.replica ? { replica: p.replica } : {}),
    attempt: 1,
    trigger: p.trigger,
    state: 'running',
    node,
    lease,
    dueMs: p.scheduledMs,
    // Claimed ahead (claimLeadMs): it starts at its instant.
    startedMs: Math.max(nowMs, p.scheduledMs),
    via: 'candidate',
    ...(p.requests ? { requests: p.requests } : {}),
  };
}

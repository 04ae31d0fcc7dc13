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

/** A later candidate's turn stretches by at most this much while the ones before it say their claims land late (turnStretchMs). */
export const MAX_TURN_STRETCH_MS = 1_500;

/**
 * How much later than its claim step a later candidate looks: by as much as the slowest of the
 * candidates before it says its claims land after their turns (`claimMsOf`: each node's recent
 * claims, turn to commit, as it publishes them; 0 unknown), beyond the step, at most
 * MAX_TURN_STRETCH_MS. Under overload a first candidate's claim takes longer than a step to land:
 * the second looked, found the firing open, and raced it (a read and a failed transaction per
 * firing, feeding the overload: at 1,500-2,000 firings/s here runs went from 0.3 s late to
 * several seconds and stayed there). A dead node publishes nothing new: after its last reading
 * ages out (clock-check.ts) its turn passes after one step again, and while it lasts it was
 * quick unless the cluster was already slow.
 */
export function turnStretchMs(p: PlannedFiring, nodeId: string, stepMs: number, claimMsOf: (node: string) => number): number {
  const rank = p.candidates.indexOf(nodeId);
  let slow = 0;
  for (let i = 0; i < rank; i++) slow = Math.max(slow, claimMsOf(p.candidates[i]!));
  return stretchFor(slow, stepMs);
}

/** How much longer than a step the next candidate waits for one whose claims land `claimMs` after its turn. */
export function stretchFor(claimMs: number, stepMs: number): number {
  return Math.min(MAX_TURN_STRETCH_MS, Math.max(0, claimMs - stepMs));
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
  /** Nodes that said, in their last fresh reading, that they too were full at their turns (agent/clock-check.ts). */
  fullPeers?: ReadonlySet<string>;
}

/**
 * Whether a candidate claims now. It passes while it cannot take work (lease deadline passed,
 * draining, its clock off from the others'); past the misfire policy's limit nobody claims, and
 * the leader records a miss. A full candidate passes only to a later one that may have room: the
 * last one claims even when full (the firing would otherwise wait for the leader), and so does one
 * whose every later candidate says it is full too. Under a load that fills every node (2,000
 * callbacks/s here) passing would only make each firing wait a claim step per candidate and cost
 * a read each, the first candidate's run starting no sooner on the last one.
 */
export function claimDecision(p: PlannedFiring, me: CandidateState, nowMs: number): 'claim' | 'pass' | 'late' {
  if (!me.alive || me.draining || me.skewed) return 'pass';
  if (nowMs > p.lateUntilMs) return 'late';
  if (me.inflight >= me.capacity && roomLater(p, me)) return 'pass';
  return 'claim';
}

/** Whether a candidate after this one may have room: one not known to be full (no fresh reading says so). */
function roomLater(p: PlannedFiring, me: CandidateState): boolean {
  const rank = p.candidates.indexOf(me.nodeId);
  return p.candidates.slice(rank + 1).some((c) => !me.fullPeers?.has(c));
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

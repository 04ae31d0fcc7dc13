/**
 * "Why did this not run?" (pure): one slot per instant a task's schedule had in a range, and one
 * per manual trigger, each with what became of it and why, in words, from the run records, the
 * firings in flight, the task's pauses and its cursor.
 */
import type { Firing } from './firing.js';
import type { Run, Trigger } from './task.js';

export type SlotOutcome = 'succeeded' | 'failed' | 'running' | 'pending' | 'skipped' | 'missed' | 'paused' | 'lost';

export interface SlotRun {
  attempt: number;
  replica?: number;
  node?: string;
  state: Run['state'];
  trigger: Trigger;
  /** From the instant to the start (ms), for a run that started. */
  latenessMs?: number;
  message?: string;
}

export interface Slot {
  scheduledAt: number;
  trigger: 'schedule' | 'manual';
  outcome: SlotOutcome;
  /** In words, for everything but a success. */
  reason?: string;
  runs: SlotRun[];
}

export interface SlotFacts {
  /** The schedule's instants in the range, any order. */
  instants: number[];
  /** The task's run records (any attempts, any replicas) and its firings in flight. */
  runs: Run[];
  firings: Firing[];
  /** Periods the task was paused (toMs null: still paused). */
  pauses: { fromMs: number; toMs: number | null }[];
  /** The task's schedule cursor: instants up to it were planned. */
  cursorMs: number | null;
  /** Instants still in the stored plans (protocol v2): planned, and not yet gone through a claim or the backstop to a firing and a record. */
  plannedMs?: number[];
  /** The oldest run record kept (history bounds prune older ones), if any. */
  oldestKeptMs: number | null;
  nowMs: number;
  fromMs: number;
  toMs: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** An instant this recent with nothing recorded is still being claimed, not missed. */
const JUST_DUE_MS = 5_000;

function slotRun(r: Run): SlotRun {
  return {
    attempt: r.attempt,
    ...(r.replica ? { replica: r.replica } : {}),
    ...(r.node ? { node: r.node } : {}),
    state: r.state,
    trigger: r.trigger,
    ...(r.startedMs !== undefined ? { latenessMs: r.startedMs - r.scheduledMs } : {}),
    ...(r.message ? { message: r.message } : {}),
  };
}

/** A firing in flight as a slot run (waiting for a node, placed, running, waiting to retry). */
function firingRun(f: Firing): SlotRun {
  const state: Run['state'] = f.state === 'running' ? 'running' : 'pending';
  return { attempt: f.attempt, ...(f.replica ? { replica: f.replica } : {}), ...(f.node ? { node: f.node } : {}), state, trigger: f.trigger, ...(f.state === 'running' && f.startedMs !== undefined ? { latenessMs: f.startedMs - f.scheduledMs } : {}) };
}

function pendingReason(f: Firing, nowMs: number): string {
  if (f.state === 'unassigned') return 'waiting for a node that can take it (resources, constraints, placement)';
  if (f.state === 'retry-wait') return `attempt ${f.attempt} waits to retry at ${iso(f.dueMs)}`;
  if (f.state === 'running' && f.startedMs !== undefined && f.startedMs > nowMs) return `claimed by ${f.node}, starts at ${iso(f.startedMs)}`;
  return `placed on ${f.node ?? 'a node'}, not started yet`;
}

/** What became of one instant, from its runs (newest attempt decides) and its firings. */
function decide(ms: number, trigger: 'schedule' | 'manual', runs: Run[], firings: Firing[], f: SlotFacts): Slot {
  const items = [...runs.map(slotRun), ...firings.filter((x) => !runs.some((r) => r.attempt === x.attempt && (r.replica ?? 0) === (x.replica ?? 0))).map(firingRun)].sort((a, b) => a.attempt - b.attempt || (a.replica ?? 0) - (b.replica ?? 0));
  const base = { scheduledAt: ms, trigger, runs: items };
  const live = firings.find((x) => x.state === 'running' && x.startedMs !== undefined && x.startedMs <= f.nowMs);
  if (live) return { ...base, outcome: 'running', reason: `running on ${live.node} since ${iso(live.startedMs!)} (attempt ${live.attempt})` };
  const waiting = firings[0];
  if (waiting) return { ...base, outcome: 'pending', reason: pendingReason(waiting, f.nowMs) };
  const last = [...runs].sort((a, b) => b.attempt - a.attempt)[0];
  if (last) {
    const tries = last.attempt > 1 ? ` (attempt ${last.attempt}; earlier attempts: ${runs.filter((r) => r.attempt < last.attempt).map((r) => r.state).join(', ')})` : '';
    switch (last.state) {
      case 'succeeded':
        return { ...base, outcome: 'succeeded', ...(tries ? { reason: `succeeded${tries}` } : {}) };
      case 'skipped':
        return { ...base, outcome: 'skipped', reason: last.message ?? 'skipped' };
      case 'lost':
        return { ...base, outcome: 'lost', reason: last.message ?? `node ${last.node} was lost while it ran, and no retry followed` };
      case 'expired':
        return { ...base, outcome: 'failed', reason: last.message ?? 'expired: no node could take it in time' };
      case 'running':
      case 'pending':
        return { ...base, outcome: 'pending', reason: last.message ?? 'not finished' };
      default:
        return { ...base, outcome: 'failed', reason: `${last.state}${last.exitCode !== undefined ? ` (exit code ${last.exitCode})` : last.httpStatus !== undefined ? ` (HTTP ${last.httpStatus})` : ''}${last.message ? `: ${last.message}` : ''}${tries}` };
    }
  }
  if (ms > f.nowMs) return { ...base, outcome: 'pending', reason: `due at ${iso(ms)}` };
  // Just due: a planned firing (protocol v2) has no key until a candidate claims it at its instant.
  if (f.nowMs - ms < JUST_DUE_MS) return { ...base, outcome: 'pending', reason: 'due just now: its candidates are claiming it' };
  const pause = f.pauses.find((p) => p.fromMs <= ms && (p.toMs === null || ms < p.toMs));
  if (pause) return { ...base, outcome: 'paused', reason: `the task was paused from ${iso(pause.fromMs)}${pause.toMs ? ` to ${iso(pause.toMs)}` : ' (still paused)'}` };
  if (f.oldestKeptMs !== null && ms < f.oldestKeptMs) return { ...base, outcome: 'missed', reason: 'no run record: older than the history kept (runs.keep, runs.maxAgeMs), so what happened is not known any more' };
  if (f.cursorMs === null || ms > f.cursorMs) return { ...base, outcome: 'pending', reason: 'not planned yet: no leader has reached this instant (none elected, or catching up)' };
  // Still in a stored plan with no firing and no record: no node has claimed it yet, and the leader's backstop has not placed it (etcd slow or without a quorum, a leader changing): late, not lost.
  if (f.plannedMs?.includes(ms)) return { ...base, outcome: 'pending', reason: `planned, not claimed yet (${Math.round((f.nowMs - ms) / 1000)} s late): no candidate has claimed it and the leader's backstop has not placed it yet` };
  return { ...base, outcome: 'missed', reason: 'planned, but no run record and no firing: nothing ran it (the task was changed or deleted and created again, or the record was lost with an etcd restore)' };
}

/** The slots of [fromMs, toMs], newest first: one per schedule instant, one per manual trigger. */
export function slotsOf(f: SlotFacts): Slot[] {
  const inRange = (ms: number) => ms >= f.fromMs && ms <= f.toMs;
  const byMs = <T extends { scheduledMs: number }>(xs: T[]) => {
    const m = new Map<number, T[]>();
    for (const x of xs) if (inRange(x.scheduledMs)) m.set(x.scheduledMs, [...(m.get(x.scheduledMs) ?? []), x]);
    return m;
  };
  const runs = byMs(f.runs);
  const firings = byMs(f.firings);
  const instants = new Set(f.instants.filter(inRange));
  const manual = new Set<number>();
  for (const [ms, rs] of runs) if (!instants.has(ms) && rs.some((r) => r.trigger === 'manual' || r.trigger === 'retry')) manual.add(ms);
  for (const [ms, fs] of firings) if (!instants.has(ms) && fs.some((x) => x.trigger === 'manual' || x.trigger === 'retry')) manual.add(ms);
  const slots = [
    ...[...instants].map((ms) => decide(ms, 'schedule', runs.get(ms) ?? [], firings.get(ms) ?? [], f)),
    ...[...manual].map((ms) => decide(ms, 'manual', runs.get(ms) ?? [], firings.get(ms) ?? [], f)),
  ];
  return slots.sort((a, b) => b.scheduledAt - a.scheduledAt);
}

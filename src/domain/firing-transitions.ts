/**
 * Every change of a firing between its creation and its end, as pure functions: the agent (which
 * holds a claimed firing) and the leader's repair (which takes back what a vanished node held)
 * build their writes from these, so both agree on what each transition means.
 *
 *   retryWait        a failed attempt waits for its retry (no node; attempt + 1, trigger retry)
 *   nextAttemptNow   a lost attempt is retried at once (attempt + 1, trigger retry)
 *   handBack         a node gives a firing back to the leader to place elsewhere (drain): the same
 *                    attempt when it never started, the next one when it ran
 *   placeAgainSame   the leader places a never-started firing again (same attempt)
 *   restartWait      a daemon replica exited and waits for its restart delay (attempt + 1)
 *   restarted        a daemon replica started again
 *   afterRun         what a node does with a firing whose attempt has just ended (the decision
 *                    beside the leader's repair, scheduler/repair.ts)
 */
import { asRetry, isDaemon, type Firing } from './firing.js';
import { isQuickExit, restartDelayMs, retryDelayMs } from './policies.js';
import type { Run, RunState, Task } from './task.js';
import { stableJson } from '../lib/stable-json.js';

/** Node-bound fields a firing sheds when it leaves its node or its process. */
const unbound = { node: undefined, lease: undefined, pid: undefined, startedMs: undefined } as const;

export function retryWait(f: Firing, endedMs: number, delayMs: number): Firing {
  return { ...f, ...unbound, state: 'retry-wait', ...asRetry(f), dueMs: endedMs + delayMs };
}

/** The retry of an attempt whose node vanished while it ran (placed by the caller). */
export function nextAttemptNow(f: Firing, nowMs: number): Firing {
  return { ...f, startedMs: undefined, pid: undefined, ...asRetry(f), dueMs: nowMs };
}

export function handBack(f: Firing, atMs: number, ran: boolean): Firing {
  return { ...f, ...unbound, state: 'unassigned', ...(ran ? { attempt: f.attempt + 1 } : {}), dueMs: atMs };
}

export function placeAgainSame(f: Firing): Firing {
  return { ...f, startedMs: undefined, pid: undefined };
}

export function restartWait(f: Firing, exitCode: number | undefined, delayMs: number): Firing {
  return { ...f, attempt: f.attempt + 1, restarts: (f.restarts ?? 0) + 1, lastExitCode: exitCode ?? -1, backoffMs: delayMs, pid: undefined, startedMs: undefined, trigger: 'retry' };
}

export function restarted(f: Firing, atMs: number): Firing {
  return { ...f, startedMs: atMs, backoffMs: undefined };
}

/** Whether the stored firing is the one a write put there (read back after an uncertain write). */
export function sameFiring(a: Firing, b: Firing): boolean {
  return stableJson(a) === stableJson(b);
}

/**
 * Whether the stored firing is still the attempt a node claimed, its pid aside: the node's own
 * pid write is the one change a firing goes through without changing hands or state (an
 * outcome's commit may find it applied although its reply was lost).
 */
export function sameClaim(stored: Firing, claimed: Firing): boolean {
  return sameFiring({ ...stored, pid: undefined }, { ...claimed, pid: undefined });
}

/**
 * Why a node stopped a run: 'operator' | 'stop' | 'replace' end it as killed; 'restart' too, and
 * a daemon replica then starts again at once (an operator's restart of one replica); 'drain' hands the
 * firing back to be placed elsewhere; 'shutdown' and 'lease-lost' commit nothing (the leader
 * marks the run lost once the lease is gone).
 */
export type AbortReason = 'operator' | 'restart' | 'stop' | 'replace' | 'drain' | 'shutdown' | 'lease-lost';

/** How an attempt ended, as its node saw it. */
export interface AttemptEnd {
  state: RunState;
  exitCode?: number;
  reason?: AbortReason;
  endedMs: number;
  /** How long it ran, and the daemon's quick exits in a row before this one. */
  upMs: number;
  quickExits: number;
  /** Whether the node still takes work and holds its lease. */
  accepting: boolean;
  alive: boolean;
}

export type AfterRun =
  /** Shutdown or lease lost: nothing is written, the leader marks the run lost. */
  | { kind: 'leave' }
  /** Drain: the firing goes back to the leader (next attempt), the run ends here. */
  | { kind: 'hand-back'; next: Firing }
  /** A daemon replica waits `delayMs` and starts again (next attempt, same firing). */
  | { kind: 'restart'; next: Firing; delayMs: number; quickExits: number }
  /** The outcome: the firing ends, or waits for its retry (`next`). */
  | { kind: 'end'; next: Firing | null };

/** Pure: what becomes of a firing whose attempt has just ended on its node. */
export function afterRun(f: Firing, task: Task, e: AttemptEnd): AfterRun {
  if (e.reason === 'shutdown' || e.reason === 'lease-lost') return { kind: 'leave' };
  if (e.reason === 'drain') return { kind: 'hand-back', next: handBack(f, e.endedMs, true) };
  const daemon = isDaemon(task);
  // An operator's restart of one replica: it starts again at once, as the next attempt, with no backoff.
  if (daemon && e.reason === 'restart' && e.accepting && e.alive) return { kind: 'restart', next: restartWait(f, e.exitCode, 0), delayMs: 0, quickExits: 0 };
  if (daemon && e.reason === undefined && e.accepting && e.alive) {
    const quickExits = isQuickExit(task.policies.restart, e.upMs) ? e.quickExits + 1 : 0;
    const delayMs = restartDelayMs(task.policies.restart, quickExits);
    return { kind: 'restart', next: restartWait(f, e.exitCode, delayMs), delayMs, quickExits };
  }
  const delay = e.state === 'failed' && !daemon ? retryDelayMs(task.policies.retry, f.attempt) : null;
  return { kind: 'end', next: delay === null ? null : retryWait(f, e.endedMs, delay) };
}

/**
 * A node's own outcome that reaches etcd after the leader had written the attempt `lost` (the
 * node's lease ran out first, and the leader may have retried it): the real result, saying that
 * it came late, so a retry beside it is still explained.
 */
export function lateOutcome(run: Run, lost: Run): Run {
  const why = `recorded late: the leader had presumed this attempt lost${lost.message ? ` (${lost.message})` : ''}`;
  return { ...run, message: run.message ? `${run.message}; ${why}` : why };
}

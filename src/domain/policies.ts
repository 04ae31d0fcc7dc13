/**
 * Policy decisions as pure functions: retries, misfires, overlap and daemon restarts.
 */
import type { MisfirePolicy, OverlapPolicy, RestartPolicy, RetryPolicy } from './task.js';

const DEFAULT_RETRY_INITIAL_MS = 1_000;
const DEFAULT_RETRY_FACTOR = 2;
const DEFAULT_RETRY_CAP_MS = 5 * 60_000;

/**
 * Delay before the attempt after failed attempt `failedAttempt` (attempts start at 1), or null
 * when no retry is left. With delaysMs the delay before attempt n+1 is delaysMs[n-1]; otherwise
 * up to `max` (default 0) retries of min(capMs ?? 5min, (initialMs ?? 1s) * (factor ?? 2)^(n-1)).
 */
export function retryDelayMs(policy: RetryPolicy, failedAttempt: number): number | null {
  if (!Number.isInteger(failedAttempt) || failedAttempt < 1) {
    throw new RangeError(`attempt numbers start at 1, got ${failedAttempt}`);
  }
  if (policy.delaysMs) return policy.delaysMs[failedAttempt - 1] ?? null;
  if (failedAttempt > (policy.max ?? 0)) return null;
  const initial = policy.initialMs ?? DEFAULT_RETRY_INITIAL_MS;
  const factor = policy.factor ?? DEFAULT_RETRY_FACTOR;
  const cap = policy.capMs ?? DEFAULT_RETRY_CAP_MS;
  return Math.round(Math.min(cap, initial * Math.pow(factor, failedAttempt - 1)));
}

/** True when a firing scheduled at scheduledMs is more than graceMs late at nowMs. */
export function isLate(policy: MisfirePolicy, scheduledMs: number, nowMs: number): boolean {
  return nowMs - scheduledMs > policy.graceMs;
}

/**
 * A scheduled firing that was written but never started (its node drained or vanished, no node
 * was free) and is now placed again: whether it still runs. On time, yes; late, by the misfire
 * policy: skip drops it, run-all and run-once run it while it is within the window.
 */
export function stillRunsWhenLate(policy: MisfirePolicy, scheduledMs: number, nowMs: number): boolean {
  if (!isLate(policy, scheduledMs, nowMs)) return true;
  return policy.mode !== 'skip' && nowMs - scheduledMs <= policy.windowMs;
}

/**
 * Which missed firings to run. `missed` holds ascending scheduled instants already known to be
 * late (possibly only the newest of them); totalMissed counts all. skip runs none, run-once the
 * newest, run-all those within windowMs before nowMs, at most the newest maxCount.
 */
export function planMisfire(
  policy: MisfirePolicy,
  missed: readonly number[],
  totalMissed: number,
  nowMs: number,
): { run: number[]; skipped: number } {
  let run: number[];
  switch (policy.mode) {
    case 'skip':
      run = [];
      break;
    case 'run-once':
      run = missed.length > 0 ? [missed[missed.length - 1] as number] : [];
      break;
    case 'run-all': {
      const recent = missed.filter((at) => at >= nowMs - policy.windowMs);
      run = policy.maxCount > 0 ? recent.slice(-policy.maxCount) : [];
      break;
    }
  }
  return { run, skipped: Math.max(0, Math.max(totalMissed, missed.length) - run.length) };
}

/** allow: always run; forbid: skip while a run is active; replace: replace the active run(s). */
export function overlapDecision(policy: OverlapPolicy, activeRunCount: number): 'run' | 'skip' | 'replace' {
  if (activeRunCount <= 0 || policy === 'allow') return 'run';
  return policy === 'forbid' ? 'skip' : 'replace';
}

/** Daemon restart delay: delayMs, doubled per consecutive quick exit, capped at maxBackoffMs. */
/** The smallest backoff after a quick exit, whatever the configured delay. */
export const MIN_CRASH_BACKOFF_MS = 250;

export function restartDelayMs(policy: RestartPolicy, consecutiveQuickExits: number): number {
  const n = Math.max(0, Math.floor(consecutiveQuickExits));
  if (n === 0) return policy.delayMs;
  // A replica that keeps exiting quickly backs off even with no restart delay at all.
  const base = Math.max(policy.delayMs, MIN_CRASH_BACKOFF_MS);
  return Math.max(policy.delayMs, Math.min(Math.max(policy.maxBackoffMs, base), base * Math.pow(2, n)));
}

/** A replica that exited after less than resetAfterMs of uptime counts as a quick exit. */
export function isQuickExit(policy: RestartPolicy, upMs: number): boolean {
  return upMs < policy.resetAfterMs;
}

/**
 * Alerts after N failures in a row (policies.alertAfterFailures; qschedule's
 * consecutiveFailTimesAlertThreshold). Pure: the streak is read off the run history.
 */
import type { Run, RunState } from './task.js';

/** Outcomes that count as a failure, and the one that ends a streak. Others (skipped, killed by an operator, in flight) do neither. */
const FAILURES: readonly RunState[] = ['failed', 'lost', 'expired'];

export interface FailureStreak {
  /** Failures in a row, newest first, up to the newest success. */
  length: number;
  /** The oldest run of the streak: the streak's identity (one alert per streak). */
  firstRunId?: string;
  /** The newest failure. */
  lastRun?: Run;
}

const endOf = (r: Run): number => r.endedMs ?? r.startedMs ?? r.scheduledMs;

export function failureStreak(runs: Run[]): FailureStreak {
  const ended = runs.filter((r) => r.state === 'succeeded' || FAILURES.includes(r.state)).sort((a, b) => endOf(b) - endOf(a) || (b.id < a.id ? -1 : 1));
  let length = 0;
  for (const r of ended) {
    if (r.state === 'succeeded') break;
    length++;
  }
  if (!length) return { length: 0 };
  return { length, firstRunId: ended[length - 1]!.id, lastRun: ended[0]! };
}

/** Whether this streak is one to alert about (it reached the threshold). */
export function alertDue(threshold: number | undefined, streak: FailureStreak): boolean {
  return threshold !== undefined && threshold > 0 && streak.length >= threshold;
}

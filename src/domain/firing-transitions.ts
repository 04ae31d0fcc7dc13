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
 */
import { asRetry, type Firing } from './firing.js';
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

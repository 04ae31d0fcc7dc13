import { join } from 'node:path';
import type { NodeFirings } from '../store/node-firings.js';
import type { NodeSession } from '../store/session.js';
import { firingRunId, isDaemon, startedRun, type Firing } from '../domain/firing.js';
import { afterRun, handBack, restarted, sameFiring, type AbortReason } from '../domain/firing-transitions.js';
import type { Run, Task } from '../domain/task.js';
import type { Clock } from '../domain/clock.js';
import { execute } from '../runner/index.js';
import { runParams, withParams } from '../domain/params.js';
import type { RunOutcome } from '../runner/types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { sureWrite, type ReadBack } from './sure.js';
import { commitOutcome, type OutcomeJournal } from './outcome-journal.js';

export interface SlotOptions {
  dataDir: string;
  outputCapBytes: number;
  tailBytes: number;
  killGraceMs: number;
  allowedUsers: string[];
  /** File holding this node's lease deadline (epoch ms); process guards stop their group after it. */
  deadlineFile: string;
  /** The container runtime this node advertises (full path), if any. */
  containerRuntime?: string;
  /** Callbacks with no timeout of their own give up after this. */
  httpTimeoutMs?: number;
}

export interface SlotDeps {
  store: NodeFirings;
  session: NodeSession;
  nodeId: string;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  opts: SlotOptions;
  /** Outcomes etcd did not take, committed when it does. */
  journal: Pick<OutcomeJournal, 'keep'>;
  /** Whether the agent takes work (false while draining). */
  accepting(): boolean;
  /** The outcome was committed (history pruning, callbacks, alerts); `retrying`: another attempt follows. */
  ended(task: Task | null, run: Run, retrying: boolean): void;
  /** An attempt started running (start callbacks). */
  started?(task: Task, run: Run): void;
  /** Each attempt hands over how to end that attempt alone (an operator's restart of one daemon replica). */
  attempting?(restart: () => void): void;
}

/** What the slot is doing now, for the in-flight list and the replica status. */
export interface SlotStatus {
  runId: string;
  taskId: string;
  tenant: string;
  scheduledMs: number;
  replica: number;
  attempt: number;
  startedMs: number;
  pid?: number;
  daemon: boolean;
}

export type { AbortReason };

const KILL_MESSAGES: Partial<Record<AbortReason, string>> = {
  stop: 'stopped (task stopped, deleted or restarted)',
  restart: 'restarted by request (this replica only)',
  replace: 'replaced by a newer run (overlap replace)',
};

function finalRun(run: Run, outcome: RunOutcome, endedMs: number): Run {
  return {
    ...run,
    state: outcome.state,
    endedMs,
    message: outcome.message,
    ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}),
    ...(outcome.httpStatus !== undefined ? { httpStatus: outcome.httpStatus } : {}),
    ...(outcome.outputTail !== undefined ? { outputTail: outcome.outputTail } : {}),
  };
}

/**
 * One claimed firing on this node, from claim to its committed outcome. A daemon replica stays
 * here across restarts: each exit is a finished run, the next start a new attempt of the same
 * firing after the restart delay (backing off while it keeps crashing quickly).
 */
export async function runSlot(d: SlotDeps, assigned: Firing, assignmentRev: number, abort: AbortController, status: (s: SlotStatus | null) => void): Promise<void> {
  // Claimed as soon as it arrives (the leader writes firings ahead of their instant), so the
  // claim's round trip is not on the way to the start; it starts at its due time.
  const startAt = Math.max(d.clock.now(), assigned.dueMs);
  const running: Firing = { ...assigned, state: 'running', startedMs: startAt, pid: undefined };
  return runFiring(d, running, () => claimSure(d, assignmentRev, running), abort, status);
}

/** What a claim gives the slot: the firing's revision after it, and the task read with it. */
export type Claimed = { revision: number; task: Task | null } | null;

/**
 * A firing from its claim (`claim` writes `running`, which says where and from when it runs:
 * an assignment's claim ahead of its instant, or a candidate's claim at it) to its committed
 * outcome.
 */
export async function runFiring(d: SlotDeps, running: Firing, claim: () => Promise<Claimed>, abort: AbortController, status: (s: SlotStatus | null) => void): Promise<void> {
  const startAt = running.startedMs ?? d.clock.now();
  let firing: Firing = running;
  let run = startedRun(firing, d.nodeId, startAt);
  const claimed = await claim();
  if (!claimed) {
    d.log.debug({ runId: run.id }, 'claim lost: the firing is no longer ours');
    return;
  }
  let rev = claimed.revision;
  const task = claimed.task;
  if (!task) {
    await commit(d, rev, firing, { ...run, state: 'failed', endedMs: d.clock.now(), message: 'task was deleted' }, null, null);
    return;
  }
  if (startAt > d.clock.now()) await d.clock.sleep(startAt - d.clock.now(), abort.signal);
  if (abort.signal.aborted || !d.session.alive()) return notStarted(d, rev, firing, run, task, abort.signal.reason as AbortReason | undefined);
  const now = d.clock.now();
  run = { ...run, startedMs: now };
  d.metrics.started(now - firing.scheduledMs);
  d.started?.(task, run);
  let quickExits = 0;
  for (;;) {
    const startedMs = run.startedMs ?? d.clock.now();
    status({ runId: run.id, taskId: firing.taskId, tenant: firing.tenant, scheduledMs: firing.scheduledMs, replica: firing.replica ?? 0, attempt: firing.attempt, startedMs, daemon: isDaemon(task) });
    // This attempt's own signal: the slot's (stop, drain, shutdown...) or a restart of this attempt alone.
    const attempt = new AbortController();
    const passOn = () => attempt.abort(abort.signal.reason);
    if (abort.signal.aborted) passOn();
    else abort.signal.addEventListener('abort', passOn, { once: true });
    d.attempting?.(() => attempt.abort('restart' satisfies AbortReason));
    let pidWrite: Promise<void> = Promise.resolve();
    const outcome = await execute(withParams(task.action, runParams(task.params, firing.params)), {
      taskId: firing.taskId,
      runId: run.id,
      scheduledMs: firing.scheduledMs,
      attempt: firing.attempt,
      logFile: join(d.opts.dataDir, 'runs', firing.taskId, `${run.id}.log`),
      outputCapBytes: d.opts.outputCapBytes,
      tailBytes: d.opts.tailBytes,
      ...(task.policies.timeoutMs ? { timeoutMs: task.policies.timeoutMs } : {}),
      killGraceMs: d.opts.killGraceMs,
      signal: attempt.signal,
      allowedUsers: d.opts.allowedUsers,
      deadlineFile: d.opts.deadlineFile,
      ...(d.opts.containerRuntime ? { containerRuntime: d.opts.containerRuntime } : {}),
      ...(d.opts.httpTimeoutMs ? { defaultHttpTimeoutMs: d.opts.httpTimeoutMs } : {}),
      onStart: ({ pid }) => {
        if (pid === undefined) return;
        status({ runId: run.id, taskId: firing.taskId, tenant: firing.tenant, scheduledMs: firing.scheduledMs, replica: firing.replica ?? 0, attempt: firing.attempt, startedMs, pid, daemon: isDaemon(task) });
        // Record the pid in the firing (the run in flight) so any node can show it; later writes compare the new revision.
        const withPid: Firing = { ...firing, pid };
        pidWrite = updateSure(d, rev, withPid, []).then((r) => {
          if (r) {
            rev = r;
            firing = withPid;
            run = { ...run, pid };
          }
        });
      },
    });
    // What became of the attempt is decided as of the moment it ended. The pid write may still be
    // making sure of itself then (etcd away: it reads back until the lease runs out), and a lease
    // lost meanwhile must not turn a run that ended with its own result into one left for the
    // leader to mark lost: that result is committed, or journalled until etcd takes it.
    abort.signal.removeEventListener('abort', passOn);
    const reason = attempt.signal.reason as AbortReason | undefined;
    const ended = d.clock.now();
    const alive = d.session.alive();
    const accepting = d.accepting();
    await pidWrite;
    const next = afterRun(firing, task, { state: outcome.state, ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}), ...(reason ? { reason } : {}), endedMs: ended, upMs: ended - startedMs, quickExits, accepting, alive });
    if (next.kind === 'leave') {
      d.log.warn({ runId: run.id, reason }, 'run interrupted; left for the leader to mark lost');
      return;
    }
    const final = finalRun(run, outcome, ended);
    if (outcome.state === 'killed' && reason && reason !== 'operator') final.message = KILL_MESSAGES[reason] ?? final.message;
    if (next.kind === 'hand-back') {
      // The replica goes back: the leader starts it on another node.
      const ok = await updateSure(d, rev, next.next, [{ ...final, message: `stopped: node ${d.nodeId} is draining; moved elsewhere` }], true);
      if (!ok) d.log.warn({ runId: run.id }, 'could not hand the replica back (taken over already)');
      d.ended(task, final, true);
      return;
    }
    if (next.kind === 'end') {
      await commit(d, rev, firing, final, next.next, task);
      return;
    }
    // Daemon: record the exit, back off if it keeps crashing quickly, start it again.
    quickExits = next.quickExits;
    const delay = next.delayMs;
    const waiting = next.next;
    rev = await updateSure(d, rev, waiting, [final]);
    d.ended(task, final, true);
    if (!rev) return; // taken back by the leader (stopped, or this node presumed lost)
    firing = waiting;
    status(null);
    await d.clock.sleep(delay, abort.signal);
    if (abort.signal.aborted || !d.accepting() || !d.session.alive()) {
      const r = abort.signal.reason as AbortReason | undefined;
      if (r === 'shutdown' || r === 'lease-lost') return;
      if (r === 'drain' || !d.accepting()) {
        await updateSure(d, rev, handBack(firing, d.clock.now(), false), [], true);
        return;
      }
      const stoppedMs = d.clock.now();
      await commit(d, rev, firing, { ...startedRun(firing, d.nodeId, stoppedMs), state: 'killed', endedMs: stoppedMs, message: 'stopped while waiting to restart' }, null, task);
      return;
    }
    const restartAt = d.clock.now();
    firing = restarted(firing, restartAt);
    run = startedRun(firing, d.nodeId, restartAt);
    rev = await updateSure(d, rev, firing, []);
    if (!rev) return;
    d.started?.(task, run);
  }
}

/**
 * A claimed firing stopped before its instant: handed back to the leader on drain (same
 * attempt, placed elsewhere) and on a stop (its task was paused, stopped or deleted: the leader
 * drops it if the task is still paused when it looks, and places it again if it was resumed
 * meanwhile, so a pause and resume in quick succession loses no instant); recorded as killed on
 * an operator kill or an overlap replace; left to the leader when the lease is gone (the leader
 * sees a start time still ahead and places it again).
 */
async function notStarted(d: SlotDeps, rev: number, firing: Firing, run: Run, task: Task, reason: AbortReason | undefined): Promise<void> {
  if (reason === undefined || reason === 'shutdown' || reason === 'lease-lost') return;
  if (reason === 'drain' || reason === 'stop') {
    const back = handBack(firing, firing.startedMs ?? firing.dueMs, false);
    // Say what became of this attempt here (a node running it next shows over this record and
    // its outcome overwrites it, as does the leader's drop).
    const why = reason === 'drain' ? 'the node was draining before its instant; handed back to run elsewhere' : 'its task was paused, stopped or deleted before its instant; handed back to the leader';
    const handedBack: Run = { ...run, state: 'skipped', startedMs: undefined, endedMs: d.clock.now(), message: `not started on ${d.nodeId}: ${why}` };
    const ok = await updateSure(d, rev, back, [handedBack], true);
    if (!ok) d.log.warn({ runId: run.id }, 'could not hand the firing back (taken over already)');
    return;
  }
  const ended = d.clock.now();
  await commit(d, rev, firing, { ...run, state: 'killed', endedMs: ended, message: `${KILL_MESSAGES[reason] ?? 'killed by request'} before it started` }, null, task);
}

function sureDeps(d: SlotDeps, what: string, about: Record<string, unknown>) {
  return {
    clock: d.clock,
    alive: () => d.session.alive(),
    onError: (err: Error) => {
      d.metrics.etcdError('agent');
      d.log.warn({ err: err.message, ...about }, `${what} failed; reading the firing back`);
    },
  };
}

/**
 * The claim, sure of its outcome (agent/sure.ts): a claim that applied although its reply was
 * lost (the firing is the running one this write put there) is ours, with the task read again;
 * one still as assigned is claimed again; anything else is not ours.
 */
async function claimSure(d: SlotDeps, assignmentRev: number, running: Firing): Promise<Claimed> {
  return sureWrite(
    sureDeps(d, 'claim', { runId: firingRunId(running) }),
    () => d.store.claim(d.nodeId, d.session.leaseNumeric, assignmentRev, running),
    async (): Promise<ReadBack<NonNullable<Claimed>>> => {
      const now = await d.store.getFiring(running.taskId, running.scheduledMs, running.replica);
      if (now === null) return { kind: 'other' };
      if (now.modRevision === assignmentRev) return { kind: 'unapplied' };
      if (!sameFiring(now.firing, running)) return { kind: 'other' };
      return { kind: 'ours', value: { revision: now.modRevision, task: await d.store.readTask(running.taskId) } };
    },
    200,
    2_000,
  );
}

/**
 * A change of a firing this node holds, sure of its outcome (agent/sure.ts): written as sent
 * (the write applied after all) -> its revision; unchanged -> written again; changed by someone
 * else or gone -> 0 (the leader took it back). Tried while the node's lease holds; once it is
 * gone the leader repairs the firing. Returns the new revision, or 0.
 */
async function updateSure(d: SlotDeps, rev: number, next: Firing, runs: Run[], release = false): Promise<number> {
  const written = await sureWrite(
    sureDeps(d, 'updating a firing', { taskId: next.taskId, scheduledMs: next.scheduledMs, attempt: next.attempt }),
    async () => (await d.store.update(d.nodeId, rev, next, runs, release)) || null,
    async (): Promise<ReadBack<number>> => {
      const now = await d.store.getFiring(next.taskId, next.scheduledMs, next.replica);
      if (now === null) return { kind: 'other' };
      if (now.modRevision === rev) return { kind: 'unapplied' };
      return sameFiring(now.firing, next) ? { kind: 'ours', value: now.modRevision } : { kind: 'other' };
    },
    200,
    2_000,
  );
  return written ?? 0;
}

/**
 * Commits an attempt's outcome once (commitOutcome: the firing's transaction, or the run record
 * alone when the leader took the firing back). One that etcd did not take (unreachable, no
 * quorum, out of space: the error says nothing of whether it applied, and commitOutcome is
 * idempotent) goes to the node's outcome journal, which commits it when etcd takes writes again.
 */
async function commit(d: SlotDeps, rev: number, firing: Firing, final: Run, next: Firing | null, task: Task | null): Promise<void> {
  const o = { nodeId: d.nodeId, rev, firing, run: final, next };
  let r;
  try {
    r = await commitOutcome(d.store, o);
  } catch (err) {
    d.metrics.etcdError('agent');
    d.log.warn({ err: (err as Error).message, runId: final.id }, 'committing the outcome failed; journalled, committed when etcd takes writes again');
    d.journal.keep(o, task);
    return;
  }
  if (r === 'stale') {
    d.log.warn({ runId: final.id }, 'outcome not committed: the firing was taken back and its attempt has an outcome already');
    return;
  }
  if (r === 'late') d.log.warn({ runId: final.id }, 'the firing was taken back (node presumed lost): the run record alone says what happened');
  d.ended(task, final, next !== null && (r === 'ok' || r === 'already'));
}

import { join } from 'node:path';
import type { EtcdHandle } from '../store/etcd.js';
import { watchPrefix, type KvEvent, type PrefixWatch, type Kv } from '../store/watch.js';
import { FiringStore } from '../store/firing-store.js';
import { RunStore } from '../store/run-store.js';
import { K } from '../store/keys.js';
import type { NodeSession } from '../store/session.js';
import { firingRunId, startedRun, type Firing } from '../domain/firing.js';
import { retryDelayMs } from '../domain/policies.js';
import type { Run, Task } from '../domain/task.js';
import type { Clock } from '../domain/clock.js';
import { execute } from '../runner/index.js';
import type { RunOutcome } from '../runner/types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { notifyCompletion } from './completion-callback.js';

export interface AgentOptions {
  dataDir: string;
  outputCapBytes: number;
  tailBytes: number;
  killGraceMs: number;
  allowedUsers: string[];
  runsKeep: number;
  runsMaxAgeMs: number;
}

export interface InflightRun {
  runId: string;
  taskId: string;
  tenant: string;
  scheduledMs: number;
  attempt: number;
  startedMs: number;
  pid?: number;
}

interface Active {
  info: InflightRun;
  abort: AbortController;
  done: Promise<void>;
}

/**
 * The node's side: watches its inbox (assignments and kill requests for this node), claims
 * each assignment in a transaction that checks the assignment and its own lease, runs it,
 * and commits the outcome once. Stops claiming when its lease is gone or it is draining.
 */
export class Agent {
  private watch: PrefixWatch | null = null;
  private readonly active = new Map<string, Active>();
  private readonly seen = new Set<string>();
  private readonly store: FiringStore;
  private readonly runs: RunStore;
  private draining = false;
  private completions = new Map<string, number>();

  constructor(
    private readonly h: EtcdHandle,
    private readonly session: NodeSession,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly opts: AgentOptions,
  ) {
    this.store = new FiringStore(h);
    this.runs = new RunStore(h);
  }

  get nodeId(): string {
    return this.session.node.id;
  }

  async start(): Promise<void> {
    const inbox = K.inbox(this.nodeId);
    this.watch = await watchPrefix(
      this.h,
      inbox,
      {
        reset: (kvs: Kv[]) => {
          for (const kv of kvs) this.onPut(kv.key.slice(inbox.length), kv);
        },
        event: (ev: KvEvent) => {
          if (ev.type === 'put') this.onPut(ev.key.slice(inbox.length), ev);
        },
      },
      this.log,
    );
  }

  inflight(): InflightRun[] {
    return [...this.active.values()].map((a) => a.info);
  }

  /** Stop taking new work; runs in flight go on. Unclaimed assignments are reassigned by the leader. */
  drain(on = true): void {
    this.draining = on;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Waits for in-flight runs up to graceMs, then kills the rest (the leader retries them as lost). */
  async stop(graceMs: number): Promise<void> {
    this.draining = true;
    await this.watch?.close();
    const all = Promise.all([...this.active.values()].map((a) => a.done));
    const timedOut = await Promise.race([all.then(() => false), this.clock.sleep(graceMs).then(() => true)]);
    if (timedOut) {
      for (const a of this.active.values()) a.abort.abort('shutdown');
      await Promise.race([all, this.clock.sleep(this.opts.killGraceMs + 1000)]);
    }
  }

  private onPut(rel: string, kv: Kv): void {
    if (rel.startsWith('k/')) {
      const runId = rel.slice(2);
      const a = this.active.get(runId);
      if (a) {
        this.log.info({ runId, reason: kv.value }, 'kill requested');
        a.abort.abort(kv.value || 'operator');
      }
      void this.store.deleteKey(K.inbox(this.nodeId) + rel).catch(() => undefined);
      return;
    }
    if (!rel.startsWith('f/')) return;
    let firing: Firing;
    try {
      firing = JSON.parse(kv.value) as Firing;
    } catch {
      return;
    }
    if (firing.lease !== this.session.node.lease) {
      this.log.debug({ key: rel, lease: firing.lease }, 'assignment for an older incarnation: ignored');
      return; // the leader reassigns it
    }
    const id = `${rel}@${kv.modRevision}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    void this.handle(firing, kv.modRevision).finally(() => this.seen.delete(id));
  }

  private async handle(assigned: Firing, assignmentRev: number): Promise<void> {
    const wait = assigned.dueMs - this.clock.now();
    if (wait > 0) await this.clock.sleep(wait);
    if (this.draining || !this.session.alive()) return; // not claimed: the leader reassigns it
    const now = this.clock.now();
    const running: Firing = { ...assigned, state: 'running', startedMs: now };
    const run = startedRun(assigned, this.nodeId, now);
    const claimed = await this.store.claim(this.nodeId, this.session.leaseNumeric, assignmentRev, running, run).catch((err: Error) => {
      this.log.warn({ err: err.message, runId: run.id }, 'claim failed');
      return null;
    });
    if (!claimed) {
      this.log.debug({ runId: run.id, assignmentRev }, 'claim lost: the firing is no longer ours');
      return;
    }
    if (!claimed.task) {
      await this.finish(claimed.revision, running, { ...run, state: 'failed', endedMs: this.clock.now(), message: 'task was deleted' }, null, null);
      return;
    }
    this.metrics.started(now - assigned.scheduledMs);
    const abort = new AbortController();
    const info: InflightRun = { runId: run.id, taskId: run.taskId, tenant: run.tenant, scheduledMs: run.scheduledMs, attempt: run.attempt, startedMs: now };
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    this.active.set(run.id, { info, abort, done });
    try {
      const outcome = await this.execute(claimed.task, running, abort.signal, info);
      if (abort.signal.reason === 'shutdown') {
        // Not finished within the shutdown grace: leave the firing running under our lease, so
        // the leader marks it lost when the lease goes and retries it by the task's policy.
        this.log.warn({ runId: run.id }, 'run interrupted by shutdown; handed back as lost');
        return;
      }
      const ended = this.clock.now();
      const final: Run = {
        ...run,
        state: outcome.state,
        endedMs: ended,
        message: outcome.message,
        ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}),
        ...(outcome.httpStatus !== undefined ? { httpStatus: outcome.httpStatus } : {}),
        ...(outcome.outputTail !== undefined ? { outputTail: outcome.outputTail } : {}),
      };
      const delay = outcome.state === 'failed' ? retryDelayMs(claimed.task.policies.retry, running.attempt) : null;
      const next: Firing | null =
        delay === null
          ? null
          : { ...running, state: 'retry-wait', attempt: running.attempt + 1, trigger: 'retry', dueMs: ended + delay, node: undefined, lease: undefined, startedMs: undefined };
      await this.finish(claimed.revision, running, final, next, claimed.task);
    } finally {
      this.active.delete(run.id);
      resolveDone();
    }
  }

  private async execute(task: Task, f: Firing, signal: AbortSignal, info: InflightRun): Promise<RunOutcome> {
    const runId = firingRunId(f);
    return execute(task.action, {
      taskId: f.taskId,
      runId,
      scheduledMs: f.scheduledMs,
      attempt: f.attempt,
      logFile: join(this.opts.dataDir, 'runs', f.taskId, `${runId}.log`),
      outputCapBytes: this.opts.outputCapBytes,
      tailBytes: this.opts.tailBytes,
      ...(task.policies.timeoutMs ? { timeoutMs: task.policies.timeoutMs } : {}),
      killGraceMs: this.opts.killGraceMs,
      signal,
      allowedUsers: this.opts.allowedUsers,
      onStart: ({ pid }) => {
        if (pid !== undefined) info.pid = pid;
      },
    });
  }

  private async finish(claimRev: number, running: Firing, final: Run, next: Firing | null, task: Task | null): Promise<void> {
    let ok = false;
    for (let i = 0; i < 5 && !ok; i++) {
      try {
        ok = await this.store.complete(this.nodeId, claimRev, running, final, next);
        if (!ok) {
          this.log.warn({ runId: final.id }, 'outcome not committed: the firing was taken back (node presumed lost)');
          return;
        }
      } catch (err) {
        this.log.warn({ err: (err as Error).message, runId: final.id }, 'committing outcome failed; retrying');
        await this.clock.sleep(500 * (i + 1));
        // A timed-out commit may have applied: read back.
        const still = await this.store.getFiring(running.taskId, running.scheduledMs).catch(() => undefined);
        if (still === null || (still && still.modRevision !== claimRev)) {
          ok = true;
        }
      }
    }
    this.metrics.runEnded(final.state);
    if (task?.callback?.url) void notifyCompletion(task.callback.url, task, final, this.log);
    await this.maybePrune(final.taskId);
  }

  /** Every 10th completion of a task prunes its history to the configured bounds. */
  private async maybePrune(taskId: string): Promise<void> {
    const n = (this.completions.get(taskId) ?? 0) + 1;
    this.completions.set(taskId, n % 10);
    if (n % 10 !== 1) return;
    try {
      await this.runs.prune(taskId, this.opts.runsKeep, this.opts.runsMaxAgeMs, this.clock.now());
    } catch (err) {
      this.log.warn({ err: (err as Error).message, taskId }, 'run history prune failed');
    }
  }
}


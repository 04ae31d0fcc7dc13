import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { chmod, rename, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { EtcdHandle } from '../store/etcd.js';
import { watchPrefix, type KvEvent, type PrefixWatch, type Kv } from '../store/watch.js';
import { NodeFirings } from '../store/node-firings.js';
import { RunStore } from '../store/run-store.js';
import { K, parseInboxKey, parseRunId } from '../store/keys.js';
import type { NodeSession } from '../store/session.js';
import type { Firing } from '../domain/firing.js';
import type { Run, Task } from '../domain/task.js';
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { pruneRunLogs } from './log-janitor.js';
import { runFiring, runSlot, type AbortReason, type Claimed, type SlotDeps, type SlotOptions, type SlotStatus } from './run-slot.js';
import { PlanStore } from '../store/plan-store.js';
import { Candidacy } from './candidacy.js';
import type { OutcomeJournal } from './outcome-journal.js';
import { survive } from '../lib/survive.js';
import { ClockCheck } from './clock-check.js';

/** How often each node publishes its clock reading (agent/clock-check.ts). */
const CLOCK_EVERY_MS = 2_000;

export interface AgentOptions extends Omit<SlotOptions, 'deadlineFile'> {
  /** A clock off from the cluster's median by more than this claims nothing (config node.maxClockSkewMs). */
  maxClockSkewMs: number;
  /** Told when this node's clock goes off from the others' or comes back (the node resigns leadership). */
  clockSkewed?: (skewed: boolean) => void;
  /** Where outcomes etcd did not take wait to be committed (one per node, across incarnations). */
  journal: OutcomeJournal;
  runsKeep: number;
  runsMaxAgeMs: number;
  /** Told of each outcome committed on this node (callbacks, failure alerts); `retrying`: another attempt follows. */
  runEnded?: (task: Task | null, run: Run, retrying: boolean) => void;
  /** Told of each attempt that starts running on this node (start callbacks). */
  runStarted?: (task: Task, run: Run) => void;
  /** Protocol v2: claim planned firings as a candidate (stepMs: the wait for each candidate before). */
  candidates?: { stepMs: number; leadMs: number; capacity: number };
}

export type InflightRun = SlotStatus;

interface Slot {
  status: SlotStatus | null;
  abort: AbortController;
  /** Ends the current attempt alone (a daemon replica restarted by an operator). */
  restart?: () => void;
  done: Promise<void>;
}

const slotKey = (taskId: string, ms: number, replica: number | undefined) => `${taskId}/${ms}/${replica ?? 0}`;

/**
 * The node's side: watches its inbox (assignments and kill requests for this node), claims
 * each assignment in a transaction that checks the assignment and its own lease, runs it
 * (run-slot.ts), and commits the outcome once. A watchdog publishes the lease deadline to the
 * process guards and stops everything when the lease is gone.
 */
export class Agent {
  private watch: PrefixWatch | null = null;
  private candidacy: Candidacy | null = null;
  private clockCheck: ClockCheck | null = null;
  private readonly slots = new Map<string, Slot>();
  /** Assignments that came while this node still held a slot for the same firing (its own claim as a candidate, still waiting on etcd): taken up when that slot ends. */
  private readonly deferred = new Map<string, { firing: Firing; assignmentRev: number }>();
  private readonly seen = new Set<string>();
  private readonly store: NodeFirings;
  private readonly runs: RunStore;
  private draining = false;
  private completions = new Map<string, number>();
  private watchdog: NodeJS.Timeout | null = null;
  private logJanitor: NodeJS.Timeout | null = null;
  private published = -1;
  private readonly tmpTag = `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  private publishing = false;
  readonly deadlineFile: string;

  constructor(
    private readonly h: EtcdHandle,
    private readonly session: NodeSession,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly opts: AgentOptions,
  ) {
    this.store = new NodeFirings(h);
    this.runs = new RunStore(h);
    mkdirSync(opts.dataDir, { recursive: true });
    this.deadlineFile = join(deadlineDir(opts.dataDir), 'lease-deadline');
  }

  get nodeId(): string {
    return this.session.node.id;
  }

  async start(): Promise<void> {
    // The first deadline is on disk before any process guard can look for it.
    const deadline = this.session.alive() ? this.session.deadlineMs() : 0;
    writeFileSync(`${this.deadlineFile}.tmp`, String(deadline));
    chmodSync(`${this.deadlineFile}.tmp`, 0o644); // whatever the umask: guards of run-as users read it
    renameSync(`${this.deadlineFile}.tmp`, this.deadlineFile);
    this.published = deadline;
    this.tick();
    this.watchdog = setInterval(() => this.tick(), 200);
    this.logJanitor = setInterval(() => void this.pruneLogs(), 10 * 60_000);
    this.logJanitor.unref();
    this.clockCheck = new ClockCheck({ h: this.h, session: this.session, clock: this.clock, log: this.log, metrics: this.metrics }, { everyMs: CLOCK_EVERY_MS, maxSkewMs: this.opts.maxClockSkewMs, ...(this.opts.clockSkewed ? { changed: this.opts.clockSkewed } : {}) });
    await this.clockCheck.start();
    const c = this.opts.candidates;
    if (c) {
      this.candidacy = new Candidacy({
        h: this.h,
        plans: new PlanStore(this.h),
        firings: this.store,
        session: this.session,
        clock: this.clock,
        log: this.log,
        metrics: this.metrics,
        stepMs: c.stepMs,
        leadMs: c.leadMs,
        capacity: c.capacity,
        draining: () => this.draining,
        skewed: () => this.clockCheck?.skewed ?? false,
        inflight: () => this.slots.size,
        take: (running, claim) => void this.occupy(running, claim),
      });
      await this.candidacy.start();
    }
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
      { ignoreDeletes: true }, // every assignment is deleted when its run ends: half the events
    );
  }

  /**
   * Publishes the lease deadline for the process guards (they stop their process group once
   * it passes, even if this process is frozen or dead) and stops all work when the lease is
   * gone: the leader will place it elsewhere, and two copies must never run.
   */
  private tick(): void {
    const alive = this.session.alive();
    this.publishDeadline(alive ? this.session.deadlineMs() : 0);
    if (!alive) for (const s of this.slots.values()) if (!s.abort.signal.aborted) s.abort.abort('lease-lost' satisfies AbortReason);
  }

  /**
   * Writes the deadline file when the deadline moved (after each acknowledged keepalive), off
   * the event loop: a blocking write here would delay every firing due at that moment.
   */
  private publishDeadline(deadline: number): void {
    if (deadline === this.published || this.publishing) return;
    this.publishing = true;
    const tmp = `${this.deadlineFile}.${this.tmpTag}.tmp`; // never shared with another incarnation's writes
    writeFile(tmp, String(deadline))
      .then(() => chmod(tmp, 0o644))
      .then(() => rename(tmp, this.deadlineFile))
      .then(
        () => (this.published = deadline),
        (err: Error) => this.log.warn({ err: err.message }, 'cannot write the lease deadline file'),
      )
      .finally(() => (this.publishing = false));
  }

  inflight(): InflightRun[] {
    return [...this.slots.values()].flatMap((s) => (s.status ? [s.status] : []));
  }

  /**
   * Stop taking new work. Runs in flight go on, daemon replicas are stopped and handed back so
   * the leader starts them on another node; unclaimed assignments are reassigned by the leader.
   */
  drain(on = true): void {
    this.draining = on;
    if (on) for (const s of this.slots.values()) if (s.status === null || s.status.daemon) s.abort.abort('drain' satisfies AbortReason);
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Waits for in-flight runs up to graceMs, then kills the rest (the leader retries them as lost). */
  async stop(graceMs: number): Promise<void> {
    this.drain(true);
    await Promise.all([this.watch?.close(), this.candidacy?.close(), this.clockCheck?.close()]);
    const all = Promise.all([...this.slots.values()].map((s) => s.done));
    const timedOut = await Promise.race([all.then(() => false), this.clock.sleep(graceMs).then(() => true)]);
    if (timedOut) {
      for (const s of this.slots.values()) s.abort.abort('shutdown' satisfies AbortReason);
      await Promise.race([all, this.clock.sleep(this.opts.killGraceMs + 1000)]);
    }
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.logJanitor) clearInterval(this.logJanitor);
  }

  /** A kill request for one of this node's runs (a stop before its instant hands the firing back: run-slot.ts). */
  private async onKill(rel: string, runId: string, reason: AbortReason): Promise<void> {
    const p = parseRunId(runId);
    const s = p && this.slots.get(slotKey(p.taskId, p.scheduledMs, p.replica));
    if (s) {
      this.log.info({ runId, reason }, 'kill requested');
      if (reason === 'restart' && s.restart) s.restart();
      else s.abort.abort(reason === 'restart' ? 'operator' : reason);
    }
    await survive(this.store.dropInbox(this.nodeId, rel), this.log, 'agent.kill-request', 'removing a kill request it acted on failed (it is acted on again, harmlessly, on the next listing)', this.metrics.survived);
  }

  /** Output files on this node follow the history bounds. */
  async pruneLogs(): Promise<number> {
    const inUse = new Set(this.inflight().map((s) => s.runId));
    try {
      return await pruneRunLogs(this.opts.dataDir, this.opts.runsKeep, this.opts.runsMaxAgeMs, this.clock.now(), inUse);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'pruning run output files failed');
      return 0;
    }
  }

  private onPut(rel: string, kv: Kv): void {
    const what = parseInboxKey(rel);
    if (what?.kind === 'kill') {
      void this.onKill(rel, what.runId, (kv.value || 'operator') as AbortReason);
      return;
    }
    if (what?.kind !== 'assignment') return;
    let firing: Firing;
    try {
      firing = JSON.parse(kv.value) as Firing;
    } catch {
      return;
    }
    if (firing.lease !== this.session.node.lease) return; // an older incarnation's: the leader reassigns it
    const id = `${rel}@${kv.modRevision}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    void this.handle(firing, kv.modRevision).finally(() => this.seen.delete(id));
  }

  private async handle(assigned: Firing, assignmentRev: number): Promise<void> {
    // Not claimed: the leader reassigns it (a node whose clock is off would start it at the wrong time).
    if (this.draining || !this.session.alive() || this.clockCheck?.skewed) return;
    await this.occupy(assigned, null, assignmentRev);
  }

  /**
   * One slot per firing on this node, from its claim to its outcome: an assignment (claimed
   * here, run at its instant: runSlot) or a planned firing this node claims as a candidate
   * (`claim` given: runFiring).
   */
  private async occupy(firing: Firing, claim: (() => Promise<Claimed>) | null, assignmentRev = 0): Promise<void> {
    const key = slotKey(firing.taskId, firing.scheduledMs, firing.replica);
    if (this.slots.has(key)) {
      // The leader placed here a firing this node is still claiming as a candidate (the claim
      // stuck on an etcd member without a quorum, say, while the backstop moved on): dropping the
      // assignment would leave it placed here and never run. It waits for the slot to end; its
      // claim then wins, or finds the firing taken (harmless).
      if (!claim) {
        this.deferred.set(key, { firing, assignmentRev });
        this.log.info({ firing: key }, 'an assignment came while this node still held the firing: taken up when that ends');
      }
      return;
    }
    const abort = new AbortController();
    let resolveDone!: () => void;
    const slot: Slot = { status: null, abort, done: new Promise<void>((r) => (resolveDone = r)) };
    this.slots.set(key, slot);
    const deps: SlotDeps = {
      store: this.store,
      session: this.session,
      nodeId: this.nodeId,
      clock: this.clock,
      log: this.log,
      metrics: this.metrics,
      opts: { ...this.opts, deadlineFile: this.deadlineFile },
      journal: this.opts.journal,
      accepting: () => !this.draining,
      ended: (task, run, retrying) => this.ended(task, run, retrying),
      started: (task, run) => this.opts.runStarted?.(task, run),
      attempting: (restart) => (slot.restart = restart),
    };
    const status = (s: SlotStatus | null) => {
      slot.status = s;
    };
    try {
      if (claim) await runFiring(deps, firing, claim, abort, status);
      else await runSlot(deps, firing, assignmentRev, abort, status);
    } catch (err) {
      this.log.error({ err, firing: key }, 'run slot failed');
    } finally {
      this.slots.delete(key);
      resolveDone();
      const next = this.deferred.get(key);
      if (next) {
        this.deferred.delete(key);
        void this.handle(next.firing, next.assignmentRev);
      }
    }
  }

  private ended(task: Task | null, run: Run, retrying: boolean): void {
    this.metrics.runEnded(run.state);
    this.opts.runEnded?.(task, run, retrying);
    void this.maybePrune(run.taskId);
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

/**
 * Where the lease deadline is published for the process guards. A guard runs as its task's
 * user (run-as), and one that cannot read the file takes the deadline for passed and stops its
 * process: so as root the file lives under /run/rota (only root can write there, so no other
 * user can plant a link in its place), one directory per data dir, readable by all; a node that
 * is not root runs every process as its own user, who can read the data dir.
 */
export function deadlineDir(dataDir: string): string {
  if (process.getuid?.() !== 0) return dataDir;
  const dir = join('/run/rota', createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 16));
  try {
    mkdirSync(dir, { recursive: true });
    chmodSync('/run/rota', 0o755);
    chmodSync(dir, 0o755);
    return dir;
  } catch {
    return dataDir; // no /run: run-as processes may then be stopped at once (their guard cannot read it)
  }
}

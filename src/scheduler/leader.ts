import type { EtcdHandle } from '../store/etcd.js';
import { watchPrefix, type PrefixWatch } from '../store/watch.js';
import { FiringStore, type FiringPlan } from '../store/firing-store.js';
import { K, parseFiringKey } from '../store/keys.js';
import { NodeStore } from '../store/node-store.js';
import type { Leadership } from '../store/election.js';
import type { NodeSession } from '../store/session.js';
import { ClusterView } from './cluster-view.js';
import { nextDueMs, place, planTask, type PlanContext } from './planner.js';
import { droppedRun, firingRunId, isDaemon, type Firing } from '../domain/firing.js';
import { depsBusy, planReplicas } from '../domain/replicas.js';
import type { Run, Task } from '../domain/task.js';
import { planTrigger, repairFiring, type RepairContext, type TriggerPlan } from './repair.js';
import type { Clock } from '../domain/clock.js';
import { Mailbox } from '../lib/mailbox.js';
import { TimerHeap } from '../lib/timer-heap.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

type Source = keyof typeof ClusterView.sources;

const firingKeyOf = (f: Firing): string => `${f.taskId}/${f.scheduledMs}/${f.replica ?? 0}`;

const MAX_TIMER_MS = 3_600_000;

/** Due tasks planned per turn of the event loop. */
const PLAN_CHUNK = 250;

/** How soon the leader tries again what an etcd error interrupted. */
const RETRY_MS = 1000;

/**
 * Firings of tasks whose run depends on the state at their instant (overlap forbid/replace,
 * deps) are written only this long before they are due (see PlanContext.horizonMs).
 */
export const PLAN_AHEAD_MS = 30;

/** Default for the other tasks: written this far ahead, so the node has claimed them by their instant. */
export const WRITE_AHEAD_MS = 1500;

/**
 * The leader's side while this node leads: it watches tasks, firings, nodes and trigger
 * requests (and reads a task's cursor when the task changes), decides when each task fires and
 * where (planner), and repairs firings
 * whose node vanished, that wait for a retry or that have no node (reconciler). Every write
 * is fenced by the leadership it was given. One message at a time (Mailbox).
 */
export class Leader {
  private readonly view = new ClusterView();
  private readonly box: Mailbox;
  private readonly heap = new TimerHeap();
  private readonly store: FiringStore;
  private readonly nodes: NodeStore;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  private synced = false;
  private dirtyTasks = new Set<string>();
  /** Tasks whose cursor may have been written with them (created, updated): read before planning. */
  private needCursor = new Set<string>();
  private dirtyFirings = new Set<string>();
  private acted = new Map<string, number>();
  private stepQueued = false;
  private readonly turn = { n: 0 };
  private stopped = false;

  constructor(
    private readonly h: EtcdHandle,
    private readonly session: NodeSession,
    private readonly leadership: Leadership,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly random: () => number = Math.random,
    private readonly writeAheadMs: number = WRITE_AHEAD_MS,
    /** Told of each run record the leader ends (lost runs): failure alerts, callbacks; `retrying`: another attempt follows. */
    private readonly runEnded: (run: Run, retrying: boolean) => void = () => undefined,
  ) {
    this.box = new Mailbox(log, 'leader', () => metrics.etcdError('leader'));
    this.store = new FiringStore(h);
    this.nodes = new NodeStore(h);
  }

  /** Runs until leadership is lost or stop() is called. */
  async run(): Promise<void> {
    const watches: PrefixWatch[] = [];
    // Not the cursors: the leader writes them itself, and everyone else writes a cursor only
    // together with its task (create, update, delete), so a task event says when to re-read it.
    const sources: Source[] = ['nodes', 'tasks', 'firings', 'triggers'];
    try {
      for (const s of sources) {
        watches.push(
          await watchPrefix(
            this.h,
            ClusterView.sources[s].prefix,
            {
              reset: (kvs) => this.box.post(() => this.onReset(s, kvs)),
              event: (ev) => this.box.post(() => this.onEvent(s, ev)),
            },
            this.log,
          ),
        );
      }
      this.box.post(() => {
        this.synced = true;
        for (const id of this.view.tasks.keys()) this.dirtyTasks.add(id);
        for (const k of this.view.firings.keys()) this.dirtyFirings.add(k);
        for (const k of this.view.triggers.keys()) this.dirtyFirings.add('trigger:' + k);
        this.log.info({ tasks: this.view.tasks.size, firings: this.view.firings.size }, 'leader view synced; scheduling');
      });
      this.requestStep();
      await new Promise<void>((resolve) => {
        if (this.leadership.lost.aborted) return resolve();
        this.leadership.lost.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      this.stopped = true;
      if (this.timer) clearTimeout(this.timer);
      await Promise.all(watches.map((w) => w.close()));
      await this.box.idle();
    }
  }

  private onReset(s: Source, kvs: Parameters<ClusterView['reset']>[1]): void {
    this.view.reset(s, kvs);
    if (s === 'tasks') for (const id of this.view.tasks.keys()) this.needCursor.add(id);
    if (s === 'firings' || s === 'nodes') for (const k of this.view.firings.keys()) this.dirtyFirings.add(k);
    if (s === 'triggers') for (const k of this.view.triggers.keys()) this.dirtyFirings.add('trigger:' + k);
    this.requestStep();
  }

  private onEvent(s: Source, ev: Parameters<ClusterView['apply']>[1]): void {
    const id = this.view.apply(s, ev);
    if (s === 'tasks') {
      if (ev.type === 'put') this.needCursor.add(id);
      else this.view.cursors.delete(id);
      this.dirtyTasks.add(id);
    }
    if (s === 'firings') {
      this.dirtyFirings.add(id);
      if (ev.type === 'delete') for (const k of this.view.unassigned) this.dirtyFirings.add(k); // deps may be free now
      const p = parseFiringKey(id);
      const task = p && this.view.tasks.get(p.taskId)?.value;
      // A daemon's replicas, an ended run under overlap forbid/replace, a deleted or paused task's firings.
      if (p && (!task || !task.enabled || isDaemon(task) || task.policies.overlap !== 'allow')) this.dirtyTasks.add(p.taskId);
    }
    if (s === 'nodes') for (const k of this.view.firings.keys()) this.dirtyFirings.add(k);
    if (s === 'triggers' && ev.type === 'put') this.dirtyFirings.add('trigger:' + id);
    this.requestStep();
  }

  /**
   * One step for everything that arrived together: watch events are applied as they come, and
   * the step runs once after the events delivered in the same turn of the event loop.
   */
  private requestStep(): void {
    if (this.stepQueued) return;
    this.stepQueued = true;
    setImmediate(() =>
      this.box.post(() => {
        this.stepQueued = false;
        return this.step();
      }),
    );
  }

  private canWrite(): boolean {
    if (this.stopped || this.leadership.lost.aborted) return false;
    if (!this.session.alive()) {
      this.log.warn('lease deadline passed: not scheduling');
      return false;
    }
    return true;
  }

  private fenced(): void {
    this.log.warn('fenced write rejected: this node no longer leads');
    void this.leadership.resign();
  }

  /** Recompute what changed, run what is due, re-arm the timer. */
  private async step(): Promise<void> {
    if (!this.synced || !this.canWrite()) {
      this.log.debug({ synced: this.synced }, 'leader step skipped');
      return;
    }
    try {
      if (this.needCursor.size > 0) await this.refreshCursors();
      const now = this.clock.now();
      const changed = [...this.dirtyTasks];
      this.rescheduleDirty();
      await this.reconcileReplicas(changed);
      const due = this.heap.takeDue(now);
      this.log.debug({ due: due.length, next: this.heap.peek() }, 'leader step');
      const dueTasks = due.filter((k) => k.startsWith('t:')).map((k) => k.slice(2));
      for (const k of due) if (k.startsWith('f:')) this.dirtyFirings.add(k.slice(2));
      if (dueTasks.length > 0) await this.fireTasks(dueTasks);
      if (this.dirtyFirings.size > 0) await this.reconcile();
    } finally {
      // Whatever failed (an etcd timeout), the timer stays armed for what is left.
      this.rescheduleDirty();
      this.arm();
    }
  }

  private arm(): void {
    const next = this.heap.peek();
    if (next === null || this.stopped) return;
    if (this.timer && this.timerAt === next) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next;
    // Node clamps delays past 2^31-1 ms to 1 ms: wake at most hourly and re-arm.
    this.timer = setTimeout(() => {
      this.timer = null;
      this.requestStep();
    }, Math.min(MAX_TIMER_MS, Math.max(0, next - this.clock.now())));
  }

  private async refreshCursors(): Promise<void> {
    const ids = [...this.needCursor];
    const read = await this.store.readCursors(ids);
    for (const id of ids) this.needCursor.delete(id);
    for (const id of ids) {
      const c = read.get(id);
      const have = this.view.cursors.get(id);
      if (c && (!have || have.modRevision < c.modRevision)) this.view.cursors.set(id, c);
      this.dirtyTasks.add(id);
    }
  }

  /** How long before its instant a task's firing is written. */
  private aheadMs(task: Task): number {
    // onLost discard: a node dying between the claim and the instant would drop the firing.
    return task.policies.overlap === 'allow' && !task.deps?.length && task.policies.onLost === 'retry' ? this.writeAheadMs : PLAN_AHEAD_MS;
  }

  /** Dirty tasks get their next planning time (their next instant minus the write-ahead). */
  private rescheduleDirty(): void {
    for (const id of this.dirtyTasks) {
      const t = this.view.tasks.get(id)?.value;
      const due = t ? nextDueMs(t, this.view.cursors.get(id)?.value ?? t.createdMs) : null;
      this.heap.set('t:' + id, due === null || !t ? null : due - this.aheadMs(t));
    }
    this.dirtyTasks.clear();
  }

  private ctx(): PlanContext {
    return { nowMs: this.clock.now(), nodes: this.view.nodeInfos(), turn: this.turn, random: this.random, blocked: (t) => this.depsBlocked(t) };
  }

  /** Daemon replicas as this leader sees them (for /metrics). */
  replicaCounts(): { desired: number; running: number; backoff: number } {
    let desired = 0;
    let running = 0;
    let backoff = 0;
    for (const { value: t } of this.view.tasks.values()) {
      if (!isDaemon(t) || !t.enabled) continue;
      desired += t.replicas;
      for (const f of this.view.firingsOf(t.id)) {
        if (f.value.state !== 'running') continue;
        if (f.value.pid === undefined && f.value.backoffMs !== undefined) backoff++;
        else running++;
      }
    }
    return { desired, running, backoff };
  }

  /** Deps by name or id within the tenant; busy = the dep has any firing (pending or live). */
  private depsBlocked(task: Task): boolean {
    if (!task.deps?.length) return false;
    const lookup = (tenant: string, ref: string): Task | undefined => {
      const byId = this.view.tasks.get(ref)?.value;
      if (byId && byId.tenant === tenant) return byId;
      for (const e of this.view.tasks.values()) if (e.value.tenant === tenant && e.value.name === ref) return e.value;
      return undefined;
    };
    // Any firing counts, pending ones too: a chain C -> B -> A releases one link at a time.
    // Firings written ahead of their instant do not count yet.
    const now = this.clock.now();
    return depsBusy(task, lookup, (id) => this.view.firingsOf(id).some((e) => e.value.scheduledMs <= now));
  }

  /** Daemon replicas kept at their count and generation; firings of deleted tasks stopped. */
  private async reconcileReplicas(ids: string[]): Promise<void> {
    const ctx = this.ctx();
    for (const id of ids) {
      if (!this.canWrite()) return;
      const task = this.view.tasks.get(id)?.value;
      if (task && task.enabled && !isDaemon(task)) continue; // nothing to keep at a count
      const firings = this.view.firingsOf(id);
      if (!task && firings.length === 0) continue;
      const plan = planReplicas(task, firings, ctx.nowMs);
      for (const e of plan.kill) {
        const k = firingKeyOf(e.value);
        if (this.acted.get('kill:' + k) === e.modRevision || !e.value.node) continue;
        this.acted.set('kill:' + k, e.modRevision);
        await this.store.requestKill(e.value.node, firingRunId(e.value), 'stop');
      }
      for (const e of plan.drop) {
        // Recorded, so the attempt does not just vanish from the history (a deleted task's history goes with it).
        const runs = task && !isDaemon(task) ? [droppedRun(e.value, 'not started: the task was paused before this attempt started', ctx.nowMs)] : [];
        const r = await this.store.transition(this.leadership.fence, { firing: e.value, modRevision: e.modRevision }, null, runs);
        if (r === 'fenced') return this.fenced();
        if (r === 'ok') this.view.forget(K.firingId(e.value.taskId, e.value.scheduledMs, e.value.replica));
      }
      if (plan.create.length > 0 && task) {
        const placed = plan.create.map((f) => place(f, task, ctx));
        const r = await this.store.createFirings(this.leadership.fence, placed);
        if (r === 'fenced') return this.fenced();
      }
    }
  }

  /**
   * Plans the due tasks and writes the plans, a chunk at a time: each chunk's write starts as
   * soon as it is planned, and the event loop gets a turn before the next chunk is planned (a
   * few thousand tasks due together would otherwise hold it for a second).
   */
  private async fireTasks(ids: string[]): Promise<void> {
    const ctx = this.ctx();
    const writes: Promise<boolean>[] = [];
    for (let i = 0; i < ids.length; i += PLAN_CHUNK) {
      if (i > 0) await new Promise<void>((r) => setImmediate(r));
      if (!this.canWrite()) break;
      const plans: FiringPlan[] = [];
      for (const id of ids.slice(i, i + PLAN_CHUNK)) {
        const t = this.view.tasks.get(id);
        if (!t) continue;
        if (!this.view.cursors.has(id)) {
          // Every live task has one (written with it): not read yet, or the task is being deleted.
          this.needCursor.add(id);
          this.heap.set('t:' + id, ctx.nowMs + RETRY_MS);
          continue;
        }
        const plan = planTask(t.value, this.view.cursors.get(id), this.view.firingsOf(id), { ...ctx, horizonMs: ctx.nowMs + this.aheadMs(t.value) });
        if (plan) plans.push(plan);
        else this.dirtyTasks.add(id);
      }
      if (plans.length > 0)
        writes.push(
          this.writePlans(plans).catch((err: Error) => {
            // Not written (a timeout may still have applied: the next plan's compares will tell).
            // The tasks are out of the timer heap: put them back, a second from now.
            this.log.warn({ err: err.message, tasks: plans.length }, 'writing plans failed; retrying');
            this.metrics.etcdError('leader');
            for (const p of plans) this.heap.set('t:' + p.taskId, this.clock.now() + RETRY_MS);
            return true;
          }),
        );
    }
    const ok = await Promise.all(writes);
    // Cursors changed: recompute due times now.
    this.rescheduleDirty();
    if (ok.includes(false)) this.fenced();
  }

  /** Writes plans and records the outcome in the view; false when fenced. */
  private async writePlans(plans: FiringPlan[]): Promise<boolean> {
    const t0 = this.clock.now();
    const results = await this.store.writePlans(this.leadership.fence, plans);
    this.metrics.etcdTxn(this.clock.now() - t0);
    if (!results) return false;
    for (const r of results) {
      const id = r.plan.taskId;
      if (r.ok) {
        this.view.cursors.set(id, { value: r.plan.cursor.toMs, modRevision: r.revision });
        this.metrics.planned(r.plan.firings, r.plan.skipped);
      } else {
        // Someone moved the cursor (an update, a resume), the firing exists, or the task is gone
        // and the watch has not said so yet: plan it again only once its cursor has been re-read
        // (the same path as a task that changed; a deleted task's cursor is gone with it).
        this.metrics.planConflict(r.plan.firings.length);
        this.log.debug({ taskId: id, expectRev: r.plan.cursor.expectRev, firings: r.plan.firings.map((f) => f.scheduledMs) }, 'plan conflict');
        this.view.cursors.delete(id);
        this.needCursor.add(id);
      }
      this.dirtyTasks.add(id);
    }
    return true;
  }

  /** Lost incarnations, retries that are due, unassigned firings, manual triggers (repair.ts decides). */
  private async reconcile(): Promise<void> {
    const keys = [...this.dirtyFirings];
    this.dirtyFirings.clear();
    const ctx: RepairContext = { ...this.ctx(), liveLeases: this.view.liveLeases(), isDraining: (n) => this.view.nodes.get(n)?.value.state === 'draining' };
    const moves: Parameters<FiringStore['transitionMany']>[1] = [];
    const stillThere = new Map<string, Promise<boolean>>(); // per incarnation, asked once
    let committed = false;
    try {
      for (const key of keys) {
        if (!this.canWrite()) return;
        if (key.startsWith('trigger:')) {
          await this.handleTrigger(key.slice(8));
          continue;
        }
        const e = this.view.firings.get(key);
        if (!e || this.acted.get(key) === e.modRevision) continue;
        const r = repairFiring(e.value, this.view.tasks.get(e.value.taskId)?.value, ctx);
        if (r.kind === 'wait') this.heap.set('f:' + key, r.untilMs);
        if (r.kind !== 'transition') continue;
        if (r.confirmLeaseGone) {
          const inc = `${e.value.node}@${e.value.lease}`;
          if (!stillThere.has(inc)) stillThere.set(inc, this.nodeStillThere(e.value));
          if (await stillThere.get(inc)) continue;
        }
        if (r.lost) this.metrics.lost();
        if (r.retried) this.metrics.retried();
        this.metrics.planned([], r.runs.filter((x) => x.state === 'skipped')); // too late for its misfire policy
        this.acted.set(key, e.modRevision);
        moves.push({ prev: { firing: e.value, modRevision: e.modRevision }, next: r.next, runs: r.runs });
      }
      const results = moves.length > 0 ? await this.store.transitionMany(this.leadership.fence, moves) : [];
      committed = true;
      moves.forEach((m, i) => {
        if (results[i] === 'ok') for (const run of m.runs) if (run.state === 'lost' || run.state === 'expired' || run.state === 'failed') this.runEnded(run, m.next !== null);
      });
      if (results.includes('fenced')) return this.fenced();
    } finally {
      if (!committed) {
        // Interrupted (an etcd error): the decided moves were not written; decide them again later.
        for (const m of moves) {
          const f = m.prev.firing;
          const key = K.firingId(f.taskId, f.scheduledMs, f.replica);
          this.acted.delete(key);
          this.heap.set('f:' + key, this.clock.now() + RETRY_MS);
        }
      }
    }
    if (this.acted.size > 10_000) this.acted.clear();
  }

  private async nodeStillThere(f: Firing): Promise<boolean> {
    return !!f.node && !!f.lease && (await this.nodes.holds(f.node, f.lease));
  }

  private async handleTrigger(id: string): Promise<void> {
    const e = this.view.triggers.get(id);
    if (!e) return;
    const p = parseFiringKey(id);
    const key = K.triggers + id;
    if (!p) {
      await this.store.deleteKey(key);
      return;
    }
    // Tasks and triggers arrive on two watches: a trigger sent right after its task was created
    // may come first. Only a task that is not in etcd either is gone (its trigger consumed).
    const task = this.view.tasks.get(p.taskId)?.value ?? (await this.store.readTask(p.taskId)) ?? undefined;
    let plan: TriggerPlan = { firings: [], skipped: null, kills: [] }; // gone, or a daemon: consumed only
    if (task && !isDaemon(task)) {
      let ms = p.scheduledMs;
      while (this.view.firings.has(K.firingId(task.id, ms))) ms++;
      const req = JSON.parse(e.value) as { params?: Record<string, unknown> | null; replace?: boolean };
      plan = planTrigger(task, ms, { ...(req.params ? { params: req.params } : {}), ...(req.replace ? { replace: true } : {}) }, this.view.firingsOf(task.id).map((a) => a.value), this.ctx());
    }
    const r = await this.store.consumeTrigger(this.leadership.fence, key, e.modRevision, plan.firings, plan.skipped, plan.kills);
    if (r === 'fenced') this.fenced();
    if (r === 'ok') this.metrics.planned(plan.firings, plan.skipped ? [plan.skipped] : []);
  }
}

import type { EtcdHandle } from '../store/etcd.js';
import { watchPrefix, type PrefixWatch } from '../store/watch.js';
import { parseFiringKey } from '../store/keys.js';
import type { Leadership } from '../store/election.js';
import type { NodeSession } from '../store/session.js';
import { ClusterView } from './cluster-view.js';
import { isDaemon } from '../domain/firing.js';
import type { Clock } from '../domain/clock.js';
import { Mailbox } from '../lib/mailbox.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { LeaderState, type LeaderOptions } from './leader-state.js';
import { TaskPlanning, WRITE_AHEAD_MS } from './task-planning.js';
import { ReplicaKeeper } from './replica-keeper.js';
import { FiringRepairs } from './firing-repairs.js';
import { Backstop } from './backstop.js';

type Source = keyof typeof ClusterView.sources;

/** Node clamps timer delays past 2^31-1 ms to 1 ms: the leader wakes at most hourly and re-arms. */
const MAX_TIMER_MS = 3_600_000;

/**
 * The leader's side while this node leads, as one actor: watch events (tasks, firings, nodes,
 * trigger requests) update the view and mark work (work.ts), and one step at a time, on the
 * mailbox, does what is marked or due:
 * - task-planning.ts: when each task is next due, and the plans of the due ones;
 * - replica-keeper.ts: daemon replicas at their count, paused and deleted tasks' firings;
 * - firing-repairs.ts: lost incarnations, silent nodes' firings (claim-watch.ts), retries,
 *   unassigned firings, manual triggers.
 * Every write is fenced by the leadership it was given; time comes from the injected clock.
 */
export class Leader {
  private readonly s: LeaderState;
  private readonly planning: TaskPlanning;
  private readonly replicas: ReplicaKeeper;
  private readonly repairs: FiringRepairs;
  private readonly backstop: Backstop;
  private readonly box: Mailbox;
  private cancelTimer: (() => void) | null = null;
  private cancelPlanRetry: (() => void) | null = null;
  private timerAt = 0;
  private synced = false;
  private stepQueued = false;

  constructor(
    private readonly h: EtcdHandle,
    session: NodeSession,
    private readonly leadership: Leadership,
    private readonly clock: Clock,
    private readonly log: Logger,
    metrics: Metrics,
    opts: LeaderOptions = {},
  ) {
    this.s = new LeaderState(h, session, leadership, clock, log, metrics, opts);
    this.planning = new TaskPlanning(this.s, opts.writeAheadMs ?? WRITE_AHEAD_MS);
    this.replicas = new ReplicaKeeper(this.s);
    this.repairs = new FiringRepairs(this.s);
    this.backstop = new Backstop(this.s);
    this.box = new Mailbox(log, 'leader', () => metrics.etcdError('leader'));
  }

  /** Runs until leadership is lost. */
  async run(): Promise<void> {
    const { view, work } = this.s;
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
      this.box.post(async () => {
        this.synced = true;
        for (const id of view.tasks.keys()) work.tasks.add(id);
        for (const k of view.firings.keys()) work.firings.add(k);
        for (const k of view.triggers.keys()) work.triggers.add(k);
        this.log.info({ tasks: view.tasks.size, firings: view.firings.size }, 'leader view synced; scheduling');
      });
      this.loadPlans();
      this.requestStep();
      await new Promise<void>((resolve) => {
        if (this.leadership.lost.aborted) return resolve();
        this.leadership.lost.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      this.s.stopped = true;
      this.cancelTimer?.();
      this.cancelPlanRetry?.();
      await Promise.all(watches.map((w) => w.close()));
      await this.box.idle();
    }
  }

  /**
   * The firings planned ahead by a predecessor: claimed by their candidates with or without this
   * leader, which only steps in for those nobody claims. A read that fails (etcd busy or briefly
   * away as leadership changes) is tried again every second while this node leads: without it,
   * planned firings nobody claims would wait for the next plan's backstop, or never fire.
   */
  private loadPlans(): void {
    this.box.post(async () => {
      if (this.s.stopped) return;
      try {
        await this.backstop.load((p) => this.planning.expect(p));
      } catch (err) {
        if (this.s.stopped) return;
        this.log.warn({ err: (err as Error).message }, 'reading the planned firings failed; again in 1 s');
        this.cancelPlanRetry = this.clock.timeout(1_000, () => {
          this.cancelPlanRetry = null;
          this.loadPlans();
        });
      }
    });
  }

  /** Daemon replicas as this leader sees them (for /metrics). */
  replicaCounts(): { desired: number; running: number; backoff: number } {
    return this.replicas.counts();
  }

  private onReset(s: Source, kvs: Parameters<ClusterView['reset']>[1]): void {
    const { view, work } = this.s;
    view.reset(s, kvs);
    if (s === 'tasks') for (const id of view.tasks.keys()) work.cursors.add(id);
    if (s === 'firings' || s === 'nodes') for (const k of view.firings.keys()) work.firings.add(k);
    if (s === 'firings') for (const k of view.firings.keys()) this.backstop.claimed(k);
    if (s === 'triggers') for (const k of view.triggers.keys()) work.triggers.add(k);
    this.requestStep();
  }

  private onEvent(s: Source, ev: Parameters<ClusterView['apply']>[1]): void {
    const { view, work } = this.s;
    const id = view.apply(s, ev);
    if (s === 'tasks') {
      if (ev.type === 'put') work.cursors.add(id);
      else view.cursors.delete(id);
      work.tasks.add(id);
    }
    if (s === 'firings') {
      work.firings.add(id);
      if (ev.type === 'put') this.backstop.claimed(id, view.firings.get(id)?.value.node);
      if (ev.type === 'delete') for (const k of view.unassigned) work.firings.add(k); // deps may be free now
      const p = parseFiringKey(id);
      const task = p && view.tasks.get(p.taskId)?.value;
      // A daemon's replicas, an ended run under overlap forbid/replace, a deleted or paused task's firings.
      if (p && (!task || !task.enabled || isDaemon(task) || task.policies.overlap !== 'allow')) work.tasks.add(p.taskId);
    }
    if (s === 'nodes') for (const k of view.firings.keys()) work.firings.add(k);
    if (s === 'triggers' && ev.type === 'put') work.triggers.add(id);
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

  /** Recompute what changed, run what is due, re-arm the timer. */
  private async step(): Promise<void> {
    if (!this.synced || !this.s.canWrite()) {
      this.log.debug({ synced: this.synced }, 'leader step skipped');
      return;
    }
    const { work } = this.s;
    try {
      await this.planning.refreshCursors();
      const changed = [...work.tasks];
      this.planning.reschedule();
      await this.replicas.keep(changed);
      const due = work.takeDue(this.clock.now());
      this.log.debug({ due: due.length, next: work.nextDue() }, 'leader step');
      if (due.length > 0) await this.planning.fire(due);
      if (work.triggers.size > 0) await this.repairs.triggers();
      if (work.backstops.size > 0) await this.backstop.run();
      // Old plans go whether or not anything needed the backstop (it seldom does when every
      // planned firing is claimed: tying the prune to it left every chunk in etcd for good).
      await this.backstop.prune(this.clock.now());
      await this.backstop.settle(this.clock.now());
      if (work.takeClaimCheck() || work.firings.size > 0) await this.repairs.repair();
    } finally {
      // Whatever failed (an etcd timeout), the timer stays armed for what is left.
      this.planning.reschedule();
      work.claimsAt(this.s.view.claims.nextCheckMs(this.s.clock.now()));
      this.arm();
    }
  }

  private arm(): void {
    const next = this.s.work.nextDue();
    if (next === null || this.s.stopped) return;
    if (this.cancelTimer && this.timerAt === next) return;
    this.cancelTimer?.();
    this.timerAt = next;
    this.cancelTimer = this.clock.timeout(Math.min(MAX_TIMER_MS, Math.max(0, next - this.clock.now())), () => {
      this.cancelTimer = null;
      this.requestStep();
    });
  }
}

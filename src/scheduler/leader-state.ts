import { LeaderFirings } from '../store/leader-firings.js';
import { TriggerStore } from '../store/trigger-store.js';
import { PlanStore } from '../store/plan-store.js';
import type { PlannedFiring } from '../domain/candidates.js';
import type { NodeInfo } from '../domain/placement.js';
import { NodeStore } from '../store/node-store.js';
import type { EtcdHandle } from '../store/etcd.js';
import type { Leadership } from '../store/election.js';
import type { NodeSession } from '../store/session.js';
import { depsBusy } from '../domain/replicas.js';
import type { Run, Task } from '../domain/task.js';
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { ClusterView } from './cluster-view.js';
import { LeaderWork } from './work.js';
import type { PlanContext } from './planner.js';

/** How soon the leader tries again what an etcd error interrupted. */
export const RETRY_MS = 1000;

export interface LeaderOptions {
  random?: () => number;
  /** How far ahead of their instant plain firings are written (WRITE_AHEAD_MS). */
  writeAheadMs?: number;
  /** Protocol v2 (domain/candidates.ts): firings planned this far ahead with candidates that claim at the instant. */
  candidates?: CandidateOptions;
  /** Told of each run record the leader ends (lost runs): failure alerts, callbacks; `retrying`: another attempt follows. */
  runEnded?: (run: Run, retrying: boolean) => void;
  /** Whether this node's outcome journal still holds a run's outcome (not lost: it is committed soon). */
  journalled?: (runId: string) => boolean;
}

export interface CandidateOptions {
  enabled: boolean;
  /** Firings are planned at least this far ahead (longer than a failover: TTL + election + a new leader's catch-up). */
  horizonMs: number;
  /** ...and a task is planned again once its plans reach less than the horizon ahead: this much at a time. */
  strideMs: number;
  /** How long each candidate waits for the one before it. */
  stepMs: number;
}

/**
 * Planned instants the leader is settling outside `planned` (a plan write or a backstop look in
 * flight): its mark on the plans (Backstop.settle) stays before each of them.
 */
export class Unsettled {
  private readonly held = new Map<number, number>();
  private seq = 0;

  /** Holds `ms` (the earliest instant of the work in flight) until the returned release. */
  hold(ms: number): () => void {
    const id = ++this.seq;
    this.held.set(id, ms);
    return () => void this.held.delete(id);
  }

  min(): number {
    let m = Infinity;
    for (const ms of this.held.values()) if (ms < m) m = ms;
    return m;
  }
}

/**
 * What the leader's parts share while this node leads: the view the watches feed, the work
 * they mark, the fenced stores, time. `canWrite` and `fenced` are the two questions every
 * write asks first and after.
 */
export class LeaderState {
  readonly view: ClusterView;
  readonly work = new LeaderWork();
  readonly store: LeaderFirings;
  readonly triggers: TriggerStore;
  readonly plans: PlanStore;
  /** Planned firings (v2) not seen claimed yet, by firing key: the backstop looks at them after their candidates' turns. */
  readonly planned = new Map<string, PlannedFiring>();
  readonly unsettled = new Unsettled();
  readonly candidates: CandidateOptions | null;
  readonly nodes: NodeStore;
  readonly random: () => number;
  readonly runEnded: (run: Run, retrying: boolean) => void;
  readonly journalled: (runId: string) => boolean;
  private readonly turn = { n: 0 };
  stopped = false;

  constructor(
    h: EtcdHandle,
    private readonly session: NodeSession,
    readonly leadership: Leadership,
    readonly clock: Clock,
    readonly log: Logger,
    readonly metrics: Metrics,
    opts: LeaderOptions,
  ) {
    this.view = new ClusterView(() => clock.now());
    this.store = new LeaderFirings(h);
    this.triggers = new TriggerStore(h);
    this.plans = new PlanStore(h);
    this.candidates = opts.candidates?.enabled ? opts.candidates : null;
    this.nodes = new NodeStore(h);
    this.random = opts.random ?? Math.random;
    this.runEnded = opts.runEnded ?? (() => undefined);
    this.journalled = opts.journalled ?? (() => false);
  }

  get fence(): Leadership['fence'] {
    return this.leadership.fence;
  }

  canWrite(): boolean {
    if (this.stopped || this.leadership.lost.aborted) return false;
    if (!this.session.alive()) {
      this.log.warn('lease deadline passed: not scheduling');
      return false;
    }
    return true;
  }

  fenced(): void {
    this.log.warn('fenced write rejected: this node no longer leads');
    void this.leadership.resign();
  }

  /**
   * Leases whose nodes have stopped claiming (domain/claims.ts): they get no new work and their
   * unclaimed firings go elsewhere, seconds before their leases expire.
   */
  silent(): ReadonlySet<string> {
    const { view } = this;
    const { silent, fresh } = view.claims.silentNow(view.liveLeases(), this.clock.now());
    for (const lease of fresh) {
      const node = [...view.nodes.values()].find((n) => n.value.lease === lease)?.value.id;
      this.log.warn({ node, lease, unclaimed: view.claims.waitingOn(lease).length, deadlineMs: Math.round(view.claims.deadlineMs(this.clock.now())) }, 'node has claimed nothing within the claim deadline: no new work for it, its unclaimed firings go elsewhere');
      this.metrics.silentNode();
    }
    return silent;
  }

  /** The inputs of a placement decision now (silent nodes left out). */
  planContext(): PlanContext {
    const silent = this.silent();
    const nodes = this.view.nodeInfos();
    return { nowMs: this.clock.now(), nodes: silent.size ? nodes.filter((n) => !silent.has(n.lease)) : nodes, turn: this.turn, random: this.random, blocked: (t) => this.depsBlocked(t) };
  }

  /** The nodes that claim planned firings (protocol 2; a node of an older version only takes assignments). */
  candidateNodes(nodes: NodeInfo[]): NodeInfo[] {
    return nodes.filter((n) => (this.view.nodes.get(n.id)?.value.protocol ?? 1) >= 2);
  }

  /**
   * The task to judge its firings by: the view's, or etcd's while the view has none. Tasks and
   * firings (and triggers) arrive on separate watches, so a firing a trigger wrote right after its
   * task was created can reach the leader before the task does; only a task etcd does not hold
   * either is gone (or one whose deletion the watch delivered: no read). `seen` (per step) asks
   * etcd once per task.
   */
  async task(id: string, seen?: Map<string, Promise<Task | undefined>>): Promise<Task | undefined> {
    const held = this.view.tasks.get(id)?.value;
    if (held || this.view.deletedTasks.has(id)) return held;
    let read = seen?.get(id);
    if (!read) {
      read = this.store.readTask(id).then((t) => t ?? undefined);
      seen?.set(id, read);
    }
    return read;
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
}

import type { Kv, KvEvent } from '../store/watch.js';
import { K, type Versioned } from '../store/keys.js';
import type { Firing } from '../domain/firing.js';
import type { Task } from '../domain/task.js';
import type { NodeRecord } from '../store/session.js';
import { WARMUP_MS, warmedUp, type NodeInfo } from '../domain/placement.js';
import { ClaimWatch } from './claim-watch.js';
import { SharedParts } from './shared-parts.js';

/** Parts equal across the definitions the leader holds, kept once (shared-parts.ts). */
const shared = new SharedParts();


const MAX_DELETED_TASKS = 100_000;

/**
 * The leader's picture of the cluster, fed only by watch snapshots and events. Firings are
 * indexed per task (overlap) and per node (load, lost incarnations).
 */
export class ClusterView {
  /** The nodes' claims as the firings show them (silent nodes). */
  readonly claims = new ClaimWatch();
  tasks = new Map<string, Versioned<Task>>();
  cursors = new Map<string, Versioned<number>>();
  firings = new Map<string, Versioned<Firing>>();
  nodes = new Map<string, Versioned<NodeRecord>>();
  triggers = new Map<string, Versioned<string>>();
  /**
   * Tasks the tasks watch said were deleted (ids are never reused): their firings are a deleted
   * task's without asking etcd (LeaderState.task). Bounded: past the bound, etcd is asked.
   */
  readonly deletedTasks = new Set<string>();

  /**
   * Never goes back in time: the leader writes some keys itself (cursors) and records the
   * result at once, so the watch may deliver an older revision of the same key afterwards.
   */
  private static apply<T>(map: Map<string, Versioned<T>>, ev: KvEvent, strip: string, parse: (v: string) => T): string {
    const id = ev.key.slice(strip.length);
    const have = map.get(id);
    if (have && have.modRevision > ev.modRevision) return id;
    if (ev.type === 'delete') map.delete(id);
    else map.set(id, { value: parse(ev.value), modRevision: ev.modRevision });
    return id;
  }

  private static load<T>(map: Map<string, Versioned<T>>, kvs: Kv[], strip: string, parse: (v: string) => T): void {
    map.clear();
    for (const kv of kvs) map.set(kv.key.slice(strip.length), { value: parse(kv.value), modRevision: kv.modRevision });
  }

  static readonly sources = {
    tasks: { prefix: K.tasks, parse: (v: string) => shared.task(JSON.parse(v) as Task) },
    cursors: { prefix: K.cursors, parse: (v: string) => Number(v) },
    firings: { prefix: K.firings, parse: (v: string) => JSON.parse(v) as Firing },
    nodes: { prefix: K.nodes, parse: (v: string) => JSON.parse(v) as NodeRecord },
    triggers: { prefix: K.triggers, parse: (v: string) => v },
  } as const;

  constructor(private readonly now: () => number = Date.now) {}

  /** Firing keys per task id. */
  private byTask = new Map<string, Set<string>>();
  /** Assigned or running firings per node id (placement load), kept as firings change. */
  private load = new Map<string, number>();
  /** The cpu and memory those firings requested, per node id. */
  private used = new Map<string, { cpu: number; memMb: number }>();
  /** Keys of firings waiting for a node (deps, no eligible node). */
  readonly unassigned = new Set<string>();

  reset(which: keyof typeof ClusterView.sources, kvs: Kv[]): void {
    const s = ClusterView.sources[which];
    ClusterView.load(this[which] as Map<string, Versioned<unknown>>, kvs, s.prefix, s.parse);
    if (which === 'firings') {
      this.byTask.clear();
      this.load.clear();
      this.used.clear();
      this.unassigned.clear();
      for (const [k, e] of this.firings) this.index(k, e.value);
      this.claims.reset([...this.firings].map(([k, e]) => [k, e.value]), this.now());
    }
  }

  apply(which: keyof typeof ClusterView.sources, ev: KvEvent): string {
    const s = ClusterView.sources[which];
    if (which === 'tasks' && ev.type === 'delete') {
      if (this.deletedTasks.size >= MAX_DELETED_TASKS) this.deletedTasks.clear();
      this.deletedTasks.add(ev.key.slice(s.prefix.length));
    }
    if (which !== 'firings') return ClusterView.apply(this[which] as Map<string, Versioned<unknown>>, ev, s.prefix, s.parse);
    const key = ev.key.slice(s.prefix.length);
    const before = this.firings.get(key)?.value;
    ClusterView.apply(this.firings, ev, s.prefix, ClusterView.sources.firings.parse);
    const after = this.firings.get(key)?.value;
    if (before !== after) {
      if (before) this.unindex(key, before);
      if (after) this.index(key, after);
      this.claims.changed(key, before, after, this.now());
    }
    return key;
  }

  /**
   * The leader deleted this firing itself: gone from the view at once, before the watch says so
   * (a plan in the next step must not pass an instant whose firing it has just dropped).
   */
  forget(key: string): void {
    const have = this.firings.get(key);
    if (have) this.apply('firings', { type: 'delete', key: ClusterView.sources.firings.prefix + key, value: '', createRevision: 0, lease: '', modRevision: have.modRevision });
  }

  private index(key: string, f: Firing): void {
    const taskId = key.slice(0, key.indexOf('/'));
    let set = this.byTask.get(taskId);
    if (!set) this.byTask.set(taskId, (set = new Set()));
    set.add(key);
    if (f.state === 'unassigned') this.unassigned.add(key);
    if (f.node && (f.state === 'assigned' || f.state === 'running')) {
      this.load.set(f.node, (this.load.get(f.node) ?? 0) + 1);
      this.addUsed(f.node, f.requests, 1);
    }
  }

  private addUsed(node: string, r: Firing['requests'], sign: 1 | -1): void {
    if (!r?.cpu && !r?.memMb) return;
    const u = this.used.get(node) ?? { cpu: 0, memMb: 0 };
    u.cpu += sign * (r.cpu ?? 0);
    u.memMb += sign * (r.memMb ?? 0);
    if (u.cpu <= 1e-9 && u.memMb <= 0) this.used.delete(node);
    else this.used.set(node, u);
  }

  private unindex(key: string, f: Firing): void {
    const taskId = key.slice(0, key.indexOf('/'));
    const set = this.byTask.get(taskId);
    if (set && !this.firings.has(key)) {
      set.delete(key);
      if (set.size === 0) this.byTask.delete(taskId);
    }
    this.unassigned.delete(key);
    if (f.node && (f.state === 'assigned' || f.state === 'running')) {
      const n = (this.load.get(f.node) ?? 1) - 1;
      if (n > 0) this.load.set(f.node, n);
      else this.load.delete(f.node);
      this.addUsed(f.node, f.requests, -1);
    }
  }

  /** Firings of one task (keys are "{taskId}/{ms}[.replica]"). */
  firingsOf(taskId: string): Versioned<Firing>[] {
    const out: Versioned<Firing>[] = [];
    for (const k of this.byTask.get(taskId) ?? []) {
      const e = this.firings.get(k);
      if (e) out.push(e);
    }
    return out;
  }

  /** Ids of tasks that have firings (to stop those of deleted tasks). */
  tasksWithFirings(): string[] {
    return [...this.byTask.keys()];
  }

  liveLeases(): Set<string> {
    return new Set([...this.nodes.values()].map((n) => n.value.lease));
  }

  /** The nodes as placement sees them (a node that just started counts as loaded like the rest). */
  nodeInfos(): NodeInfo[] {
    const load = this.load;
    const now = this.now();
    const warming = new Set<string>(); // by the start time in its record (nodes keep their clocks in sync)
    const infos = [...this.nodes.values()].map(({ value: n }): NodeInfo => {
      if (now - n.startedMs < WARMUP_MS) warming.add(n.lease);
      const used = this.used.get(n.id);
      return {
        id: n.id,
        lease: n.lease,
        state: n.state,
        attributes: { hostname: n.hostname, ip: n.ip, ...n.attributes },
        capacity: n.capacity,
        load: load.get(n.id) ?? 0,
        ...(n.resources ? { cpu: n.resources.cpu, memMb: n.resources.memMb } : {}),
        ...(used ? { usedCpu: used.cpu, usedMemMb: used.memMb } : {}),
        runtimes: n.runtimes ?? [],
        ...(n.clockSkewed ? { clockSkewed: true } : {}),
      };
    });
    return warmedUp(infos, (n) => warming.has(n.lease));
  }
}

import type { Kv, KvEvent } from '../store/watch.js';
import type { Firing } from '../domain/firing.js';
import type { Task } from '../domain/task.js';
import type { NodeRecord } from '../store/session.js';
import type { NodeInfo } from '../domain/placement.js';

export interface Entry<T> {
  value: T;
  modRevision: number;
}

/**
 * The leader's picture of the cluster, fed only by watch snapshots and events. Firings are
 * indexed per task (overlap) and per node (load, lost incarnations).
 */
export class ClusterView {
  tasks = new Map<string, Entry<Task>>();
  cursors = new Map<string, Entry<number>>();
  firings = new Map<string, Entry<Firing>>();
  nodes = new Map<string, Entry<NodeRecord>>();
  triggers = new Map<string, Entry<string>>();

  /**
   * Never goes back in time: the leader writes some keys itself (cursors) and records the
   * result at once, so the watch may deliver an older revision of the same key afterwards.
   */
  private static apply<T>(map: Map<string, Entry<T>>, ev: KvEvent, strip: string, parse: (v: string) => T): string {
    const id = ev.key.slice(strip.length);
    const have = map.get(id);
    if (have && have.modRevision > ev.modRevision) return id;
    if (ev.type === 'delete') map.delete(id);
    else map.set(id, { value: parse(ev.value), modRevision: ev.modRevision });
    return id;
  }

  private static load<T>(map: Map<string, Entry<T>>, kvs: Kv[], strip: string, parse: (v: string) => T): void {
    map.clear();
    for (const kv of kvs) map.set(kv.key.slice(strip.length), { value: parse(kv.value), modRevision: kv.modRevision });
  }

  static readonly sources = {
    tasks: { prefix: 'tasks/', parse: (v: string) => JSON.parse(v) as Task },
    cursors: { prefix: 'cursors/', parse: (v: string) => Number(v) },
    firings: { prefix: 'firings/', parse: (v: string) => JSON.parse(v) as Firing },
    nodes: { prefix: 'nodes/', parse: (v: string) => JSON.parse(v) as NodeRecord },
    triggers: { prefix: 'triggers/', parse: (v: string) => v },
  } as const;

  /** Firing keys per task id. */
  private byTask = new Map<string, Set<string>>();

  reset(which: keyof typeof ClusterView.sources, kvs: Kv[]): void {
    const s = ClusterView.sources[which];
    ClusterView.load(this[which] as Map<string, Entry<unknown>>, kvs, s.prefix, s.parse);
    if (which === 'firings') {
      this.byTask.clear();
      for (const k of this.firings.keys()) this.index(k, true);
    }
  }

  apply(which: keyof typeof ClusterView.sources, ev: KvEvent): string {
    const s = ClusterView.sources[which];
    const id = ClusterView.apply(this[which] as Map<string, Entry<unknown>>, ev, s.prefix, s.parse);
    if (which === 'firings') this.index(id, ev.type === 'put');
    return id;
  }

  private index(key: string, present: boolean): void {
    const taskId = key.slice(0, key.indexOf('/'));
    let set = this.byTask.get(taskId);
    if (present) {
      if (!set) this.byTask.set(taskId, (set = new Set()));
      set.add(key);
    } else if (set) {
      set.delete(key);
      if (set.size === 0) this.byTask.delete(taskId);
    }
  }

  /** Firings of one task (keys are "{taskId}/{ms}[.replica]"). */
  firingsOf(taskId: string): Entry<Firing>[] {
    const out: Entry<Firing>[] = [];
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

  nodeInfos(): NodeInfo[] {
    const load = new Map<string, number>();
    for (const f of this.firings.values()) {
      if (f.value.node && (f.value.state === 'assigned' || f.value.state === 'running')) load.set(f.value.node, (load.get(f.value.node) ?? 0) + 1);
    }
    return [...this.nodes.values()].map(({ value: n }) => ({
      id: n.id,
      lease: n.lease,
      state: n.state,
      attributes: { hostname: n.hostname, ip: n.ip, ...n.attributes },
      capacity: n.capacity,
      load: load.get(n.id) ?? 0,
    }));
  }
}

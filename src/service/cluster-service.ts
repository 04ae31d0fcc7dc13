import type { EtcdHandle } from '../store/etcd.js';
import { clusterStats, type ClusterStats } from './cluster-stats.js';
import { NodeStore } from '../store/node-store.js';
import type { NodeRecord } from '../store/session.js';
import { firingRunId, isDaemon } from '../domain/firing.js';
import { TaskStore } from '../store/task-store.js';
import { RotaError } from '../domain/errors.js';
import type { Caller } from './task-service.js';

export interface InflightEntry {
  runId: string;
  taskId: string;
  scheduledMs: number;
  attempt: number;
  state: 'assigned' | 'running';
  node: string;
  tenant: string;
  startedMs?: number;
  /** Replica index, when the task has more than one. */
  replica?: number;
  /** The process id, once its node has written it. */
  pid?: number;
  /** A daemon replica (kept running), not a run that ends. */
  daemon: boolean;
}

/** Operations on nodes every API shares: members, drain, and the work still in flight on a host. */
export class ClusterService {
  readonly nodes: NodeStore;
  private readonly tasks: TaskStore;

  constructor(
    h: EtcdHandle,
    /** Tenants allowed to drain nodes and to see every tenant's in-flight runs. */
    private readonly operators: string[] = ['default'],
  ) {
    this.nodes = new NodeStore(h);
    this.tasks = new TaskStore(h);
  }

  /** The cluster's counters summed over the live nodes, each node's share, and who did not answer (service/cluster-stats.ts). */
  async stats(nowMs: number): Promise<ClusterStats> {
    return clusterStats(await this.nodes.list(), nowMs);
  }

  isOperator(c: Caller): boolean {
    return this.operators.includes(c.tenant);
  }

  async get(id: string): Promise<NodeRecord> {
    const n = (await this.nodes.list()).find((x) => x.id === id);
    if (!n) throw new RotaError('NOT_FOUND', `no live node with id '${id}'`);
    return n;
  }

  /** Sticky until undrain; the node stops taking work and hands over leadership. */
  async drain(c: Caller, id: string, on: boolean): Promise<{ id: string; draining: boolean }> {
    if (!this.isOperator(c)) throw new RotaError('FORBIDDEN', `tenant '${c.tenant}' may not drain nodes: only the operator tenants in auth.operators may`);
    await this.get(id);
    await this.nodes.setDrain(id, on);
    return { id, draining: on };
  }

  /** Runs assigned to or running on the given nodes: every tenant's for operators (and `null`), else the caller's. */
  async inflight(c: Caller | null, nodeIds: string[]): Promise<InflightEntry[]> {
    const ids = new Set(nodeIds);
    const all = c === null || this.isOperator(c);
    const mine = (await this.nodes.firingsInFlight()).filter((f) => ids.has(f.node!) && (all || f.tenant === c!.tenant));
    // Which of them are daemons: their tasks, read once each (a task deleted meanwhile counts as not one).
    const daemons = new Set<string>();
    await Promise.all(
      [...new Set(mine.map((f) => f.taskId))].map(async (id) => {
        const t = await this.tasks.get(id);
        if (t && isDaemon(t.value)) daemons.add(id);
      }),
    );
    return mine
      .map((f) => ({
        runId: firingRunId(f),
        taskId: f.taskId,
        scheduledMs: f.scheduledMs,
        attempt: f.attempt,
        state: f.state as 'assigned' | 'running',
        node: f.node!,
        tenant: f.tenant,
        ...(f.startedMs ? { startedMs: f.startedMs } : {}),
        ...(f.replica ? { replica: f.replica } : {}),
        ...(f.pid !== undefined ? { pid: f.pid } : {}),
        daemon: daemons.has(f.taskId),
      }))
      .sort((a, b) => a.scheduledMs - b.scheduledMs);
  }

  /** The node ids living on a host (by IP or hostname; the hosts of its API address and its qschedule worker addresses count too). */
  async nodesOnHost(host: string): Promise<string[]> {
    const hostOf = (a: string) => (a.includes(':') ? a.slice(0, a.lastIndexOf(':')) : a);
    return (await this.nodes.list())
      .filter((n) => n.ip === host || n.hostname === host || hostOf(n.address) === host || n.address === host || (n.workerAddresses ?? []).some((w) => w === host || hostOf(w) === host))
      .map((n) => n.id);
  }

  /** `null` caller = every tenant (operator checks such as qschedule's /api/check/$ip.do). */
  async inflightOnHost(c: Caller | null, host: string): Promise<InflightEntry[]> {
    return this.inflight(c, await this.nodesOnHost(host));
  }
}

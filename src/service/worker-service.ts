/**
 * Per-job workers (qschedule's worker on/off): the cluster's nodes, each allowed or not to take
 * new firings of one task. Stored in the task's placement (excludeNodes), so the leader honours
 * it from the next firing it places, on every node, and it survives restarts. Firings already
 * placed run where they are.
 *
 * A worker is addressed as `ip:port`, as qschedule's clients know it. An address names a node
 * when it is one of (in this order):
 *   1. the node's own: its API address (advertise, else listen), `ip:apiPort`, `hostname:apiPort`,
 *      or one of its `node.workerAddresses` (the old workers it replaces, any port);
 *   2. else, by host alone: the one live node whose IP, hostname, API host or a worker
 *      address's host is the address's host (the port is an old worker's, which no node
 *      listens on). Two nodes on that host: it names neither (unknown).
 */
import { RotaError } from '../domain/errors.js';
import type { Task } from '../domain/task.js';
import type { NodeRecord } from '../store/session.js';
import type { ClusterService } from './cluster-service.js';
import type { Caller, TaskService } from './task-service.js';

export interface JobWorker {
  nodeId: string;
  address: string;
  hostname: string;
  canSchedule: boolean;
}

const hostOf = (address: string): string => (address.includes(':') ? address.slice(0, address.lastIndexOf(':')) : address);

/** Does `address` (host:port) name this node exactly? Its API address, its IP or hostname with that port, or a worker address of its. */
function namesExactly(n: NodeRecord, address: string): boolean {
  if (n.address === address || (n.workerAddresses ?? []).includes(address)) return true;
  const port = n.address.slice(n.address.lastIndexOf(':') + 1);
  return `${n.ip}:${port}` === address || `${n.hostname}:${port}` === address;
}

/** The node an address names (see the header), or undefined. */
function nodeForAddress(nodes: NodeRecord[], address: string): NodeRecord | undefined {
  const exact = nodes.find((n) => namesExactly(n, address));
  if (exact) return exact;
  const host = hostOf(address);
  const onHost = nodes.filter((n) => n.ip === host || n.hostname === host || hostOf(n.address) === host || (n.workerAddresses ?? []).some((w) => hostOf(w) === host));
  return onHost.length === 1 ? onHost[0] : undefined;
}

export class WorkerService {
  constructor(
    private readonly service: TaskService,
    private readonly cluster: ClusterService,
  ) {}

  /**
   * The live nodes and whether each may take new firings of the task: one entry per worker
   * address a node has (the addresses qschedule's clients know), else one with its API address.
   */
  async list(task: Task): Promise<JobWorker[]> {
    const excluded = new Set(task.placement.excludeNodes ?? []);
    return (await this.cluster.nodes.list())
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .flatMap((n) => (n.workerAddresses?.length ? n.workerAddresses : [n.address]).map((address) => ({ nodeId: n.id, address, hostname: n.hostname, canSchedule: !excluded.has(n.id) })));
  }

  /**
   * Turns workers on (true) or off (false) for one task. Addresses that name no live node are
   * returned (nothing is done for them); the known ones are applied. Refuses (INVALID_STATE)
   * a change that would leave no live node allowed.
   */
  async set(c: Caller, taskId: string, states: Record<string, boolean>): Promise<{ task: Task; unknown: string[] }> {
    const task = await this.service.get(c, taskId);
    const nodes = await this.cluster.nodes.list();
    const excluded = new Set(task.placement.excludeNodes ?? []);
    const unknown: string[] = [];
    for (const [address, on] of Object.entries(states)) {
      const n = nodeForAddress(nodes, address);
      if (!n) unknown.push(address);
      else if (on) excluded.delete(n.id);
      else excluded.add(n.id);
    }
    if (nodes.length > 0 && nodes.every((n) => excluded.has(n.id))) {
      throw new RotaError('INVALID_STATE', `every worker of task ${task.name} would be off: at least one must stay on`);
    }
    const before = [...(task.placement.excludeNodes ?? [])].sort();
    const after = [...excluded].sort();
    if (JSON.stringify(before) === JSON.stringify(after)) return { task, unknown };
    const { excludeNodes: _e, ...placement } = task.placement;
    const next = await this.service.patch(c, task.id, { placement: { ...placement, ...(after.length ? { excludeNodes: after } : {}) } });
    return { task: next, unknown };
  }
}

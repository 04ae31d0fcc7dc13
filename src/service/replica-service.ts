import type { EtcdHandle } from '../store/etcd.js';
import { NodeStore } from '../store/node-store.js';
import { firingRunId, isDaemon, type Firing } from '../domain/firing.js';
import { RotaError } from '../domain/errors.js';
import type { Run, Task } from '../domain/task.js';
import type { Caller, TaskService } from './task-service.js';
import { askOwner, readTail, runLogFile, type Via } from './run-output.js';

export type ReplicaState = 'running' | 'backoff' | 'pending' | 'stopped';

export interface ReplicaStatus {
  replica: number;
  alias: string;
  state: ReplicaState;
  node?: string;
  pid?: number;
  runId?: string;
  restarts: number;
  startedMs?: number;
  lastExitCode?: number;
  backoffMs?: number;
}

export interface ReplicaOutput {
  replica: number;
  runId: string | null;
  node: string | null;
  output: string;
  truncated: boolean;
}

/**
 * The process-manager view every API shares: the replicas of a task (where each runs, its pid,
 * restarts, backoff), restarting a task, and reading a replica's output from the node that
 * wrote it (the one direct node-to-node call in Rota).
 */
export class ReplicaService {
  private readonly nodes: NodeStore;

  constructor(
    private readonly h: EtcdHandle,
    private readonly tasks: TaskService,
    private readonly self: { nodeId: () => string; dataDir: string },
  ) {
    this.nodes = new NodeStore(h);
  }

  firingsOf(taskId: string): Promise<Firing[]> {
    return this.tasks.firingsOf(taskId);
  }

  /** One entry per replica slot (0..replicas-1, plus any left over from a larger count). */
  async status(c: Caller, taskId: string): Promise<ReplicaStatus[]> {
    const task = await this.tasks.get(c, taskId);
    return statusOf(task, await this.firingsOf(taskId));
  }

  /**
   * Stop then start: a daemon gets a new generation (the leader stops each old replica and
   * starts its successor once it is gone); other tasks have their live runs killed and fire
   * again now.
   */
  async restart(c: Caller, taskId: string): Promise<Task> {
    const task = await this.tasks.get(c, taskId);
    if (isDaemon(task)) return this.tasks.touch(c, taskId, 'restart');
    await this.tasks.trigger(c, taskId, undefined, true);
    return task;
  }

  /**
   * One daemon replica stopped and started again: its node kills the live run (its process
   * group) and starts the replica again at once, as its next attempt. The others go on.
   */
  async restartReplica(c: Caller, taskId: string, replica: number): Promise<ReplicaStatus> {
    const task = await this.tasks.get(c, taskId);
    if (!isDaemon(task)) throw new RotaError('INVALID_STATE', `task ${taskId} is not a daemon: POST /api/v1/tasks/${taskId}/restart kills its live runs and fires it again`);
    mustHaveReplica(task, replica);
    const st = statusOf(task, await this.firingsOf(taskId)).find((r) => r.replica === replica);
    if (!st) throw new RotaError('NOT_FOUND', `task ${taskId} has no replica ${replica} (replicas: ${task.replicas})`);
    if (st.state !== 'running' || !st.runId) throw new RotaError('INVALID_STATE', `replica ${replica} of task ${taskId} is ${st.state}, not running: the leader starts it`);
    await this.tasks.kill(c, st.runId, 'restart');
    return st;
  }

  /** The newest run of a replica and the tail of its output file (read on its node). */
  async output(c: Caller, taskId: string, replica: number, maxBytes: number, via: Via = {}): Promise<ReplicaOutput> {
    const task = await this.tasks.get(c, taskId);
    mustHaveReplica(task, replica);
    const run = (await this.tasks.newestRuns(task, 200)).find((r: Run) => (r.replica ?? 0) === replica && r.node && r.state !== 'skipped');
    if (!run || !run.node) return { replica, runId: null, node: null, output: '', truncated: false };
    if (run.node === this.self.nodeId()) {
      const tail = await readTail(runLogFile(this.self.dataDir, run), maxBytes);
      // No file: an HTTP or JSON-RPC body that fit in the run record's tail is all there.
      const { text, truncated } = tail ?? { text: (run.outputTail ?? '').slice(-maxBytes), truncated: (run.outputTail ?? '').length > maxBytes };
      return { replica, runId: run.id, node: run.node, output: text, truncated };
    }
    if (via.localOnly) throw new RotaError('UNAVAILABLE', `run ${run.id} is on node ${run.node}, not on ${this.self.nodeId()}`);
    const owner = (await this.nodes.list()).find((n) => n.id === run.node);
    if (!owner) return { replica, runId: run.id, node: run.node, output: run.outputTail ?? '', truncated: true };
    return (await askOwner(owner, `/api/v1/tasks/${taskId}/replicas/${replica}/output?bytes=${maxBytes}`, this.self.nodeId(), via).then((r) => r.json())) as ReplicaOutput;
  }
}

/** A replica index the task has (0..replicas-1), else NOT_FOUND. */
function mustHaveReplica(task: Task, replica: number): void {
  if (!Number.isInteger(replica) || replica < 0 || replica >= Math.max(task.replicas, 1)) throw new RotaError('NOT_FOUND', `task ${task.id} has no replica ${replica} (replicas: ${task.replicas})`);
}

/** Pure: the replica slots of a task from its firings. */
export function statusOf(task: Task, firings: Firing[]): ReplicaStatus[] {
  const n = Math.max(1, task.replicas);
  const maxReplica = Math.max(n - 1, ...firings.map((f) => f.replica ?? 0));
  const out: ReplicaStatus[] = [];
  for (let r = 0; r <= maxReplica; r++) {
    const mine = firings.filter((f) => (f.replica ?? 0) === r).sort((a, b) => b.scheduledMs - a.scheduledMs);
    const f = mine.find((x) => x.state === 'running') ?? mine[0];
    const base = { replica: r, alias: `${task.name}:${r}`, restarts: f?.restarts ?? 0 };
    if (!f) {
      out.push({ ...base, state: 'stopped' });
      continue;
    }
    const state: ReplicaState = f.state !== 'running' ? 'pending' : f.pid === undefined && f.backoffMs !== undefined ? 'backoff' : 'running';
    out.push({
      ...base,
      state,
      ...(f.node ? { node: f.node } : {}),
      ...(f.pid !== undefined && state === 'running' ? { pid: f.pid } : {}),
      runId: firingRunId(f),
      ...(f.startedMs ? { startedMs: f.startedMs } : {}),
      ...(f.lastExitCode !== undefined ? { lastExitCode: f.lastExitCode } : {}),
      ...(f.backoffMs !== undefined && state === 'backoff' ? { backoffMs: f.backoffMs } : {}),
    });
  }
  return out;
}


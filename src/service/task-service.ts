import type { EtcdHandle } from '../store/etcd.js';
import { TaskStore, type Versioned } from '../store/task-store.js';
import { RunStore, type Page } from '../store/run-store.js';
import { EventStore, type AuditAction, type AuditEvent } from '../store/event-store.js';
import { FiringReads } from '../store/firing-reads.js';
import { TriggerStore } from '../store/trigger-store.js';
import { PlanStore } from '../store/plan-store.js';
import { K, parseRunId } from '../store/keys.js';
import { RotaError, orNullIfNotFound } from '../domain/errors.js';
import type { Clock } from '../domain/clock.js';
import type { Run, Task } from '../domain/task.js';
import type { Firing } from '../domain/firing.js';
import { firingRunId, hasStarted } from '../domain/firing.js';
import { findDepCycle } from '../domain/replicas.js';
import { scheduleInstants, upcomingFirings, type Upcoming } from '../domain/schedule.js';
import { matchesDefinition, taskKinds, type DefinitionFilter, type TaskOrder } from '../domain/task-order.js';
import { TaskIndex, type ListedTask, type TaskFilter } from './task-index.js';
import { openTaskFeed } from '../store/task-feed.js';
import type { Logger } from '../log.js';
import { slotPage, type SlotQuery } from './slots.js';
import type { Slot } from '../domain/slots.js';
import { normalizeTask, type InputLimits, type TaskFields, type TaskInput } from './task-input.js';

export type { TaskFilter, ListedTask } from './task-index.js';

/** Who is asking: every operation is scoped to one tenant. */
export interface Caller {
  tenant: string;
  actor?: string;
}

/**
 * The operations every API shares. The native API and each dialect translate their requests
 * into these calls and their results back; none of them keeps state of its own.
 */
export class TaskService {
  private readonly tasks: TaskStore;
  private readonly runs: RunStore;
  private readonly events: EventStore;
  private readonly firings: FiringReads;
  private readonly triggers: TriggerStore;
  private readonly plans: PlanStore;
  /** The task list, answered from memory while it is read (task-index.ts). */
  private readonly index: TaskIndex;

  constructor(
    h: EtcdHandle,
    private readonly clock: Clock,
    private readonly limits: InputLimits,
    log: Logger,
  ) {
    this.index = new TaskIndex((to) => openTaskFeed(h, log, to), clock, log);
    this.tasks = new TaskStore(h, this.index.written);
    this.runs = new RunStore(h);
    this.events = new EventStore(h);
    this.firings = new FiringReads(h);
    this.triggers = new TriggerStore(h);
    this.plans = new PlanStore(h);
  }

  private async audit(c: Caller, action: AuditAction, task: Task, detail?: Record<string, unknown>): Promise<void> {
    await this.events.append({
      tenant: c.tenant,
      atMs: this.clock.now(),
      action,
      taskId: task.id,
      taskName: task.name,
      ...(task.group !== undefined ? { group: task.group } : {}),
      ...(c.actor ? { actor: c.actor } : {}),
      ...(detail ? { detail } : {}),
    });
  }

  /** An audit event about a whole group (a schedule-api identity) rather than one task. */
  async auditGroup(c: Caller, action: 'group-put' | 'group-enable' | 'group-disable' | 'group-delete', group: string, detail?: Record<string, unknown>): Promise<void> {
    await this.events.append({ tenant: c.tenant, atMs: this.clock.now(), action, group, ...(c.actor ? { actor: c.actor } : {}), ...(detail ? { detail } : {}) });
  }

  /** Refuses deps that would make a cycle among the tenant's tasks. */
  private async checkDeps(c: Caller, fields: { name: string; deps?: string[] }, selfId?: string): Promise<void> {
    if (!fields.deps?.length) return;
    const others = (await this.tasks.list()).filter((t) => t.tenant === c.tenant && t.id !== selfId);
    const cycle = findDepCycle(fields, others);
    if (cycle) throw new RotaError('INVALID_BODY', `deps form a cycle: ${cycle.join(' -> ')}`);
  }

  /** Checks a definition as create and replace would (meaning, defaults, deps) without writing it. */
  async check(c: Caller, input: TaskInput, selfId?: string): Promise<TaskFields> {
    const fields = normalizeTask(input, this.limits);
    await this.checkDeps(c, fields, selfId);
    return fields;
  }

  async create(c: Caller, input: TaskInput): Promise<Task> {
    const fields = normalizeTask(input, this.limits);
    await this.checkDeps(c, fields);
    const now = this.clock.now();
    // The cursor starts just before creation, so a 'now' schedule fires at its creation time.
    const task = await this.tasks.create({ ...fields, tenant: c.tenant, createdMs: now, updatedMs: now }, now - 1);
    await this.audit(c, 'create', task);
    return task;
  }

  private async load(c: Caller, id: string): Promise<Versioned<Task>> {
    const v = /^\d+$/.test(id) ? await this.tasks.get(id) : null;
    if (!v || v.value.tenant !== c.tenant) throw new RotaError('NOT_FOUND', `no task with id '${id}'`);
    return v;
  }

  async get(c: Caller, id: string): Promise<Task> {
    return (await this.load(c, id)).value;
  }

  async getByName(c: Caller, name: string): Promise<Task | null> {
    const id = await this.tasks.idByName(c.tenant, name);
    if (!id) return null;
    const v = await this.tasks.get(id);
    return v && v.value.tenant === c.tenant ? v.value : null;
  }

  /**
   * Every task of the caller's tenant that passes the filter, ordered by id: one scan of the
   * task definitions (O(N) keys), so a dialect listing everything does not page through them.
   */
  async listAll(c: Caller, f: DefinitionFilter = {}): Promise<Task[]> {
    return (await this.tasks.list()).filter((t) => t.tenant === c.tenant && matchesDefinition({ ...t, kinds: taskKinds(t) }, f));
  }

  /**
   * Filtered and ordered (by id, name, next firing or last outcome: domain/task-order.ts), with
   * each task's newest finished run and its runs in flight, from the node's task index;
   * `total` matches the filter. By id, `after` (the last id of the previous page) pages as a
   * cursor and `next` gives it; any order pages by `offset`.
   */
  async list(c: Caller, f: TaskFilter, limit: number, page: { after?: string; offset?: number; sort?: TaskOrder } = {}): Promise<{ items: ListedTask[]; next?: string; total: number }> {
    return this.index.list(c.tenant, f, limit, page);
  }

  /** What fires within the next withinMs across the caller's tasks, soonest first (from the task index). */
  async upcoming(c: Caller, nowMs: number, withinMs: number, limit: number): Promise<{ items: Upcoming[]; more: boolean }> {
    return upcomingFirings(await this.index.firingWithin(c.tenant, nowMs, withinMs), nowMs, withinMs, limit);
  }

  /** Closes the task index's watches (the node stops). */
  async stop(): Promise<void> {
    await this.index.stop();
  }

  /** A task's newest runs (its firings in flight first), for a task the caller was given already. */
  async newestRuns(t: Task, limit: number): Promise<Run[]> {
    return (await this.runs.listForTask(t.id, limit)).items;
  }

  /**
   * Tasks by id whatever their tenant: only for the calls an original served without a token
   * (qschedule's /api/check/$ip.do lists every app's jobs running on a host).
   */
  async anyTenantTasks(ids: string[]): Promise<Task[]> {
    return (await Promise.all(ids.map((id) => this.tasks.get(id)))).flatMap((v) => (v ? [v.value] : []));
  }

  /** Every firing of a task still in flight (a replica or scheduled time each). */
  async firingsOf(taskId: string): Promise<Firing[]> {
    return this.firings.firingsOf(taskId);
  }

  /** The run history and audit events RunLogService reads and clears (tenant checks are its own). */
  readonly history = {
    runsOf: (taskId: string): Promise<Run[]> => this.runs.allForTask(taskId),
    runsByTask: (): Promise<Map<string, Run[]>> => this.runs.allByTask(),
    deleteRunsOf: (taskId: string): Promise<void> => this.runs.deleteForTask(taskId),
    events: (tenant: string, fromMs?: number, toMs?: number): Promise<AuditEvent[]> => this.events.range(tenant, fromMs, toMs),
    deleteEvents: (tenant: string, ids: string[]): Promise<void> => this.events.deleteIds(tenant, ids),
  };

  /** "Why did this not run?": the task's slots in a range, newest first (service/slots.ts). */
  async slots(c: Caller, id: string, q: SlotQuery): Promise<{ items: Slot[]; next?: string }> {
    const task = await this.get(c, id);
    return slotPage({ runs: this.runs, events: this.events, firings: this.firings, plans: this.plans }, task, q, this.clock.now());
  }

  /** The service's clock (dialects whose clients send relative or past times read it here). */
  now(): number {
    return this.clock.now();
  }

  /** The last and next instants of each task's schedule (see scheduleInstants), by task id. */
  async instants(tasks: Task[]): Promise<Map<string, { lastMs: number | null; nextMs: number | null }>> {
    const cursors = await this.firings.readCursors(tasks.map((t) => t.id));
    const now = this.clock.now();
    return new Map(tasks.map((t) => [t.id, scheduleInstants(t.schedule, t.createdMs, cursors.get(t.id)?.value, now, t.enabled)]));
  }

  /** PUT: the whole definition is replaced; id, tenant and creation time stay. */
  async replace(c: Caller, id: string, input: TaskInput): Promise<Task> {
    const prev = await this.load(c, id);
    const fields = normalizeTask(input, this.limits);
    await this.checkDeps(c, fields, id);
    const now = this.clock.now();
    const next: Task = { ...fields, id, tenant: c.tenant, createdMs: prev.value.createdMs, updatedMs: now };
    const scheduleChanged = JSON.stringify(prev.value.schedule) !== JSON.stringify(next.schedule);
    // The cursor goes to now, even when it was ahead: firings planned ahead from the old
    // definition never fire (a candidate's claim compares the task's revision), so their
    // instants after now are planned again from this one.
    const task = await this.tasks.replace(prev, next, now, 'set');
    await this.audit(c, 'update', task, scheduleChanged ? { scheduleChanged: true } : undefined);
    return task;
  }

  /** PATCH: a JSON merge of the given top-level fields over the stored definition. */
  async patch(c: Caller, id: string, partial: Partial<TaskInput>): Promise<Task> {
    const prev = await this.load(c, id);
    const { id: _i, tenant: _t, createdMs: _c, updatedMs: _u, ...stored } = prev.value;
    const merged = { ...stored, ...partial } as TaskInput;
    return this.replace(c, id, merged);
  }

  /**
   * A new generation without changing the definition: a daemon's replicas are stopped and
   * started again (the leader restarts replicas whose generation is older than updatedMs).
   */
  async touch(c: Caller, id: string, why: 'restart'): Promise<Task> {
    const prev = await this.load(c, id);
    const now = Math.max(this.clock.now(), prev.value.updatedMs + 1);
    const task = await this.tasks.replace(prev, { ...prev.value, updatedMs: now }, this.clock.now(), 'set');
    await this.audit(c, 'update', task, { [why]: true });
    return task;
  }

  async delete(c: Caller, id: string): Promise<void> {
    const prev = await this.load(c, id);
    await this.tasks.delete(prev);
    await this.audit(c, 'delete', prev.value);
  }

  /**
   * Pause stops future firings (runs in flight go on); resume starts from now, without catch-up.
   * Resume sets the cursor to now even when it was ahead: firings written ahead of their instant
   * were dropped by the pause, and their instants, all after now, must be planned again (a firing
   * still there keeps its instant single: firings are created only if absent).
   */
  async setEnabled(c: Caller, id: string, enabled: boolean): Promise<Task> {
    const prev = await this.load(c, id);
    if (prev.value.enabled === enabled) return prev.value;
    const now = this.clock.now();
    const next = { ...prev.value, enabled, updatedMs: now };
    const task = enabled ? await this.tasks.replace(prev, next, now, 'set') : await this.tasks.replace(prev, next);
    await this.audit(c, enabled ? 'resume' : 'pause', task);
    return task;
  }

  /** Asks the leader to fire the task now (even when paused). Returns the expected run id. */
  async trigger(c: Caller, id: string, params?: Record<string, unknown>, replace = false): Promise<{ runId: string; scheduledMs: number }> {
    const task = await this.get(c, id);
    let ms = this.clock.now();
    while (!(await this.triggers.requestTrigger(task.id, ms, params, replace))) ms++;
    await this.audit(c, 'trigger', task, params ? { params } : undefined);
    return { runId: firingRunId({ taskId: task.id, scheduledMs: ms, attempt: 1 }), scheduledMs: ms };
  }

  async listRuns(c: Caller, taskId: string, limit: number, cursor?: string): Promise<Page<Run>> {
    await this.load(c, taskId);
    // Clients see an opaque token (the store's key, base64url): what it holds is the store's
    // business. One that is not this task's (another task's, made up) would widen the range.
    const key = cursor === undefined ? undefined : Buffer.from(cursor, 'base64url').toString();
    if (key !== undefined && (!key.startsWith(K.taskRuns(taskId)) || Buffer.from(key).toString('base64url') !== cursor)) {
      throw new RotaError('INVALID_QUERY', `cursor '${cursor}' is not one this task's run list gave`);
    }
    const page = await this.runs.listForTask(taskId, limit, key);
    return page.next === undefined ? page : { ...page, next: Buffer.from(page.next).toString('base64url') };
  }

  /** A run (its record, or its firing while a node holds it), or a pending one while its firing waits to be claimed. */
  async getRun(c: Caller, runId: string): Promise<Run> {
    const p = parseRunId(runId);
    if (!p) throw new RotaError('NOT_FOUND', `no run with id '${runId}'`);
    const run = await this.runs.get(runId);
    if (run) {
      if (run.tenant !== c.tenant) throw new RotaError('NOT_FOUND', `no run with id '${runId}'`);
      return run;
    }
    // No such task (or another tenant's): no pending run either. etcd's own errors go up (503), not "no such run".
    const task = await orNullIfNotFound(this.load(c, p.taskId));
    const f = task && (await this.firings.getFiring(p.taskId, p.scheduledMs, p.replica));
    const trig = task && !f && (await this.triggers.hasTrigger(p.taskId, p.scheduledMs));
    if (task && ((f && f.firing.attempt === p.attempt) || trig)) {
      return { id: runId, taskId: p.taskId, tenant: c.tenant, scheduledMs: p.scheduledMs, attempt: p.attempt, trigger: f?.firing.trigger ?? 'manual', state: 'pending', ...(f?.firing.node ? { node: f.firing.node } : {}) };
    }
    throw new RotaError('NOT_FOUND', `no run with id '${runId}'`);
  }

  /**
   * Asks the node running it to kill the run (SIGTERM to its process group, then SIGKILL);
   * `restart`: a daemon replica's run, which then starts again at once.
   */
  async kill(c: Caller, runId: string, reason: 'operator' | 'restart' = 'operator'): Promise<Run> {
    const run = await this.getRun(c, runId);
    if (run.state !== 'running' || !run.node) throw new RotaError('INVALID_STATE', `run ${runId} is ${run.state}, not running`);
    await this.triggers.requestKill(run.node, runId, reason);
    const task = await this.get(c, run.taskId);
    await this.audit(c, 'kill', task, { runId, ...(reason === 'restart' ? { restart: true } : {}) });
    return run;
  }

  /**
   * Stops a task for good, in flight or not: paused (a firing not started yet, or a retry waiting,
   * is dropped with a run saying so), and every attempt running now killed. For one-shot work that
   * a client cancels (Juice's kill). Returns the runs a kill was asked for.
   */
  async cancel(c: Caller, id: string): Promise<string[]> {
    await this.setEnabled(c, id, false);
    const live = await this.firings.firingsOf(id);
    const now = this.clock.now();
    const running = live.filter((f) => hasStarted(f, now) && f.node).map((f) => firingRunId(f));
    for (const runId of running) {
      await this.kill(c, runId).catch((err: unknown) => {
        // Ended meanwhile: nothing left to kill.
        if (!(err instanceof RotaError && (err.code === 'INVALID_STATE' || err.code === 'NOT_FOUND'))) throw err;
      });
    }
    return running;
  }

  async listEvents(c: Caller, limit: number, before?: string, taskId?: string): Promise<{ items: AuditEvent[]; next?: string }> {
    return this.events.list(c.tenant, limit, before, taskId);
  }
}

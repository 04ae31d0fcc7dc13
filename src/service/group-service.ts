/**
 * Groups: tasks of one tenant that share a `group` (a schedule-api identity: one zone, one
 * start flag, named entries). A group is written as a whole: every entry is checked before
 * anything is written, so one bad entry leaves the group as it was. The writes themselves are
 * one transaction per task: an etcd failure in the middle, or two upserts of one group at
 * once, can leave part of an upsert applied (each task whole); repeating the upsert completes it.
 */
import { RotaError } from '../domain/errors.js';
import type { Task } from '../domain/task.js';
import type { TaskInput } from './task-input.js';
import type { Caller, TaskService } from './task-service.js';
import { stableJson } from '../lib/stable-json.js';

export interface GroupUpsert {
  group: string;
  /** The group's tasks after the upsert, by name (each input's `group` is set to the group). */
  entries: TaskInput[];
  /** What the group event records (the dialect's request, say). */
  detail?: Record<string, unknown>;
}

export interface GroupUpsertResult {
  created: Task[];
  updated: Task[];
  unchanged: Task[];
  deleted: Task[];
}

const definition = (t: Task): string => {
  const { id: _i, tenant: _t, createdMs: _c, updatedMs: _u, ...rest } = t;
  return stableJson(rest);
};

export class GroupService {
  constructor(private readonly service: TaskService) {}

  /** The group's tasks, in id order. */
  tasks(c: Caller, group: string): Promise<Task[]> {
    return this.service.listAll(c, { group });
  }

  /** Every group of the tenant that has tasks, sorted. */
  async names(c: Caller): Promise<string[]> {
    const groups = new Set<string>();
    for (const t of await this.service.listAll(c)) if (t.group !== undefined) groups.add(t.group);
    return [...groups].sort();
  }

  /**
   * Makes the group hold exactly `entries`: new names are created, changed ones replaced in
   * place (ids stay), identical ones left alone, and the group's other tasks deleted. Every
   * entry is checked first (INVALID_*, or CONFLICT for a name another task outside the group
   * holds, or the same name twice), each message naming the entry.
   */
  async upsert(c: Caller, u: GroupUpsert): Promise<GroupUpsertResult> {
    const existing = new Map((await this.tasks(c, u.group)).map((t) => [t.name, t]));
    const seen = new Set<string>();
    const planned: { input: TaskInput; prev?: Task; same: boolean }[] = [];
    for (const raw of u.entries) {
      const input: TaskInput = { ...raw, group: u.group };
      const name = String(input.name ?? '').trim();
      const named = (err: unknown): never => {
        throw err instanceof RotaError ? new RotaError(err.code, `${name || 'entry'}: ${err.message}`) : err;
      };
      if (seen.has(name)) named(new RotaError('CONFLICT', 'given twice'));
      seen.add(name);
      const prev = existing.get(name);
      const fields = await this.service.check(c, input, prev?.id).catch(named);
      if (!prev && (await this.service.getByName(c, name))) named(new RotaError('CONFLICT', `a task named '${name}' exists outside group '${u.group}'`));
      const same = prev !== undefined && stableJson(fields) === definition(prev);
      planned.push({ input, ...(prev ? { prev } : {}), same });
    }
    const out: GroupUpsertResult = { created: [], updated: [], unchanged: [], deleted: [] };
    for (const p of planned) {
      if (!p.prev) out.created.push(await this.service.create(c, p.input));
      else if (p.same) out.unchanged.push(p.prev);
      else out.updated.push(await this.service.replace(c, p.prev.id, p.input));
    }
    for (const t of existing.values()) {
      if (seen.has(t.name)) continue;
      await this.service.delete(c, t.id);
      out.deleted.push(t);
    }
    await this.service.auditGroup(c, 'group-put', u.group, u.detail);
    return out;
  }

  /** Enables or disables every task of the group (a disabled task keeps its definition); a group with no tasks: nothing, no event. */
  async setEnabled(c: Caller, group: string, enabled: boolean, detail?: Record<string, unknown>): Promise<Task[]> {
    const tasks = await this.tasks(c, group);
    if (!tasks.length) return [];
    const out: Task[] = [];
    for (const t of tasks) out.push(await this.service.setEnabled(c, t.id, enabled));
    await this.service.auditGroup(c, enabled ? 'group-enable' : 'group-disable', group, detail);
    return out;
  }

  /** Deletes every task of the group (their run history goes with them; the audit log stays); none: nothing, no event. */
  async delete(c: Caller, group: string, detail?: Record<string, unknown>): Promise<Task[]> {
    const tasks = await this.tasks(c, group);
    if (!tasks.length) return [];
    for (const t of tasks) await this.service.delete(c, t.id);
    await this.service.auditGroup(c, 'group-delete', group, detail);
    return tasks;
  }
}

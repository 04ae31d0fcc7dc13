/**
 * The crontab server's dialect (seed 001), a translation onto TaskService and RunLogService with
 * no state of its own. See docs/dialects/crontab.md. Every call is a POST with a JSON body
 * `{"task_list": [...]}` and answers `{"state", "msg", "data"}`:
 *   /crontab/add_task           create each item                 data.task_result [{task_id, name, err}]
 *   /crontab/update_task        change the given fields of each  data.task_result
 *   /crontab/query_task_status  the run log of the items' tasks  data.log_list, data.task_result
 *   /crontab/run_again_task     run each now (even disabled)     data.task_result
 */
import { dialect } from '../dialect.js';
import type { Context } from 'koa';
import type { ApiDeps } from '../../deps.js';
import type { ApiMount } from '../../mount.js';
import { callerOf, requireCaller } from '../../auth.js';
import { RotaError, orNullIfNotFound } from '../../../domain/errors.js';
import type { Task } from '../../../domain/task.js';
import { runBatch, type BatchResult, type Describe } from '../../../service/batch.js';
import { RunLogService } from '../../../service/run-log.js';
import type { Caller } from '../../../service/task-service.js';
import { crontabEnvelope, ok } from './envelope.js';
import { LOGGED_STATES, logEntry } from './present.js';
import { readItem, readRef } from './item.js';
import { toTaskInput, toTaskPatch } from './translate.js';

export const CRONTAB_PREFIXES = ['/crontab'];
const PATHS = ['/crontab/add_task', '/crontab/update_task', '/crontab/query_task_status', '/crontab/run_again_task'];

/** Items per request; query_task_status shows at most this many log entries. */
const MAX_ITEMS = 1000;
const MAX_LOG_ENTRIES = 100;

/** What a raw item calls itself, for its result before anything is known. */
function describe(raw: unknown): { id?: string; name?: string } {
  const o = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const id = typeof o.task_id === 'number' || (typeof o.task_id === 'string' && /^\d+$/.test(o.task_id)) ? String(o.task_id) : undefined;
  return { ...(id && id !== '0' ? { id } : {}), ...(typeof o.name === 'string' ? { name: o.name } : {}) };
}

const taskResult = (rs: BatchResult[]) => rs.map((r) => ({ task_id: r.id ?? '', name: r.name ?? '', err: r.error ?? '' }));

export function crontabMount(deps: ApiDeps): ApiMount {
  const dl = dialect(deps, { name: 'crontab', prefixes: CRONTAB_PREFIXES, envelope: crontabEnvelope });
  const { router } = dl;
  const auth = requireCaller(deps.tokens);
  const { log } = dl;
  const { service } = deps;
  const runLog = new RunLogService(service);
  const onInternal = (err: unknown) => log.error({ err }, 'crontab item failed');

  /** The body's task_list; anything else in the body is ignored. */
  async function taskList(ctx: Context): Promise<unknown[]> {
    const list = (await dl.objectBody(ctx, ['task_list'])).task_list;
    if (!Array.isArray(list) || list.length === 0) throw new RotaError('INVALID_BODY', 'task_list is required: a non-empty array of tasks');
    if (list.length > MAX_ITEMS) throw new RotaError('INVALID_BODY', `task_list has more than ${MAX_ITEMS} items`);
    return list;
  }

  const ignored = (ctx: Context, fields: string[]) => {
    if (fields.length) log.debug({ path: ctx.path, fields }, 'ignored unknown fields');
  };

  /** The task an item means: by task_id, else (or when that id is unknown) by name. */
  async function findTask(c: Caller, ref: { taskId?: string; name?: string }): Promise<Task> {
    if (!ref.taskId && !ref.name) throw new RotaError('INVALID_BODY', 'task_id or name is required');
    const byId = ref.taskId ? await orNullIfNotFound(service.get(c, ref.taskId)) : null;
    const task = byId ?? (ref.name ? await service.getByName(c, ref.name) : null);
    if (task) return task;
    throw new RotaError('NOT_FOUND', ref.taskId ? `no task with task_id ${ref.taskId}${ref.name ? ` or name '${ref.name}'` : ''}` : `no task named '${ref.name}'`);
  }

  /** A call on each item of task_list, answered as task_result (one result per item). */
  function batchRoute(path: string, describeItem: Describe<unknown>, op: (c: Caller, raw: unknown, ctx: Context) => Promise<{ id: string; name: string }>): void {
    router.post(path, auth, async (ctx) => {
      const list = await taskList(ctx);
      const c = callerOf(ctx);
      ok(ctx, { task_result: taskResult(await runBatch(list, describeItem, (raw) => op(c, raw, ctx), onInternal)) });
    });
  }

  batchRoute('/crontab/add_task', (raw) => ({ name: describe(raw).name }), async (c, raw, ctx) => {
    const { item, ignored: extra } = readItem(raw);
    ignored(ctx, extra);
    const exists = () => new RotaError('CONFLICT', `a task named '${item.name}' already exists`);
    if (item.name && (await service.getByName(c, item.name))) throw exists();
    const task = await service.create(c, toTaskInput(item, service.now())).catch((err: unknown) => {
      throw err instanceof RotaError && err.code === 'CONFLICT' ? exists() : err;
    });
    return { id: task.id, name: task.name };
  });

  batchRoute('/crontab/update_task', describe, async (c, raw, ctx) => {
    const { item, ignored: extra } = readItem(raw);
    ignored(ctx, extra);
    const task = await findTask(c, item);
    let t = await service.patch(c, task.id, toTaskPatch(task, item, service.now(), task.id === item.taskId));
    if (item.enable !== undefined && item.enable !== t.enabled) t = await service.setEnabled(c, t.id, item.enable);
    return { id: t.id, name: t.name };
  });

  batchRoute('/crontab/run_again_task', describe, async (c, raw) => {
    const task = await findTask(c, readRef(raw));
    await service.trigger(c, task.id);
    return { id: task.id, name: task.name };
  });

  router.post('/crontab/query_task_status', auth, async (ctx) => {
    const list = await taskList(ctx);
    const c = callerOf(ctx);
    const found = new Map<string, Task>();
    const results = await runBatch(
      list,
      describe,
      async (raw) => {
        const task = await findTask(c, readRef(raw));
        found.set(task.id, task);
        return { id: task.id, name: task.name };
      },
      onInternal,
    );
    const page = await runLog.query(c, { scope: { tasks: [...found.values()] }, runStates: LOGGED_STATES, events: [], limit: MAX_LOG_ENTRIES });
    const logList = page.items.flatMap((e) => (e.kind === 'run' && found.has(e.task.id) ? [logEntry(found.get(e.task.id)!, e.run)] : []));
    const failed = results.filter((r) => r.error);
    const msg = failed.length ? failed.map((r) => r.error).join('; ') : 'ok';
    ok(ctx, { log_list: logList, task_result: taskResult(results) }, msg);
  });

  // Every other method on the four paths (OPTIONS included): state 4, in the envelope.
  router.all(PATHS, () => {
    throw new RotaError('METHOD_NOT_ALLOWED', 'method not allowed');
  });

  return dl.mount();
}

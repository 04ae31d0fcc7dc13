/**
 * The Juice dialect (seed 003), a translation onto TaskService with no state of its own. See
 * docs/dialects/juice.md.
 *   POST /v1/tasks                  submit a one-shot task (commands or a docker image)
 *   GET  /v1/tasks?taskIds=a,b      their status rows (unknown ids left out)
 *   POST /v1/tasks/kill?taskId=     kill it (its process group, or its container)
 * `X-Tenant-Id` is required and is the tenant; with tokens configured, the bearer token's tenant
 * must be that tenant.
 */
import { dialect } from '../dialect.js';
import type { Context, Middleware } from 'koa';
import type { ApiDeps } from '../../deps.js';
import type { ApiMount } from '../../mount.js';
import { authenticate, callerOf } from '../../auth.js';
import { RotaError, orNullIfNotFound } from '../../../domain/errors.js';
import { JUICE_STATUS } from './status.js';
import type { Task } from '../../../domain/task.js';
import type { Caller } from '../../../service/task-service.js';
import { juiceEnvelope, okData } from './envelope.js';
import { presentTask, statusName, type Progress } from './present.js';
import { SUBMIT_FIELDS, toTaskInput, validateSubmit } from './translate.js';

export const JUICE_PREFIXES = ['/v1/tasks'];

/** How long a submitted task may wait for a node that can take it before it is EXPIRED. */
export const DEFAULT_EXPIRE_AFTER_MS = 10 * 60_000;

const MAX_IDS = 1000;

/** The tenant from X-Tenant-Id; with tokens, the token's tenant must be the same. */
function tenantAuth(tokens: Record<string, string> | null): Middleware {
  return async (ctx, next) => {
    const header = ctx.get('X-Tenant-Id').trim();
    if (!header) throw new RotaError('INVALID_BODY', 'X-Tenant-Id header is required');
    if (header.length > 200) throw new RotaError('INVALID_BODY', 'X-Tenant-Id is longer than 200 characters');
    if (tokens !== null) {
      const { tenant } = authenticate(ctx, tokens);
      if (tenant !== header) throw new RotaError('FORBIDDEN', `the token is not tenant '${header}''s`);
    }
    (ctx.state as { caller?: Caller }).caller = { tenant: header };
    await next();
  };
}


function query(ctx: Context, key: string): string | undefined {
  const v = ctx.query[key];
  if (Array.isArray(v)) throw new RotaError('INVALID_QUERY', `${key} is given more than once`);
  return v;
}

export function juiceMount(deps: ApiDeps): ApiMount {
  const dl = dialect(deps, { name: 'juice', prefixes: JUICE_PREFIXES, envelope: juiceEnvelope });
  const { router } = dl;
  const auth = tenantAuth(deps.tokens);
  const { service, replicas } = deps;
  const expireAfterMs = deps.juice?.expireAfterMs ?? DEFAULT_EXPIRE_AFTER_MS;

  /** The firing first, then the newest run: a firing gone means its outcome is written. */
  const progress = async (t: Task): Promise<Progress> => {
    const firings = await replicas.firingsOf(t.id);
    const firing = firings.sort((a, b) => b.scheduledMs - a.scheduledMs)[0] ?? null;
    const newest = (await service.newestRuns(t, 1))[0] ?? null;
    return { firing, newest };
  };

  /** The caller's task by Juice id; null when unknown (another tenant's included). */
  const find = async (c: Caller, id: string): Promise<Task | null> => orNullIfNotFound(service.get(c, id));

  router.post('/v1/tasks', auth, async (ctx) => {
    const raw = await dl.objectBody(ctx, SUBMIT_FIELDS);
    const body = validateSubmit(raw);
    const task = await service.create(callerOf(ctx), toTaskInput(body, expireAfterMs));
    okData(ctx, { taskId: Number(task.id) });
  });

  router.get('/v1/tasks', auth, async (ctx) => {
    const raw = query(ctx, 'taskIds');
    if (raw === undefined || raw.trim() === '') throw new RotaError('INVALID_QUERY', 'taskIds is required: comma-separated task ids');
    const ids = raw.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = ids.find((id) => !/^\d{1,18}$/.test(id));
    if (bad !== undefined) throw new RotaError('INVALID_QUERY', `taskIds: '${bad}' is not a task id (a number)`);
    if (ids.length > MAX_IDS) throw new RotaError('INVALID_QUERY', `taskIds: at most ${MAX_IDS} ids`);
    const c = callerOf(ctx);
    const tasks = (await Promise.all([...new Set(ids.map((id) => String(Number(id))))].map((id) => find(c, id)))).filter((t): t is Task => t !== null);
    const now = service.now();
    okData(ctx, await Promise.all(tasks.map(async (t) => presentTask(t, await progress(t), now))));
  });

  router.post('/v1/tasks/kill', auth, async (ctx) => {
    const id = query(ctx, 'taskId');
    if (!id || !/^\d{1,18}$/.test(id)) throw new RotaError('INVALID_QUERY', `taskId is required and must be a number${id ? `, got '${id}'` : ''}`);
    const c = callerOf(ctx);
    const task = await find(c, String(Number(id)));
    if (!task) throw new RotaError('NOT_FOUND', `no task with id ${id}`);
    const p = await progress(task);
    const name = statusName(task, p, service.now());
    if (name !== 'NOT_START' && name !== 'STAGING' && name !== 'RUNNING') {
      okData(ctx, { submitKill: false, resultMessage: `task has already ended (${name})`, currentStatus: JUICE_STATUS[name] });
      return;
    }
    await service.cancel(c, task.id);
    okData(ctx, { submitKill: true, resultMessage: 'task is killed', currentStatus: JUICE_STATUS.KILLED });
  });

  router.all(['/v1/tasks', '/v1/tasks/kill'], () => {
    throw new RotaError('METHOD_NOT_ALLOWED', 'method not allowed');
  });

  return dl.mount();
}

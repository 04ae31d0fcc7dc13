/**
 * The Meproc dialect (`/proc`, the process manager's API), a translation onto TaskService and
 * ReplicaService with no state of its own. See docs/dialects/proc.md.
 *   POST   /proc               start a task (name, cmd, type, replica, user, group, cron, interval, deps)
 *   PUT    /proc?name=         restart it (stop, then start)
 *   DELETE /proc?name=         stop every process of it and forget it
 *   GET    /proc               all tasks and every running process
 *   GET    /proc/output?name=  each replica's output tail, base64 (optional replica=, bytes=, encoding=text)
 */
import { dialect } from '../dialect.js';
import type { Context } from 'koa';
import type { ApiDeps } from '../../deps.js';
import type { ApiMount } from '../../mount.js';
import { callerOf, requireCaller } from '../../auth.js';
import { RotaError } from '../../../domain/errors.js';
import type { Task } from '../../../domain/task.js';
import type { Caller } from '../../../service/task-service.js';
import { meprocEnvelope, ok } from './envelope.js';
import { presentProcTask, type ProcRunning } from './present.js';
import { PROC_FIELDS, toTaskInput, validateProcBody } from './translate.js';

export const MEPROC_PREFIXES = ['/proc'];

/** Runs read per task for last_time / start_time (newest first: the newest starts are among them). */
const RUNS_LOOKED_AT = 50;
const DEFAULT_OUTPUT_BYTES = 64 * 1024;
const MAX_OUTPUT_BYTES = 1024 * 1024;

/** A single query parameter, or undefined; a repeated one is refused. */
function queryParam(ctx: Context, key: string): string | undefined {
  const v = ctx.query[key];
  if (Array.isArray(v)) throw new RotaError('INVALID_QUERY', `${key} is given more than once`);
  return v;
}

/** A whole number query parameter within [min, max], or `dflt` when absent. */
function intParam(ctx: Context, key: string, min: number, max: number, dflt?: number): number | undefined {
  const raw = queryParam(ctx, key);
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw new RotaError('INVALID_QUERY', `${key} must be a whole number from ${min} to ${max}, got '${raw}'`);
  return n;
}

const unknownTask = (name: string) => new RotaError('FORBIDDEN', `${name} does not exist, start it first`);

/** Runs `fn` on the task `?name=` names; an unknown name (also one deleted meanwhile) is 403. */
async function onNamed<T>(ctx: Context, deps: ApiDeps, fn: (c: Caller, task: Task) => Promise<T>): Promise<T> {
  const name = queryParam(ctx, 'name');
  if (!name) throw new RotaError('INVALID_QUERY', 'name is required');
  const c = callerOf(ctx);
  const task = await deps.service.getByName(c, name);
  if (!task) throw unknownTask(name);
  return fn(c, task).catch((err: unknown) => {
    throw err instanceof RotaError && err.code === 'NOT_FOUND' ? unknownTask(name) : err;
  });
}

async function listing(deps: ApiDeps, c: Caller): Promise<{ running: ProcRunning[]; tasks: Record<string, unknown> }> {
  const procs = (await deps.service.listAll(c)).filter((t) => 'process' in t.action);
  const views = await Promise.all(
    procs.map(async (t) => {
      const [firings, runs] = await Promise.all([
        deps.replicas.firingsOf(t.id),
        deps.service.listRuns(c, t.id, RUNS_LOOKED_AT).then(
          (p) => p.items,
          (err: unknown) => {
            if (err instanceof RotaError && err.code === 'NOT_FOUND') return null; // deleted meanwhile
            throw err;
          },
        ),
      ]);
      return runs === null ? null : presentProcTask(t, firings, runs);
    }),
  );
  const running: ProcRunning[] = [];
  const tasks: Record<string, unknown> = {};
  for (const v of views) {
    if (!v) continue;
    running.push(...v.running);
    tasks[v.entry.name as string] = v.entry;
  }
  return { running, tasks };
}

export function meprocMount(deps: ApiDeps): ApiMount {
  const dl = dialect(deps, { name: 'meproc', prefixes: MEPROC_PREFIXES, envelope: meprocEnvelope });
  const { router } = dl;
  const auth = requireCaller(deps.tokens);
  const { service, replicas } = deps;

  router.post('/proc', auth, async (ctx) => {
    const body = validateProcBody(await dl.objectBody(ctx, PROC_FIELDS));
    const c = callerOf(ctx);
    const name = body.name.trim();
    const exists = () => new RotaError('FORBIDDEN', `${name} exists, stop it first`);
    if (await service.getByName(c, name)) throw exists();
    await service.create(c, toTaskInput(body)).catch((err: unknown) => {
      throw err instanceof RotaError && err.code === 'CONFLICT' ? exists() : err;
    });
    ok(ctx);
  });

  router.put('/proc', auth, async (ctx) => {
    await onNamed(ctx, deps, (c, task) => replicas.restart(c, task.id));
    ok(ctx);
  });

  router.delete('/proc', auth, async (ctx) => {
    await onNamed(ctx, deps, (c, task) => service.delete(c, task.id));
    ok(ctx);
  });

  router.get('/proc', auth, async (ctx) => {
    ok(ctx, await listing(deps, callerOf(ctx)));
  });

  router.get('/proc/output', auth, async (ctx) => {
    const bytes = intParam(ctx, 'bytes', 1, MAX_OUTPUT_BYTES, DEFAULT_OUTPUT_BYTES)!;
    // base64 by default, as Meproc answered; encoding=text for the plain text.
    const encoding = queryParam(ctx, 'encoding') ?? 'base64';
    if (encoding !== 'base64' && encoding !== 'text') throw new RotaError('INVALID_QUERY', `encoding must be 'base64' (the default) or 'text', got '${encoding}'`);
    const data = await onNamed(ctx, deps, async (c, task) => {
      const one = intParam(ctx, 'replica', 0, Math.max(task.replicas, 1) - 1);
      const which = one === undefined ? [...Array(Math.max(task.replicas, 1)).keys()] : [one];
      const via = { ...(ctx.get('authorization') ? { auth: ctx.get('authorization') } : {}) };
      const outs = await Promise.all(which.map((r) => replicas.output(c, task.id, r, bytes, via)));
      return Object.fromEntries(outs.map((o) => [`${task.name}:${o.replica}`, encoding === 'base64' ? Buffer.from(o.output).toString('base64') : o.output]));
    });
    ok(ctx, data);
  });

  // Every other method on these paths (OPTIONS included) is 405, in the envelope.
  router.all(['/proc', '/proc/output'], () => {
    throw new RotaError('METHOD_NOT_ALLOWED', 'method not allowed');
  });

  return dl.mount();
}

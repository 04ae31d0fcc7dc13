/**
 * The qschedule dialect (seed 004), a translation onto TaskService, WorkerService and
 * ClusterService with no state of its own. See docs/dialects/qschedule.md.
 *   POST /api2/jobs/on.do, off.do      {"jobs": [name...]}        enable / disable jobs
 *   GET  /api2/jobs/$name.do                                      one job
 *   POST /api2/tasks.do                {"job", "param"}           run now; the message is the run id
 *   POST /api2/workers/state.do        {"jobName", "workers": "{\"ip:port\": bool}"}
 *   GET  /api2/workers/$name.do                                   the job's workers
 *   GET  /api/check/$ip.do             (no token)                 jobs with a run in flight on that host
 * An app is a tenant: `Q-Server-Token: T` is read like `Authorization: Bearer T`.
 */
import { dialect } from '../dialect.js';
import type { Context, Middleware } from 'koa';
import type { ApiDeps } from '../../deps.js';
import type { ApiMount } from '../../mount.js';
import { bearerToken, callerOf, DEFAULT_TENANT, tenantForToken } from '../../auth.js';
import { compileValidator } from '../../validate.js';
import { RotaError } from '../../../domain/errors.js';
import type { Task } from '../../../domain/task.js';
import type { Caller } from '../../../service/task-service.js';
import { WorkerService } from '../../../service/worker-service.js';
import { MSG, ok, okData, qError, qscheduleEnvelope } from './envelope.js';
import { lastStarted, presentJob } from './present.js';

export const QSCHEDULE_PREFIXES = ['/api2', '/api/check'];

const JOB_NAME = { type: 'string', minLength: 1, maxLength: 200 };
const validateJobs = compileValidator<{ jobs: string[] }>({ type: 'object', required: ['jobs'], properties: { jobs: { type: 'array', minItems: 1, maxItems: 1000, items: JOB_NAME } } });
const validateRun = compileValidator<{ job: string; param?: unknown }>({ type: 'object', required: ['job'], properties: { job: JOB_NAME } });
const validateWorkers = compileValidator<{ jobName: string; workers: unknown }>({ type: 'object', required: ['jobName', 'workers'], properties: { jobName: JOB_NAME } });

/** `{name}.do` of a path's last segment; 参数错误 for anything else. */
function dotDo(ctx: Context, key: string): string {
  const raw = String((ctx as unknown as { params: Record<string, string> }).params[key] ?? '');
  const m = /^(.+)\.do$/.exec(raw);
  if (!m) throw new RotaError('INVALID_QUERY', `expected {name}.do, got '${raw}'`);
  return m[1]!;
}

/** The app a request authenticates as: Q-Server-Token, or a bearer token; with no tokens configured, 'default'. */
function appAuth(tokens: Record<string, string> | null): Middleware {
  return async (ctx, next) => {
    if (tokens !== null) {
      const token = ctx.get('Q-Server-Token').trim() || bearerToken(ctx);
      const tenant = token ? tenantForToken(tokens, token) : null;
      if (tenant === null) throw qError('UNAUTHORIZED', MSG.unauthorized);
      (ctx.state as { caller?: Caller }).caller = { tenant };
    } else (ctx.state as { caller?: Caller }).caller = { tenant: DEFAULT_TENANT };
    await next();
  };
}


/** qschedule's `param`: an object, or a string holding one; absent or null: none. */
function paramsOf(v: unknown): Record<string, unknown> | undefined {
  let p = v;
  if (typeof v === 'string') {
    if (!v.trim()) return undefined;
    try {
      p = JSON.parse(v);
    } catch {
      throw new RotaError('INVALID_BODY', 'param: not JSON');
    }
  }
  if (p === undefined || p === null) return undefined;
  if (typeof p !== 'object' || Array.isArray(p)) throw new RotaError('INVALID_BODY', 'param: must be an object');
  return p as Record<string, unknown>;
}

/** The `workers` field: a string holding a JSON object of address -> boolean (an object is taken too). */
function workerStates(v: unknown): Record<string, boolean> {
  let o = v;
  if (typeof v === 'string') {
    try {
      o = JSON.parse(v);
    } catch {
      throw qError('INVALID_BODY', MSG.badWorkersJson);
    }
  }
  if (!o || typeof o !== 'object' || Array.isArray(o) || !Object.values(o).every((x) => typeof x === 'boolean') || !Object.keys(o).length) {
    throw qError('INVALID_BODY', MSG.badWorkersJson);
  }
  return o as Record<string, boolean>;
}

export function qscheduleMount(deps: ApiDeps): ApiMount {
  const dl = dialect(deps, { name: 'qschedule', prefixes: QSCHEDULE_PREFIXES, envelope: qscheduleEnvelope });
  const { router } = dl;
  const auth = appAuth(deps.tokens);
  const { service } = deps;
  const workers = new WorkerService(service, deps.clusterOps);

  const body = dl.objectBody;

  /** The caller's job by name; job不存在 for an unknown one (another app's included). */
  const job = async (c: Caller, name: string): Promise<Task> => {
    const t = await service.getByName(c, name);
    if (!t) throw qError('NOT_FOUND', MSG.noJob);
    return t;
  };
  /** An operation on a job, where a job deleted meanwhile is job不存在 too. */
  const onJob = <T>(p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      throw err instanceof RotaError && err.code === 'NOT_FOUND' ? qError('NOT_FOUND', MSG.noJob) : err;
    });

  const jobView = async (t: Task): Promise<Record<string, unknown>> => {
    const [runs, instants] = await Promise.all([service.newestRuns(t, 20), service.instants([t])]);
    return presentJob(t, lastStarted(runs), instants.get(t.id)?.nextMs ?? null, service.now());
  };

  for (const [verb, enabled] of [['on', true], ['off', false]] as const) {
    router.post(`/api2/jobs/${verb}.do`, auth, async (ctx) => {
      const { jobs } = validateJobs(await body(ctx, ['jobs']));
      const c = callerOf(ctx);
      const tasks = await Promise.all(jobs.map((n) => job(c, n))); // every job first: all or none
      for (const t of tasks) await onJob(service.setEnabled(c, t.id, enabled));
      ok(ctx);
    });
  }

  router.get('/api2/jobs/:file', auth, async (ctx) => {
    okData(ctx, await jobView(await job(callerOf(ctx), dotDo(ctx, 'file'))));
  });

  router.post('/api2/tasks.do', auth, async (ctx) => {
    const b = validateRun(await body(ctx, ['job', 'param']));
    const params = paramsOf(b.param);
    const c = callerOf(ctx);
    const t = await job(c, b.job);
    const { runId } = await onJob(service.trigger(c, t.id, params));
    ok(ctx, runId);
  });

  router.post('/api2/workers/state.do', auth, async (ctx) => {
    const b = validateWorkers(await body(ctx, ['jobName', 'workers']));
    const states = workerStates(b.workers);
    const c = callerOf(ctx);
    const t = await job(c, b.jobName);
    const { unknown } = await onJob(workers.set(c, t.id, states));
    if (unknown.length) throw qError('INVALID_BODY', MSG.someWorkersFailed, { unknownWorkers: unknown });
    ok(ctx);
  });

  router.get('/api2/workers/:file', auth, async (ctx) => {
    const t = await job(callerOf(ctx), dotDo(ctx, 'file'));
    okData(ctx, (await workers.list(t)).map((w) => ({ address: w.address, canSchedule: w.canSchedule, hostname: w.hostname, jobName: t.name })));
  });

  /** No token, as the original: every app's jobs with a run started on that host and not yet ended. */
  router.get('/api/check/:file', async (ctx) => {
    const host = dotDo(ctx, 'file');
    if (!/^[A-Za-z0-9.:_-]{1,255}$/.test(host)) throw new RotaError('INVALID_QUERY', `not a host: '${host}'`);
    const now = service.now();
    const runs = (await deps.clusterOps.inflightOnHost(null, host)).filter((r) => r.state === 'running' && r.startedMs !== undefined && r.startedMs <= now);
    const ids = [...new Set(runs.map((r) => r.taskId))];
    const tasks = await service.anyTenantTasks(ids);
    okData(ctx, await Promise.all(tasks.map(jobView)));
  });

  router.all(['/api2/jobs/:file', '/api2/tasks.do', '/api2/workers/:file', '/api/check/:file'], () => {
    throw new RotaError('METHOD_NOT_ALLOWED', 'method not allowed');
  });

  return dl.mount();
}

/**
 * The schedule-api dialect (seed 002), a translation onto GroupService (an identity = a group of
 * HTTP cron tasks, one per entry) and RunLogService (its logs). No state of its own. All POST;
 * see docs/dialects/schedule-api.md.
 *   /put      create or replace an identity (upsert)      /get      one identity
 *   /all      every identity                              /lists    several identities
 *   /running  enable or disable an identity               /delete   stop and delete it
 *   /search   its logs, as an Elasticsearch response      /clear    delete its logs
 */
import { dialect } from '../dialect.js';
import type { ApiDeps } from '../../deps.js';
import type { ApiMount } from '../../mount.js';
import { callerOf, requireCaller } from '../../auth.js';
import { dropUnknownFields } from '../unknown-fields.js';
import { RotaError } from '../../../domain/errors.js';
import type { AuditAction } from '../../../domain/audit.js';
import type { RunState, Task } from '../../../domain/task.js';
import { GroupService } from '../../../service/group-service.js';
import { RunLogService } from '../../../service/run-log.js';
import type { Caller } from '../../../service/task-service.js';
import { ok, okData, scheduleApiEnvelope } from './envelope.js';
import { presentIdentity, presentSearch } from './present.js';
import {
  ENTRY_FIELDS,
  PUT_FIELDS,
  checkPut,
  isEntryTask,
  putLogBody,
  taskName,
  toEntryInputs,
  validateIdentity,
  validateLists,
  validatePut,
  validateRunning,
  validateSearch,
  type LogType,
  type PutBody,
} from './translate.js';

export const SCHEDULE_API_PATHS = ['/put', '/get', '/all', '/lists', '/running', '/delete', '/search', '/clear'];

/** What each log type reads: audit actions of the group, run states of its tasks. */
const EVENTS_OF: Record<LogType, AuditAction[]> = {
  put: ['group-put'],
  delete: ['group-delete'],
  running: ['group-enable', 'group-disable'],
  success: [],
  error: [],
};
const RUNS_OF: Record<LogType, RunState[]> = {
  put: [],
  delete: [],
  running: [],
  success: ['succeeded'],
  error: ['failed', 'killed', 'lost', 'expired'],
};
const ALL_TYPES: LogType[] = ['put', 'delete', 'running', 'success', 'error'];

export function scheduleApiMount(deps: ApiDeps): ApiMount {
  const dl = dialect(deps, { name: 'schedule-api', prefixes: SCHEDULE_API_PATHS, envelope: scheduleApiEnvelope });
  const { router, readBody } = dl;
  const auth = requireCaller(deps.tokens);
  const groups = new GroupService(deps.service);
  const logs = new RunLogService(deps.service);
  const { log } = dl;

  /** The body's known fields (the others are logged and dropped). */
  const known = dl.objectBody;

  /** The identity's entry tasks (empty: no such identity). */
  const entriesOf = async (c: Caller, identity: string): Promise<Task[]> => (await groups.tasks(c, identity)).filter(isEntryTask);

  const identityData = async (c: Caller, identity: string): Promise<Record<string, unknown> | null> => {
    const tasks = await entriesOf(c, identity);
    return tasks.length ? presentIdentity(identity, tasks, await deps.service.instants(tasks)) : null;
  };

  const mustExist = async (c: Caller, identity: string): Promise<void> => {
    if (!(await entriesOf(c, identity)).length) throw new RotaError('INVALID_STATE', `identity '${identity}' does not exist`);
  };

  router.post('/put', auth, async (ctx) => {
    const raw = await known(ctx, PUT_FIELDS);
    if (raw.entries && typeof raw.entries === 'object' && !Array.isArray(raw.entries)) {
      for (const [key, e] of Object.entries(raw.entries as Record<string, unknown>)) {
        if (e && typeof e === 'object' && !Array.isArray(e)) dropUnknownFields(ctx, log, e as Record<string, unknown>, ENTRY_FIELDS, `entries.${key}`);
      }
    }
    const body = validatePut(raw);
    checkPut(body);
    const c = callerOf(ctx);
    await groups.upsert(c, { group: body.identity, entries: toEntryInputs(body), detail: putLogBody(body) }).catch((err: unknown) => {
      throw err instanceof RotaError ? new RotaError(err.code, entryMessage(body, err.message)) : err;
    });
    ok(ctx);
  });

  router.post('/get', auth, async (ctx) => {
    const { identity } = validateIdentity(await known(ctx, ['identity']));
    okData(ctx, await identityData(callerOf(ctx), identity));
  });

  router.post('/all', auth, async (ctx) => {
    await readBody(ctx); // any body is ignored, but a malformed one is still an error
    const ids = new Set<string>();
    for (const t of await deps.service.listAll(callerOf(ctx))) if (isEntryTask(t)) ids.add(t.group);
    okData(ctx, [...ids].sort());
  });

  router.post('/lists', auth, async (ctx) => {
    const { identity } = validateLists(await known(ctx, ['identity']));
    const c = callerOf(ctx);
    const out: Record<string, unknown>[] = [];
    for (const id of identity) {
      const data = await identityData(c, id);
      if (data) out.push(data);
    }
    okData(ctx, out);
  });

  router.post('/running', auth, async (ctx) => {
    const body = validateRunning(await known(ctx, ['identity', 'running']));
    const c = callerOf(ctx);
    await mustExist(c, body.identity);
    await groups.setEnabled(c, body.identity, body.running, { identity: body.identity, running: body.running });
    ok(ctx);
  });

  router.post('/delete', auth, async (ctx) => {
    const { identity } = validateIdentity(await known(ctx, ['identity']));
    const c = callerOf(ctx);
    await mustExist(c, identity);
    await groups.delete(c, identity, { identity });
    ok(ctx);
  });

  router.post('/search', auth, async (ctx) => {
    const q = validateSearch(await known(ctx, ['identity', 'limit', 'type', 'skip', 'time']));
    const c = callerOf(ctx);
    const types = q.type ? [q.type] : ALL_TYPES;
    // 0 means "not given", as the original (a Go zero value) read it.
    const gte = q.time?.gte || undefined;
    const lte = q.time?.lte || undefined;
    const page = await logs.query(c, {
      scope: { group: q.identity },
      events: types.flatMap((t) => EVENTS_OF[t]),
      runStates: types.flatMap((t) => RUNS_OF[t]),
      ...(gte !== undefined ? { fromMs: gte * 1000 } : {}),
      ...(lte !== undefined ? { toMs: lte * 1000 + 999 } : {}),
      offset: q.skip ?? 0,
      limit: q.limit,
    });
    const tasks = new Map((await groups.tasks(c, q.identity)).map((t) => [t.id, t]));
    okData(ctx, presentSearch(page.items, page.total, q.identity, tasks));
  });

  router.post('/clear', auth, async (ctx) => {
    const { identity } = validateIdentity(await known(ctx, ['identity']));
    await logs.clear(callerOf(ctx), { group: identity });
    ok(ctx);
  });

  // Another method on these paths: the router's allowedMethods answers 405 (Allow: POST), in the envelope.
  return dl.mount();
}

/** A service message about an entry's task ("test.index: action.http.url ...") in the dialect's terms. */
function entryMessage(b: PutBody, msg: string): string {
  for (const key of Object.keys(b.entries)) {
    const prefix = `${taskName(b.identity, key)}: `;
    if (msg.startsWith(prefix)) return `entries.${key}: ${msg.slice(prefix.length).replace(/^action\.http\.url /, 'url ')}`;
  }
  return msg;
}

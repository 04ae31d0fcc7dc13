/** The tenant's audit log, and the run log (runs and events together), newest first. */
import type Router from '@koa/router';
import { callerOf } from '../auth.js';
import { isoOf, presentEvent, presentRun } from './presenter.js';
import { listEventsQuery, logQuery } from './inputs.js';
import { RunLogService, type LogEntry, type LogScope } from '../../service/run-log.js';
import { kindsFilter } from '../../service/log-kinds.js';
import { RotaError } from '../../domain/errors.js';
import { queryOf, type Native } from './native.js';

export function eventRoutes(r: Router, n: Native): void {
  r.get('/api/v1/events', n.auth, async (ctx) => {
    const q = queryOf(ctx, listEventsQuery);
    const page = await n.deps.service.listEvents(callerOf(ctx), q.limit, q.before, q.taskId);
    ctx.body = { items: page.items.map(presentEvent), ...(page.next ? { next: page.next } : {}) };
  });

  const log = new RunLogService(n.deps.service);
  r.get('/api/v1/log', n.auth, async (ctx) => {
    const q = queryOf(ctx, logQuery);
    const c = callerOf(ctx);
    if (q.taskId !== undefined && q.group !== undefined) throw new RotaError('INVALID_QUERY', 'give taskId or group, not both');
    const scope: LogScope = q.taskId !== undefined ? { tasks: [await n.deps.service.get(c, q.taskId)] } : q.group !== undefined ? { group: q.group } : { tenant: true };
    const kinds = (q.kinds ?? '').split(',').map((k) => k.trim()).filter(Boolean);
    const page = await log.query(c, { scope, ...kindsFilter(kinds), ...(q.node !== undefined ? { node: q.node } : {}), ...(q.from !== undefined ? { fromMs: q.from } : {}), ...(q.to !== undefined ? { toMs: q.to } : {}), offset: q.offset, limit: q.limit });
    ctx.body = { total: page.total, items: page.items.map(presentLogEntry) };
  });
}

function presentLogEntry(e: LogEntry): Record<string, unknown> {
  const at = isoOf(e.atMs);
  return e.kind === 'run' ? { kind: 'run', atMs: e.atMs, ...(at ? { at } : {}), run: presentRun(e.run), task: e.task } : { kind: 'event', atMs: e.atMs, ...(at ? { at } : {}), event: presentEvent(e.event) };
}

/** "Why did this not run?": GET /api/v1/tasks/{id}/slots (service/slots.ts, domain/slots.ts). */
import type Router from '@koa/router';
import { RotaError } from '../../domain/errors.js';
import { callerOf } from '../auth.js';
import { compileQueryValidator } from '../validate.js';
import * as S from './schemas.js';
import { param, queryOf, type Native } from './native.js';

const slotsQuery = compileQueryValidator<{ from?: string; to?: string; limit: number; cursor?: string }>(S.SlotsQuery);

/** The last instant a task's schedule is asked about: 9999-12-31T23:59:59.999Z, as the task fields. */
const MAX_MS = 253_402_300_799_999;

/** Epoch ms or ISO 8601 as epoch ms, from 0 to the year 9999 (past that, dates stop being dates: fuzz found a 500). */
function instantOf(v: string, name: string): number {
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new RotaError('INVALID_QUERY', `${name}: not an instant (epoch ms or ISO 8601): '${v}'`);
  if (ms < 0 || ms > MAX_MS) throw new RotaError('INVALID_QUERY', `${name}: '${v}' is outside 1970-01-01 to 9999-12-31`);
  return ms;
}

export function slotRoutes(r: Router, n: Native): void {
  r.get('/api/v1/tasks/:id/slots', n.auth, async (ctx) => {
    const q = queryOf(ctx, slotsQuery);
    const toMs = q.to !== undefined ? instantOf(q.to, 'to') : n.deps.service.now();
    const fromMs = q.from !== undefined ? instantOf(q.from, 'from') : toMs - 3_600_000;
    ctx.body = await n.deps.service.slots(callerOf(ctx), param(ctx, 'id'), { fromMs, toMs, limit: q.limit, ...(q.cursor !== undefined ? { cursor: q.cursor } : {}) });
  });
}

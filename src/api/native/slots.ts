/** "Why did this not run?": GET /api/v1/tasks/{id}/slots (service/slots.ts, domain/slots.ts). */
import type Router from '@koa/router';
import { RotaError } from '../../domain/errors.js';
import { callerOf } from '../auth.js';
import { compileQueryValidator } from '../validate.js';
import * as S from './schemas.js';
import { param, queryOf, type Native } from './native.js';

const slotsQuery = compileQueryValidator<{ from?: string; to?: string; limit: number; cursor?: string }>(S.SlotsQuery);

/** Epoch ms or ISO 8601 as epoch ms. */
function instantOf(v: string, name: string): number {
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new RotaError('INVALID_QUERY', `${name}: not an instant (epoch ms or ISO 8601): '${v}'`);
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

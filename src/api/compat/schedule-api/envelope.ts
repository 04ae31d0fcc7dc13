/**
 * schedule-api's envelope: `{"error":0,"msg":"ok"}`, `{"error":0,"data":...}` and
 * `{"error":1,"msg":"..."}`. The original answered HTTP 200 to everything a handler saw, bad
 * input included, and so does Rota; a status other than 200 is only for what the original never
 * had or never reached a handler: 401 (tokens), 404 (a path below one of its paths), 405 (a
 * method other than POST), 500 (a bug) and 503 (etcd unreachable), in the same shape.
 */
import type { Context } from 'koa';
import type { ErrorEnvelope } from '../../errors.js';

export function ok(ctx: Context): void {
  ctx.status = 200;
  ctx.body = { error: 0, msg: 'ok' };
}

export function okData(ctx: Context, data: unknown): void {
  ctx.status = 200;
  ctx.body = { error: 0, data };
}

export const scheduleApiEnvelope: ErrorEnvelope = (ctx, err) => {
  const routed = (ctx as { _matchedRoute?: unknown })._matchedRoute !== undefined;
  let status = 200;
  if (err.code === 'UNAUTHORIZED' || err.code === 'METHOD_NOT_ALLOWED' || err.status >= 500) status = err.status;
  else if (err.code === 'NOT_FOUND' && !routed) status = 404;
  ctx.status = status;
  ctx.body = { error: 1, msg: err.message };
};

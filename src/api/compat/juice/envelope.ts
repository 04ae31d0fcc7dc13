/**
 * Juice's envelope: `{"status": 0, "message": "OK", "data": ...}` on success; errors keep the
 * HTTP status (400, 401, 403, 404, 405, 500, 503) and carry it, non-zero, as `status`, with a
 * message naming the problem.
 */
import type { Context } from 'koa';
import type { ErrorEnvelope } from '../../errors.js';

export function okData(ctx: Context, data: unknown): void {
  ctx.status = 200;
  ctx.body = { status: 0, message: 'OK', data };
}

export const juiceEnvelope: ErrorEnvelope = (ctx, err) => {
  const status = err.code === 'BODY_TOO_LARGE' ? 400 : err.code === 'CONFLICT' ? 400 : err.status;
  ctx.status = status;
  ctx.body = { status, message: err.message };
};

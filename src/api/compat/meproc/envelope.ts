/**
 * Meproc's envelope: `{"code": <int>, "msg": <string>, "data"?: ...}`, with the HTTP status equal
 * to `code`. Meproc itself only answered 200, 400, 403 and 405; Rota adds 401 (tokens), 404 (a
 * path it does not serve) and 500/503, in the same shape.
 */
import type { Context } from 'koa';
import type { ErrorEnvelope } from '../../errors.js';
import type { ErrorCode } from '../../../domain/errors.js';

/** Status per catalogue code where it differs from the native one. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  BODY_TOO_LARGE: 400,
  CONFLICT: 403,
  INVALID_STATE: 403,
  NOT_LEADER: 503,
};

/** Methods each path answers (for 405's Allow header and message). */
export const ALLOWED: Record<string, string[]> = {
  '/proc': ['GET', 'POST', 'PUT', 'DELETE'],
  '/proc/output': ['GET'],
};

export function ok(ctx: Context, data?: unknown): void {
  ctx.status = 200;
  ctx.body = { code: 200, msg: 'OK', ...(data !== undefined ? { data } : {}) };
}

export const meprocEnvelope: ErrorEnvelope = (ctx, err) => {
  const code = STATUS[err.code] ?? err.status;
  let msg = err.message;
  if (err.code === 'METHOD_NOT_ALLOWED') {
    const allowed = ALLOWED[ctx.path.replace(/\/+$/, '') || '/'];
    if (allowed) {
      ctx.set('Allow', allowed.join(', '));
      msg = `method not allowed: ${ctx.method} on ${ctx.path} (allowed: ${allowed.join(', ')})`;
    }
  }
  ctx.status = code;
  ctx.body = { code, msg };
};

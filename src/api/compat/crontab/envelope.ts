/**
 * The crontab server's envelope: `{"state": <int>, "msg": <string>, "data": {...}}`, `state` 0 on
 * success. The original answered HTTP 200 whatever the state; Rota keeps 200 for everything it
 * would have answered (bad input, a wrong method) and uses the HTTP status only for what is new
 * or was never in the envelope: 401 (tokens), 404 (a path it does not serve), 500/503.
 */
import type { Context } from 'koa';
import type { ErrorEnvelope } from '../../errors.js';
import type { ErrorCode } from '../../../domain/errors.js';

export const STATE = {
  OK: 0,
  /** Malformed JSON, a body that is not an object, no task_list, body too large. */
  BAD_REQUEST: 1,
  /** Tokens are configured and the bearer token is missing or unknown. */
  UNAUTHORIZED: 2,
  /** A path under /crontab that is not one of the four calls. */
  NOT_FOUND: 3,
  /** Any method but POST. */
  METHOD_NOT_ALLOWED: 4,
  /** A server-side failure (storage unreachable, a bug). */
  SERVER_ERROR: 5,
} as const;

const BY_CODE: Partial<Record<ErrorCode, { state: number; status: number }>> = {
  BAD_JSON: { state: STATE.BAD_REQUEST, status: 200 },
  INVALID_BODY: { state: STATE.BAD_REQUEST, status: 200 },
  INVALID_QUERY: { state: STATE.BAD_REQUEST, status: 200 },
  INVALID_SCHEDULE: { state: STATE.BAD_REQUEST, status: 200 },
  INVALID_ACTION: { state: STATE.BAD_REQUEST, status: 200 },
  USER_NOT_ALLOWED: { state: STATE.BAD_REQUEST, status: 200 },
  BODY_TOO_LARGE: { state: STATE.BAD_REQUEST, status: 200 },
  UNAUTHORIZED: { state: STATE.UNAUTHORIZED, status: 401 },
  FORBIDDEN: { state: STATE.UNAUTHORIZED, status: 403 },
  NOT_FOUND: { state: STATE.NOT_FOUND, status: 404 },
  METHOD_NOT_ALLOWED: { state: STATE.METHOD_NOT_ALLOWED, status: 200 },
};

export function ok(ctx: Context, data: Record<string, unknown>, msg = 'ok'): void {
  ctx.status = 200;
  ctx.body = { state: STATE.OK, msg, data };
}

export const crontabEnvelope: ErrorEnvelope = (ctx, err) => {
  const known = BY_CODE[err.code];
  const { state, status } = known ?? { state: STATE.SERVER_ERROR, status: err.status >= 500 ? err.status : 500 };
  let msg = err.message;
  if (err.code === 'METHOD_NOT_ALLOWED') {
    ctx.set('Allow', 'POST');
    msg = `method not allowed: ${ctx.method} on ${ctx.path} (use POST)`;
  }
  ctx.status = status;
  ctx.body = { state, msg, data: {} };
};

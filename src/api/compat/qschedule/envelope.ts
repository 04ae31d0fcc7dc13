/**
 * qschedule's envelope: `{"ret": true|false, "message": ..., "data"?: ...}`, HTTP 200, with the
 * document's exact messages. Which message a failure gets depends on what failed and where:
 * bad input is 参数错误, a bad token 授权失败, an unknown job job不存在, a refused worker change
 * 所有机器不能全部下线; anything else is the route's own failure message (启用失败, 查询失败, ...).
 * 404 (a path qschedule has not) and 405 (a wrong method) keep their HTTP status, and so does
 * 503 (etcd unreachable or out of space), its message the route's failure and why.
 */
import type { Context } from 'koa';
import { RotaError, type ErrorCode } from '../../../domain/errors.js';
import type { ErrorEnvelope } from '../../errors.js';

export const MSG = {
  ok: '操作成功',
  badParams: '参数错误',
  unauthorized: '授权失败',
  noJob: 'job不存在',
  badWorkersJson: 'workers json 格式非法',
  allOffline: '所有机器不能全部下线',
  someWorkersFailed: '可能存在未操作成功的机器,请调用查看接口验证',
  internal: '内部错误',
} as const;

/** The failure message of each route for errors that are not the caller's. */
const ROUTE_FAILURE: [RegExp, string][] = [
  [/^\/api2\/jobs\/on\.do$/, '启用失败'],
  [/^\/api2\/jobs\/off\.do$/, '停止失败'],
  [/^\/api2\/tasks\.do$/, '重试失败'],
  [/^\/api2\/workers\/state\.do$/, '操作失败'],
];

const BY_CODE: Partial<Record<ErrorCode, string>> = {
  BAD_JSON: MSG.badParams,
  INVALID_BODY: MSG.badParams,
  INVALID_QUERY: MSG.badParams,
  INVALID_SCHEDULE: MSG.badParams,
  INVALID_ACTION: MSG.badParams,
  BODY_TOO_LARGE: MSG.badParams,
  UNAUTHORIZED: MSG.unauthorized,
  FORBIDDEN: MSG.unauthorized,
  INVALID_STATE: MSG.allOffline,
};

/** A failure whose message is the document's own, said as is. */
export function qError(code: ErrorCode, message: string, data?: unknown): RotaError {
  return new RotaError(code, message, { verbatim: true, ...(data !== undefined ? { data } : {}) });
}

export function ok(ctx: Context, message: string = MSG.ok): void {
  ctx.status = 200;
  ctx.body = { ret: true, message };
}

export function okData(ctx: Context, data: unknown): void {
  ctx.status = 200;
  ctx.body = { data, ret: true };
}

export const qscheduleEnvelope: ErrorEnvelope = (ctx, err) => {
  const details = err.details as { verbatim?: boolean; data?: unknown } | undefined;
  if (err.code === 'METHOD_NOT_ALLOWED' || (err.code === 'NOT_FOUND' && !details?.verbatim)) {
    // A path or method qschedule does not have.
    ctx.status = err.status;
    ctx.body = { ret: false, message: err.message };
    return;
  }
  const routeFailure = ROUTE_FAILURE.find(([re]) => re.test(ctx.path))?.[1] ?? (ctx.method === 'GET' ? '查询失败' : MSG.internal);
  if (err.code === 'UNAVAILABLE') {
    // etcd unreachable or out of space: the route's failure message, why, and HTTP 503 (a
    // client that reads only `ret` sees the failure it always saw; one that reads the status
    // knows to try again).
    ctx.status = 503;
    ctx.body = { ret: false, message: `${routeFailure}: ${err.message}` };
    return;
  }
  let message: string;
  if (details?.verbatim) message = err.message;
  else if (BY_CODE[err.code]) message = BY_CODE[err.code]!;
  else message = routeFailure;
  ctx.status = 200;
  ctx.body = { ret: false, message, ...(details?.data !== undefined ? { data: details.data } : {}) };
};

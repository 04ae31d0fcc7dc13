/**
 * The one error middleware. Every API (native or dialect) installs it with its own envelope:
 * whatever a handler throws becomes a RotaError, and the envelope writes it in that API's shape.
 * 5xx details never reach the client; they are logged with the request id.
 */
import type { Context, Middleware } from 'koa';
import { RotaError, type ErrorCode } from '../domain/errors.js';
import type { Logger } from '../log.js';
import { requestIdOf } from './request-id.js';
import { FAULT_MESSAGES, storeFault } from '../store/errors.js';

/** Writes an error response (status, headers, body) in one API's shape. */
export type ErrorEnvelope = (ctx: Context, err: RotaError) => void;

/** The native envelope: `{"error":{"code":"...","message":"..."}}`. */
export const nativeEnvelope: ErrorEnvelope = (ctx, err) => {
  ctx.status = err.status;
  ctx.body = { error: { code: err.code, message: err.message } };
};

const BY_STATUS: Record<number, ErrorCode> = {
  400: 'INVALID_BODY',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'BODY_TOO_LARGE',
  501: 'METHOD_NOT_ALLOWED',
};


/** Any thrown value as a RotaError; `internal` marks the ones whose details must stay in the log. */
export function toRotaError(err: unknown): { error: RotaError; internal: boolean } {
  if (err instanceof RotaError) return { error: err, internal: err.code === 'INTERNAL' };
  const e = err as { status?: unknown; expose?: unknown; message?: unknown } | null;
  if (e && typeof e.status === 'number' && e.expose === true && BY_STATUS[e.status]) {
    return { error: new RotaError(BY_STATUS[e.status]!, String(e.message)), internal: false };
  }
  const fault = storeFault(err);
  if (fault) return { error: new RotaError('UNAVAILABLE', FAULT_MESSAGES[fault], { fault }), internal: false };
  return { error: new RotaError('INTERNAL', 'internal error'), internal: true };
}

/** Headers (and a precise message) some errors carry in every envelope. */
function decorate(ctx: Context, err: RotaError): RotaError {
  if (err.code === 'UNAUTHORIZED') ctx.set('WWW-Authenticate', 'Bearer realm="rota"');
  if (err.code !== 'METHOD_NOT_ALLOWED') return err;
  const allow = new Set<string>();
  for (const layer of (ctx as { matched?: { methods: string[] }[] }).matched ?? []) for (const m of layer.methods) allow.add(m);
  if (!allow.size) return err;
  ctx.set('Allow', [...allow].join(', '));
  return new RotaError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path} (allowed: ${[...allow].join(', ')})`);
}

/** Catches everything below it and answers in `envelope`. */
export function errorHandler(envelope: ErrorEnvelope, log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (thrown) {
      const { error, internal } = toRotaError(thrown);
      if (internal) {
        log.error({ err: thrown, requestId: requestIdOf(ctx), method: ctx.method, path: ctx.path }, 'request failed');
      } else if (error.code === 'UNAVAILABLE') {
        log.warn({ err: (thrown as Error)?.message, requestId: requestIdOf(ctx), method: ctx.method, path: ctx.path }, 'request answered 503: etcd is unreachable, without quorum or out of space');
      }
      ctx.remove('Location');
      envelope(ctx, decorate(ctx, error));
    }
  };
}

/** Wraps an API's routes: when nothing answered, the path is unknown there. */
export const notFound: Middleware = async (ctx, next) => {
  await next();
  if (ctx.status === 404 && ctx.body == null) throw new RotaError('NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
};

/** What router.allowedMethods({ throw: true }) throws, as catalogue errors. */
export const routerErrors = {
  throw: true,
  methodNotAllowed: () => new RotaError('METHOD_NOT_ALLOWED', 'method not allowed on this path'),
  notImplemented: () => new RotaError('METHOD_NOT_ALLOWED', 'method not supported'),
};

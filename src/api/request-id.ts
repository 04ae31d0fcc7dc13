/** X-Request-Id: an incoming one is honoured (when sane), otherwise one is made; it is echoed back. */
import { randomUUID } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type { Logger } from '../log.js';

const SANE = /^[\w.:@/+=-]{1,128}$/;

export function requestIdOf(ctx: Context): string {
  return String((ctx.state as { requestId?: string }).requestId ?? '');
}

/** First in the app: sets the id, echoes it, and logs each request at debug level. */
export function requestId(log: Logger): Middleware {
  return async (ctx, next) => {
    const incoming = ctx.get('X-Request-Id');
    const id = SANE.test(incoming) ? incoming : randomUUID();
    (ctx.state as { requestId?: string }).requestId = id;
    ctx.set('X-Request-Id', id);
    const t0 = performance.now();
    try {
      await next();
    } finally {
      log.debug({ requestId: id, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - t0) }, 'request');
    }
  };
}

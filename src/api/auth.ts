/**
 * Bearer tokens map to tenants. With no tokens configured (loopback-only default) every caller
 * is tenant 'default'. Dialects with other credential styles call tenantForToken themselves.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import { RotaError } from '../domain/errors.js';
import type { Caller } from '../service/task-service.js';

export const DEFAULT_TENANT = 'default';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Looks a token up in constant time per configured token; null when unknown. */
export function tenantForToken(tokens: Record<string, string>, token: string): string | null {
  const given = digest(token);
  let tenant: string | null = null;
  for (const [t, ten] of Object.entries(tokens)) if (timingSafeEqual(digest(t), given) && tenant === null) tenant = ten;
  return tenant;
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(ctx: Context): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('Authorization'));
  return m ? m[1]! : null;
}

/** The caller a request authenticates as; throws UNAUTHORIZED. */
export function authenticate(ctx: Context, tokens: Record<string, string> | null): Caller {
  if (tokens === null) return { tenant: DEFAULT_TENANT };
  const token = bearerToken(ctx);
  if (!token) throw new RotaError('UNAUTHORIZED', 'missing bearer token: send Authorization: Bearer <token>');
  const tenant = tenantForToken(tokens, token);
  if (tenant === null) throw new RotaError('UNAUTHORIZED', 'invalid bearer token');
  return { tenant };
}

/** Router middleware: authenticates and stores the caller for callerOf(ctx). */
export function requireCaller(tokens: Record<string, string> | null): Middleware {
  return async (ctx, next) => {
    (ctx.state as { caller?: Caller }).caller = authenticate(ctx, tokens);
    await next();
  };
}

/** The caller set by requireCaller (throws if the route forgot it: a bug, so a 500). */
export function callerOf(ctx: Context): Caller {
  const c = (ctx.state as { caller?: Caller }).caller;
  if (!c) throw new Error('route is missing requireCaller');
  return c;
}

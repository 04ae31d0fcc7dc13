/** What every native route module gets: the dependencies, the auth middleware and the body reader. */
import type { Context, Middleware } from 'koa';
import type { ApiDeps } from '../deps.js';
import type { BodyReader } from '../body.js';
import type { Validator } from '../validate.js';

export interface Native {
  deps: ApiDeps;
  /** Authenticates (Bearer token -> tenant); use callerOf(ctx) after it. */
  auth: Middleware;
  readBody: BodyReader;
}

/** Validates a copy of the query string (coercing "50" to 50 and filling defaults). */
export function queryOf<T>(ctx: Context, v: Validator<T>): T {
  return v({ ...ctx.query });
}

/** A path parameter (always present on the routes that declare it). */
export function param(ctx: Context, name: string): string {
  return String((ctx as unknown as { params: Record<string, string> }).params[name] ?? '');
}

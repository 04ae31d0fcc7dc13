/**
 * How an API (the native one or a dialect) is mounted: it owns some path prefixes, and every
 * request under them, including unknown routes and wrong methods, is answered in its envelope.
 */
import type Koa from 'koa';
import type Router from '@koa/router';
import type { Logger } from '../log.js';
import { errorHandler, notFound, routerErrors, type ErrorEnvelope } from './errors.js';

export interface ApiMount {
  /** For logs, e.g. "native", "meproc". */
  name: string;
  /** Paths it owns: a request matches when its path equals one or continues it after a '/'. */
  prefixes: string[];
  /** How its errors look. */
  envelope: ErrorEnvelope;
  /** Its routes, with full paths. Auth and body reading are per route (auth.ts, body.ts). */
  router: Router;
}

/** True when `path` is `prefix` or lies below it. */
export function owns(prefix: string, path: string): boolean {
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return path === p || path.startsWith(`${p}/`);
}

function chain(mws: Koa.Middleware[]): (ctx: Koa.Context) => Promise<void> {
  const run = async (ctx: Koa.Context, i: number): Promise<void> => {
    const mw = mws[i];
    if (mw) await mw(ctx, () => run(ctx, i + 1));
  };
  return (ctx) => run(ctx, 0);
}

/** Middleware that hands requests under the mount's prefixes to it, and passes the rest on. */
export function mountApi(m: ApiMount, log: Logger): Koa.Middleware {
  const handle = chain([
    errorHandler(m.envelope, log.child({ api: m.name })),
    notFound,
    m.router.allowedMethods(routerErrors) as Koa.Middleware,
    m.router.routes() as Koa.Middleware,
  ]);
  return async (ctx, next) => (m.prefixes.some((p) => owns(p, ctx.path)) ? handle(ctx) : next());
}

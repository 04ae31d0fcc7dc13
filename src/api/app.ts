/**
 * The Koa app every node serves: request ids, then each API mount (the dialects, then the
 * native API) answering in its own envelope, and a native-envelope 404 for everything else.
 */
import Koa from 'koa';
import type { ApiDeps } from './deps.js';
import { RotaError } from '../domain/errors.js';
import { errorHandler, nativeEnvelope } from './errors.js';
import { requestId } from './request-id.js';
import { mountApi, type ApiMount } from './mount.js';
import { nativeMount } from './native/index.js';
import { dialectMounts } from './compat/index.js';
import { uiMount } from './ui/index.js';

export type { ApiDeps };

/** All mounts, in the order they are tried. */
export function apiMounts(deps: ApiDeps): ApiMount[] {
  return [...dialectMounts(deps), nativeMount(deps), uiMount()];
}

export function createApp(deps: ApiDeps): Koa {
  const app = new Koa();
  app.on('error', (err: unknown) => deps.log.error({ err }, 'koa error outside a request handler'));
  app.use(requestId(deps.log));
  // Outermost net: errors no mount caught (or an envelope itself threw) and unknown paths.
  app.use(errorHandler(nativeEnvelope, deps.log));
  for (const m of apiMounts(deps)) app.use(mountApi(m, deps.log));
  app.use((ctx) => {
    throw new RotaError('NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
  });
  return app;
}

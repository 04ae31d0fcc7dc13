/**
 * What every dialect sets up the same way, so a dialect's index.ts holds only its routes and
 * their translation: its router, a body reader that reads JSON whatever the Content-Type (the
 * originals' clients send `curl -d`), the compatibility rule (fields the original did not know
 * are dropped and logged, never refused), and the mount that answers every error under its
 * prefixes in its envelope. Auth differs per original (tokens, app tokens, none) and stays
 * with each dialect (auth.ts).
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import type { ApiDeps } from '../deps.js';
import type { ApiMount } from '../mount.js';
import type { ErrorEnvelope } from '../errors.js';
import { createBodyReader, expectObject } from '../body.js';
import { dropUnknownFields } from './unknown-fields.js';
import type { Logger } from '../../log.js';

export interface Dialect {
  router: Router;
  /** The node's logger, labelled with the dialect. */
  log: Logger;
  /** The body as JSON (an empty body: undefined); malformed JSON or an oversized body throws in the envelope. */
  readBody(ctx: Context): Promise<unknown>;
  /** The body as an object with only the `known` fields (the others logged at debug). */
  objectBody(ctx: Context, known: readonly string[]): Promise<Record<string, unknown>>;
  /** The dialect's mount, once its routes are on the router. */
  mount(): ApiMount;
}

export function dialect(deps: ApiDeps, d: { name: string; prefixes: string[]; envelope: ErrorEnvelope }): Dialect {
  const router = new Router();
  const log = deps.log.child({ api: d.name });
  const readBody = createBodyReader({ maxBytes: deps.maxBodyBytes, jsonAlways: true });
  return {
    router,
    log,
    readBody,
    objectBody: async (ctx, known) => dropUnknownFields(ctx, log, expectObject(await readBody(ctx)), known),
    mount: () => ({ name: d.name, prefixes: d.prefixes, envelope: d.envelope, router }),
  };
}

/**
 * The compatibility rule every dialect follows: what the original accepted is accepted, so
 * fields a dialect does not know are dropped (and logged at debug), never refused.
 */
import type { Context } from 'koa';
import type { Logger } from '../../log.js';
import { requestIdOf } from '../request-id.js';

/** The object with only the `known` keys; the others are logged at debug with the request id. */
export function dropUnknownFields<T extends Record<string, unknown>>(ctx: Context, log: Logger, body: T, known: readonly string[], where = 'body'): T {
  const unknown = Object.keys(body).filter((k) => !known.includes(k));
  if (!unknown.length) return body;
  log.debug({ requestId: requestIdOf(ctx), path: ctx.path, where, fields: unknown }, 'unknown fields ignored');
  return Object.fromEntries(Object.entries(body).filter(([k]) => known.includes(k))) as T;
}

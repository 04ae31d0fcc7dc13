/**
 * Request bodies, read on demand by the handlers that need one (koa-bodyparser underneath).
 * Parse failures are RotaErrors (BAD_JSON, BODY_TOO_LARGE, INVALID_BODY), so each API's own
 * error middleware puts them in its envelope. Dialects make their own reader (form, text...).
 */
import bodyParser from 'koa-bodyparser';
import type { Context } from 'koa';
import { RotaError } from '../domain/errors.js';

export interface BodyOptions {
  maxBytes: number;
  /** Media types parsed (default ['json']). */
  types?: ('json' | 'form' | 'text')[];
  /** Parse every body as JSON whatever its Content-Type (the native API: `curl -d` sends form type). */
  jsonAlways?: boolean;
  /** Deeper nesting is refused (default 64): deep values would blow the stack later on. */
  maxDepth?: number;
}

/** Resolves to the parsed body, or undefined when the request has none. */
export type BodyReader = (ctx: Context) => Promise<unknown>;

function parseError(err: unknown, maxBytes: number): Error {
  const e = err as { status?: number; type?: string; message?: string; code?: unknown };
  if (e.status === 413 || e.type === 'entity.too.large') return new RotaError('BODY_TOO_LARGE', `request body is larger than ${maxBytes} bytes`);
  if (err instanceof SyntaxError) return new RotaError('BAD_JSON', `invalid JSON: ${err.message}`);
  // zlib's codes start Z_, brotli's ERR__ERROR_ (e.g. a body that says Content-Encoding: br and is not).
  if (typeof e.code === 'string' && /^(Z_|ERR__ERROR_)/.test(e.code)) return new RotaError('INVALID_BODY', `unreadable body: ${e.message ?? 'bad compressed data'}`);
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return new RotaError('INVALID_BODY', `unreadable body: ${e.message ?? 'bad request'}`);
  return err as Error;
}

/** Iterative, so a hostile depth cannot overflow the stack here either. */
export function depthOf(value: unknown, limit: number): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > limit) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** A JSON escape of a surrogate half (the only way a UTF-8 body can carry a lone one). */
const LONE_SURROGATE_ESCAPE = /\\u[dD][89a-fA-F][0-9a-fA-F]{2}/;
/** In a `u` regexp a paired surrogate is one code point, so only a lone one is category Cs. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * True when a string (key or value) holds a lone surrogate: it has no UTF-8 form, so it could
 * not become a storage key or be logged faithfully. Iterative, like depthOf.
 */
export function hasLoneSurrogate(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) return true;
    } else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if (LONE_SURROGATE.test(k)) return true;
        stack.push(child);
      }
    }
  }
  return false;
}

export function createBodyReader(opts: BodyOptions): BodyReader {
  const limit = String(opts.maxBytes);
  const maxDepth = opts.maxDepth ?? 64;
  const parser = bodyParser({
    enableTypes: opts.types ?? ['json'],
    jsonLimit: limit,
    formLimit: limit,
    textLimit: limit,
    strict: false,
    ...(opts.jsonAlways ? { detectJSON: () => true } : {}),
    onerror: (err) => {
      throw parseError(err, opts.maxBytes);
    },
  });
  return async (ctx) => {
    await parser(ctx, async () => undefined);
    const raw = ctx.request.rawBody as string | undefined;
    if (raw === undefined) {
      const hasBody = (ctx.request.length ?? 0) > 0 || !!ctx.get('Transfer-Encoding');
      if (hasBody) throw new RotaError('INVALID_BODY', `unsupported Content-Type '${ctx.get('Content-Type')}'`);
      return undefined;
    }
    if (raw.trim() === '') return undefined;
    const body = ctx.request.body;
    if (depthOf(body, maxDepth) > maxDepth) throw new RotaError('INVALID_BODY', `body is nested deeper than ${maxDepth} levels`);
    if (LONE_SURROGATE_ESCAPE.test(raw) && hasLoneSurrogate(body)) throw new RotaError('INVALID_BODY', 'body is not valid Unicode text: it has a lone surrogate (a \\ud800-\\udfff escape without its pair)');
    return body;
  };
}

/** The body as a JSON object, or INVALID_BODY (arrays, null, scalars and a missing body are refused). */
export function expectObject(body: unknown, what = 'body'): Record<string, unknown> {
  if (body === undefined) throw new RotaError('INVALID_BODY', `${what}: a JSON object is required`);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new RotaError('INVALID_BODY', `${what}: must be a JSON object, got ${body === null ? 'null' : Array.isArray(body) ? 'an array' : typeof body}`);
  }
  return body as Record<string, unknown>;
}

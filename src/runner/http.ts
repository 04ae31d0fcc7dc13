import type { HttpAction } from '../domain/task.js';
import { exchange } from './http-exchange.js';
import { failed, type RunContext, type RunOutcome } from './types.js';

/** Does `status` meet the expectation (listed statuses, or any 2xx when none are listed)? */
export function statusAccepted(status: number, expect: readonly number[] | undefined): boolean {
  return expect && expect.length ? expect.includes(status) : status >= 200 && status < 300;
}

/** Compiles bodyRegex; a lone "*" or an empty pattern matches anything. Returns an error text if invalid. */
export function compileBodyRegex(pattern: string | undefined): RegExp | undefined | string {
  if (pattern === undefined || pattern === '' || pattern === '*') return undefined;
  try {
    return new RegExp(pattern);
  } catch (e) {
    return `invalid bodyRegex: ${(e as Error).message}`;
  }
}

/**
 * Calls an HTTP endpoint. Succeeds when the status is expected and the body matches bodyRegex;
 * the response body becomes the output. Never rejects.
 */
export async function runHttp(action: HttpAction, ctx: RunContext): Promise<RunOutcome> {
  const regex = compileBodyRegex(action.bodyRegex);
  if (typeof regex === 'string') return failed(regex);
  const res = await exchange(action, ctx);
  if ('state' in res) return res;
  const base = { httpStatus: res.status, outputTail: res.tail };
  if (!statusAccepted(res.status, action.expectStatus)) {
    const expected = action.expectStatus?.length ? action.expectStatus.join(', ') : '2xx';
    return { ...base, state: 'failed', message: `HTTP ${res.status} (expected ${expected})` };
  }
  if (regex && !regex.test(res.body)) {
    return { ...base, state: 'failed', message: `body did not match /${regex.source}/` };
  }
  return { ...base, state: 'succeeded', message: `HTTP ${res.status}` };
}

import type { JsonRpcAction } from '../domain/task.js';
import { exchange } from './http-exchange.js';
import { compileBodyRegex } from './http.js';
import { failed, type RunContext, type RunOutcome } from './types.js';

/** The JSON-RPC 2.0 request body for a run (the run id is the request id). */
export function jsonRpcRequest(action: JsonRpcAction, runId: string): Record<string, unknown> {
  const req: Record<string, unknown> = { jsonrpc: '2.0', id: runId, method: action.method };
  if (action.params !== undefined) req.params = action.params;
  return req;
}

/**
 * Calls a JSON-RPC 2.0 method over HTTP POST. Succeeds on HTTP 2xx with a JSON body holding
 * `result` and no `error` (and matching bodyRegex when set). Never rejects.
 */
export async function runJsonRpc(action: JsonRpcAction, ctx: RunContext): Promise<RunOutcome> {
  const regex = compileBodyRegex(action.bodyRegex);
  if (typeof regex === 'string') return failed(regex);
  const res = await exchange(
    { url: action.url, method: 'POST', headers: action.headers, body: { json: jsonRpcRequest(action, ctx.runId) }, timeoutMs: action.timeoutMs },
    ctx,
  );
  if ('state' in res) return res;
  const base = { httpStatus: res.status, outputTail: res.tail };
  if (res.status < 200 || res.status >= 300) {
    return { ...base, state: 'failed', message: `HTTP ${res.status} (expected 2xx)` };
  }
  let reply: unknown;
  try {
    reply = JSON.parse(res.body);
  } catch {
    return { ...base, state: 'failed', message: `HTTP ${res.status}: response is not JSON` };
  }
  if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) {
    return { ...base, state: 'failed', message: 'response is not a JSON-RPC object' };
  }
  if ('error' in reply) {
    const err = (reply as { error: unknown }).error as { code?: unknown; message?: unknown } | null;
    if (err && typeof err === 'object') {
      return { ...base, state: 'failed', message: `JSON-RPC error ${String(err.code)}: ${String(err.message)}` };
    }
    return { ...base, state: 'failed', message: `JSON-RPC error: ${JSON.stringify(err)}` };
  }
  if (!('result' in reply)) return { ...base, state: 'failed', message: 'JSON-RPC response has no result' };
  if (regex && !regex.test(res.body)) return { ...base, state: 'failed', message: `body did not match /${regex.source}/` };
  return { ...base, state: 'succeeded', message: `HTTP ${res.status}` };
}

/**
 * A manual trigger's params reach the run (pure):
 *   http      the JSON body when the task has none; merged over a JSON object body (a `json`
 *             object, or a `raw` body whose text is a JSON object sent as JSON); form fields
 *             get them as strings; any other body is sent as it is
 *   jsonrpc   the request's `params` when the task has none; merged over object params
 *   process,  the environment variable ROTA_PARAMS (the params as JSON)
 *   container
 * Keys of the params win over the task's own. A task's own `params` are the defaults of every
 * run (scheduled ones included); a trigger's are merged over them (runParams).
 */
import type { Action } from './task.js';

export type Params = Record<string, unknown>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A raw body's text as a JSON object, when it is one and is sent as JSON. */
function rawJsonObject(raw: string, contentType: string | undefined): Record<string, unknown> | null {
  if (contentType !== undefined && !/\bjson\b/i.test(contentType)) return null;
  try {
    const v: unknown = JSON.parse(raw);
    return isObject(v) ? v : null;
  } catch {
    return null;
  }
}

/** A run's params: the task's defaults with the trigger's over them; none when neither has any. */
export function runParams(taskParams: Params | undefined, triggerParams: Params | undefined): Params | undefined {
  if (!taskParams) return triggerParams;
  return triggerParams ? { ...taskParams, ...triggerParams } : taskParams;
}

/** The action a run executes: the task's own, with the run's params applied. */
export function withParams(action: Action, params: Params | undefined): Action {
  if (!params) return action;
  if ('http' in action) {
    const h = action.http;
    const b = h.body;
    let body = b;
    if (b === undefined) body = { json: params };
    else if ('json' in b && isObject(b.json)) body = { json: { ...b.json, ...params } };
    else if ('form' in b) body = { form: { ...b.form, ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])) } };
    else if ('raw' in b) {
      const obj = rawJsonObject(b.raw, b.contentType ?? headerValue(h.headers, 'content-type'));
      if (obj) body = { ...b, raw: JSON.stringify({ ...obj, ...params }) };
    }
    return body === b ? action : { http: { ...h, ...(body ? { body } : {}) } };
  }
  if ('jsonrpc' in action) {
    const p = action.jsonrpc.params;
    if (p === undefined) return { jsonrpc: { ...action.jsonrpc, params } };
    if (isObject(p)) return { jsonrpc: { ...action.jsonrpc, params: { ...p, ...params } } };
    return action;
  }
  const env = { ROTA_PARAMS: JSON.stringify(params) };
  if ('process' in action) return { process: { ...action.process, env: { ...action.process.env, ...env } } };
  return { container: { ...action.container, env: { ...action.container.env, ...env } } };
}

function headerValue(headers: Record<string, string>, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

import type { Action } from '../domain/task.js';
import { runContainer } from './container.js';
import { runHttp } from './http.js';
import { runJsonRpc } from './jsonrpc.js';
import { runProcess } from './process.js';
import { failed, type RunContext, type RunOutcome } from './types.js';

export type { RunContext, RunOutcome } from './types.js';
export { checkRunAs } from './run-as.js';
export { httpAgents } from './http-exchange.js';

/** Runs one action to completion. A failed run is a value: this never throws or rejects. */
export async function execute(action: Action, ctx: RunContext): Promise<RunOutcome> {
  try {
    if ('http' in action) return await runHttp(action.http, ctx);
    if ('process' in action) return await runProcess(action.process, ctx);
    if ('jsonrpc' in action) return await runJsonRpc(action.jsonrpc, ctx);
    if ('container' in action) return await runContainer(action.container, ctx);
    return failed('unknown action type');
  } catch (e) {
    return failed(`runner error: ${(e as Error).message}`);
  }
}

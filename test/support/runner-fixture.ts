import { join } from 'node:path';
import type { RunContext } from '../../src/runner/types.js';
import { Receiver } from './receiver.js';
import { tempDir } from './tmp.js';

/**
 * An executor's unit tests: a receiver answering as `respond` says and a scratch folder, made
 * before the suite, the hits cleared before each test; `ctx` makes each
 * run's context (a new run id and log file; `defaults`, then `over`, on top).
 */
export function runnerFixture(name: string, respond: Receiver['respond'], defaults: Partial<RunContext>) {
  const receiver = new Receiver();
  receiver.respond = respond;
  let dir = '';
  let n = 0;
  before(async () => {
    dir = tempDir(`rota-runner-${name}-`);
    await receiver.start();
  });
  after(() => receiver.stop()); // the folder goes when the test process exits (tempDir)
  beforeEach(() => (receiver.hits.length = 0));
  return {
    receiver,
    ctx(over: Partial<RunContext> = {}): RunContext {
      n++;
      return {
        taskId: 'task-1', runId: `run-${n}`, scheduledMs: 1_700_000_000_123, attempt: 1,
        logFile: join(dir, `r${n}`, 'out.log'), outputCapBytes: 1000, tailBytes: 64, killGraceMs: 500,
        signal: new AbortController().signal, allowedUsers: [], ...defaults, ...over,
      };
    },
  };
}

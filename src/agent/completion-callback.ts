import got from 'got';
import type { Run, Task } from '../domain/task.js';
import type { Logger } from '../log.js';

/** Best-effort POST of a finished run to the task's completion callback. */
export async function notifyCompletion(url: string, task: Task, run: Run, log: Logger): Promise<void> {
  try {
    await got.post(url, {
      json: { taskId: task.id, taskName: task.name, run },
      timeout: { request: 10_000 },
      retry: { limit: 2 },
      throwHttpErrors: false,
    });
  } catch (err) {
    log.warn({ err: (err as Error).message, url, runId: run.id }, 'completion callback failed');
  }
}

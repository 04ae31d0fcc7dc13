import type { Run, Task } from '../domain/task.js';
import type { Logger } from '../log.js';

/** Best-effort POST of a finished run to the task's completion callback (3 tries, 10 s each). */
export async function notifyCompletion(url: string, task: Task, run: Run, log: Logger): Promise<void> {
  let last = '';
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const r = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ taskId: task.id, taskName: task.name, run }),
        signal: AbortSignal.timeout(10_000),
      });
      await r.arrayBuffer();
      if (r.status < 500) return;
      last = `HTTP ${r.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (attempt < 3) await new Promise((r) => setTimeout(r, 1000 * attempt));
  }
  log.warn({ err: last, url, runId: run.id }, 'completion callback failed');
}

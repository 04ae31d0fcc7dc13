/**
 * A task's callback (task.callback): a report POSTed when an attempt starts running and/or when
 * its firing ends with no retry to follow, in the task's format, delivered in the background
 * with retries and backoff (lib/webhook.ts) so a slow or dead receiver holds nothing up. The
 * reports of one run go out in order (the end waits until the start was delivered or given up).
 * Each delivery taken by the receiver is noted on the run record (callbackMs).
 */
import type { Clock } from '../domain/clock.js';
import type { Run, Task } from '../domain/task.js';
import type { EtcdHandle } from '../store/etcd.js';
import { RunStore } from '../store/run-store.js';
import { TaskStore } from '../store/task-store.js';
import type { WebhookSender } from '../lib/webhook.js';
import type { Logger } from '../log.js';

export type CallbackEvent = 'start' | 'end';

/** A dialect's own callback body, by the name in task.callback.format (the Juice dialect's: api/compat/juice/status.ts). */
export type CallbackFormat = (task: Task, run: Run, event: CallbackEvent, nowMs: number) => Record<string, unknown>;

/** The body a task's callback receives for one event of one run (pure): its format's, or Rota's own. */
export function callbackBody(task: Task, run: Run, event: CallbackEvent, nowMs: number, formats: Record<string, CallbackFormat> = {}): Record<string, unknown> {
  const format = task.callback?.format ? formats[task.callback.format] : undefined;
  if (format) return format(task, run, event, nowMs);
  return { event, taskId: task.id, taskName: task.name, run };
}

export class CallbackService {
  private readonly runs: RunStore;
  private readonly tasks: TaskStore;
  /** Per run, the report being delivered: the next waits for it, so a receiver never hears the end before the start. */
  private readonly inOrder = new Map<string, Promise<void>>();

  constructor(
    h: EtcdHandle,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly sender: WebhookSender,
    /** Callback bodies of the dialects' own formats (the node passes Juice's). */
    private readonly formats: Record<string, CallbackFormat> = {},
  ) {
    this.runs = new RunStore(h);
    this.tasks = new TaskStore(h);
  }

  /** An attempt started running. */
  runStarted(task: Task, run: Run): void {
    this.report(task, run, 'start');
  }

  /** An attempt ended; `retrying` when another attempt of the firing follows (then no end report). */
  runEnded(task: Task | null, run: Run, retrying: boolean): void {
    if (retrying) return;
    if (task) return this.report(task, run, 'end');
    // Runs the leader ends (lost) come without their task: read it, only for tasks with a callback.
    this.tasks.get(run.taskId).then(
      (v) => v && this.report(v.value, run, 'end'),
      (err: unknown) => this.log.warn({ err: (err as Error).message, runId: run.id }, 'callback: reading the task failed'),
    );
  }

  private report(task: Task, run: Run, event: CallbackEvent): void {
    const cb = task.callback;
    if (!cb || !(cb.on ?? ['end']).includes(event)) return;
    const body = callbackBody(task, run, event, this.clock.now(), this.formats);
    const deliver = () =>
      new Promise<void>((resolve) =>
        this.sender.send({
          url: cb.url,
          body,
          what: `${event} callback of run ${run.id}`,
          done: (attempts) => {
            resolve();
            if (attempts === null) return;
            this.runs.markCallback(run.id, this.clock.now()).catch((err: unknown) => this.log.warn({ err: (err as Error).message, runId: run.id }, 'noting the callback on the run failed'));
          },
        }),
      );
    const next = (this.inOrder.get(run.id) ?? Promise.resolve()).then(deliver);
    this.inOrder.set(run.id, next);
    void next.then(() => {
      if (this.inOrder.get(run.id) === next) this.inOrder.delete(run.id);
    });
  }
}

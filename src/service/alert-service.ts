/**
 * Failure alerts (policies.alertAfterFailures, qschedule's consecutiveFailTimesAlertThreshold):
 * when a run of a task ends failed or lost, the task's run history says how many failures in a
 * row it has; once that reaches the threshold, one alert per streak (whichever node sees it
 * first claims the streak in etcd) is written to the audit log as an `alert` event, counted in
 * /metrics and POSTed to the configured webhook (retried with backoff in the background; a dead
 * webhook never holds up anything).
 */
import type { EtcdHandle } from '../store/etcd.js';
import { AlertStore } from '../store/alert-store.js';
import { EventStore } from '../store/event-store.js';
import { RunStore } from '../store/run-store.js';
import { TaskStore } from '../store/task-store.js';
import { alertDue, failureStreak } from '../domain/alerts.js';
import type { Clock } from '../domain/clock.js';
import type { Run } from '../domain/task.js';
import type { Logger } from '../log.js';
import type { WebhookSender } from '../lib/webhook.js';

/** What the webhook receives. */
export interface AlertNotice {
  event: 'alert';
  tenant: string;
  taskId: string;
  taskName: string;
  group?: string;
  /** Failures in a row when the alert was raised, and the threshold. */
  failures: number;
  threshold: number;
  /** The newest failed run, its state and message. */
  runId: string;
  state: string;
  message?: string;
  atMs: number;
  at: string;
}

export interface AlertOptions {
  /** POST target for alerts; none = audit log and metrics only. */
  webhookUrl?: string;
  webhook?: WebhookSender;
  /** Counts an alert raised (/metrics). */
  counted?: () => void;
}

export class AlertService {
  private readonly alerts: AlertStore;
  private readonly runs: RunStore;
  private readonly tasks: TaskStore;
  private readonly events: EventStore;

  constructor(
    h: EtcdHandle,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: AlertOptions = {},
  ) {
    this.alerts = new AlertStore(h);
    this.runs = new RunStore(h);
    this.tasks = new TaskStore(h);
    this.events = new EventStore(h);
  }

  /** Called with every run record that ended; never throws (errors are logged). */
  runEnded(run: Run): void {
    if (run.state !== 'failed' && run.state !== 'lost' && run.state !== 'expired') return;
    this.check(run).catch((err: unknown) => this.log.warn({ err: (err as Error).message, runId: run.id }, 'alert check failed'));
  }

  /** Raises the alert for the task's current streak if it is due and not raised yet; true when raised here. */
  async check(run: Run): Promise<boolean> {
    const task = (await this.tasks.get(run.taskId))?.value;
    const threshold = task?.policies.alertAfterFailures;
    if (!task || !threshold) return false;
    const streak = failureStreak(await this.runs.allForTask(task.id));
    if (!alertDue(threshold, streak) || !streak.firstRunId || !(await this.alerts.claimStreak(task.id, streak.firstRunId))) return false;
    const last = streak.lastRun ?? run;
    const atMs = this.clock.now();
    const notice: AlertNotice = {
      event: 'alert',
      tenant: task.tenant,
      taskId: task.id,
      taskName: task.name,
      ...(task.group !== undefined ? { group: task.group } : {}),
      failures: streak.length,
      threshold,
      runId: last.id,
      state: last.state,
      ...(last.message !== undefined ? { message: last.message } : {}),
      atMs,
      at: new Date(atMs).toISOString(),
    };
    await this.events.append({
      tenant: task.tenant,
      atMs,
      action: 'alert',
      taskId: task.id,
      taskName: task.name,
      ...(task.group !== undefined ? { group: task.group } : {}),
      detail: { failures: streak.length, threshold, runId: last.id, state: last.state, ...(last.message !== undefined ? { message: last.message } : {}), streakFrom: streak.firstRunId },
    });
    this.opts.counted?.();
    this.log.warn({ taskId: task.id, task: task.name, failures: streak.length, threshold }, 'alert: task failed repeatedly');
    if (this.opts.webhookUrl && this.opts.webhook) this.opts.webhook.send({ url: this.opts.webhookUrl, body: notice, what: `alert task ${task.id}` });
    return true;
  }
}

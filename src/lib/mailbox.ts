import type { Logger } from '../log.js';

/**
 * One message at a time: the actor discipline for a long-lived part (the leader, the agent).
 * Handlers run strictly in order; a failing handler is logged and the next one runs.
 */
export class Mailbox {
  private queue: (() => Promise<void> | void)[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];
  errors = 0;

  constructor(
    private readonly log: Logger,
    private readonly name: string,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  post(fn: () => Promise<void> | void): void {
    this.queue.push(fn);
    if (!this.running) void this.drain();
  }

  /** Resolves when everything posted so far has been handled. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      // Take the whole queue at once: shift() on a long queue is O(n) per message.
      const batch = this.queue;
      this.queue = [];
      for (const fn of batch) await this.handle(fn);
    }
    this.running = false;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }

  private async handle(fn: () => Promise<void> | void): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.errors++;
      this.onError(err);
      this.log.error({ err, mailbox: this.name }, 'message handler failed');
    }
  }
}

/**
 * Deliveries of JSON to webhooks (alerts; callbacks that must not be lost to a receiver's bad
 * minute): POSTed in the background, retried with exponential backoff while the receiver
 * fails (a network error, a timeout, a 5xx, 408 or 429), given up after `maxAttempts`. Nothing
 * waits on a delivery: a dead receiver never blocks the caller. At most `maxQueued` deliveries
 * wait at a time; beyond that the oldest waiting one is dropped (and logged).
 */
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../log.js';

export interface WebhookOptions {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  timeoutMs: number;
  maxQueued: number;
}

export const WEBHOOK_DEFAULTS: WebhookOptions = { maxAttempts: 8, initialBackoffMs: 1_000, maxBackoffMs: 60_000, timeoutMs: 10_000, maxQueued: 1_000 };

export interface Delivery {
  url: string;
  body: unknown;
  headers?: Record<string, string>;
  /** For logs: what is being delivered (e.g. "alert task 12"). */
  what: string;
  /** Told the outcome: the attempt that succeeded, or null when given up. */
  done?: (attempts: number | null, lastError?: string) => void;
}

/** Does the answer mean "try again later"? */
const retryable = (status: number): boolean => status >= 500 || status === 408 || status === 429;

export class WebhookSender {
  private readonly pending = new Set<{ d: Delivery; abort: AbortController }>();
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: WebhookOptions = WEBHOOK_DEFAULTS,
    /** Told of each delivery that will not happen: 'queue-full' (the oldest waiting one dropped), 'given-up' (every attempt failed), 'refused' (a 4xx). */
    private readonly dropped: (why: 'queue-full' | 'given-up' | 'refused', what: string) => void = () => undefined,
  ) {}

  /** Deliveries queued or being retried. */
  get queued(): number {
    return this.pending.size;
  }

  send(d: Delivery): void {
    if (this.closed) return;
    if (this.pending.size >= this.opts.maxQueued) {
      const oldest = this.pending.values().next().value;
      if (oldest) {
        oldest.abort.abort();
        this.pending.delete(oldest);
        this.log.warn({ what: oldest.d.what, url: oldest.d.url }, 'webhook queue full: oldest delivery dropped');
        this.dropped('queue-full', oldest.d.what);
      }
    }
    const entry = { d, abort: new AbortController() };
    this.pending.add(entry);
    void this.deliver(entry).finally(() => this.pending.delete(entry));
  }

  /** Stops retrying (pending deliveries are dropped). */
  close(): void {
    this.closed = true;
    for (const e of this.pending) e.abort.abort();
    this.pending.clear();
  }

  private async deliver({ d, abort }: { d: Delivery; abort: AbortController }): Promise<void> {
    let backoff = this.opts.initialBackoffMs;
    let last = '';
    for (let attempt = 1; attempt <= this.opts.maxAttempts && !abort.signal.aborted; attempt++) {
      try {
        const r = await fetch(d.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(d.headers ?? {}) },
          body: JSON.stringify(d.body),
          signal: AbortSignal.any([abort.signal, AbortSignal.timeout(this.opts.timeoutMs)]),
        });
        await r.arrayBuffer().catch(() => undefined);
        if (!retryable(r.status)) {
          if (r.status >= 400) {
            this.log.warn({ what: d.what, url: d.url, status: r.status }, 'webhook refused the delivery; not retried');
            this.dropped('refused', d.what);
          }
          d.done?.(r.status < 400 ? attempt : null, r.status >= 400 ? `HTTP ${r.status}` : undefined);
          return;
        }
        last = `HTTP ${r.status}`;
      } catch (err) {
        last = (err as Error).message;
      }
      if (attempt < this.opts.maxAttempts) {
        this.log.debug({ what: d.what, url: d.url, attempt, err: last, retryInMs: backoff }, 'webhook delivery failed; retrying');
        await this.clock.sleep(backoff, abort.signal);
        backoff = Math.min(backoff * 2, this.opts.maxBackoffMs);
      }
    }
    // Aborted: dropped from a full queue (counted there) or the sender closed.
    if (!abort.signal.aborted) {
      this.log.warn({ what: d.what, url: d.url, err: last, attempts: this.opts.maxAttempts }, 'webhook delivery given up');
      this.dropped('given-up', d.what);
    }
    d.done?.(null, last);
  }
}

import type { Clock } from '../../src/domain/clock.js';

/**
 * A clock a test moves by hand: now() stands still until advance(), which fires the timers and
 * sleeps that fall due, earliest first, each at its own instant.
 */
export class FakeClock implements Clock {
  private timers: { at: number; seq: number; fn: () => void }[] = [];
  private seq = 0;

  constructor(private ms: number) {}

  now(): number {
    return this.ms;
  }

  timeout(ms: number, fn: () => void): () => void {
    const t = { at: this.ms + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(t);
    return () => {
      this.timers = this.timers.filter((x) => x !== t);
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const cancel = this.timeout(ms, done);
      function done() {
        signal?.removeEventListener('abort', done);
        cancel();
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Moves time forward by ms, firing what falls due on the way (with a turn of the event loop after each). */
  async advance(ms: number): Promise<void> {
    const until = this.ms + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > until) break;
      this.timers.shift();
      this.ms = Math.max(this.ms, next.at);
      next.fn();
      await new Promise((r) => setImmediate(r));
    }
    this.ms = until;
  }

  /** When the earliest timer is due (null: none armed). */
  nextTimer(): number | null {
    return this.timers.length ? Math.min(...this.timers.map((t) => t.at)) : null;
  }
}

import type { EtcdHandle } from '../store/etcd.js';
import { ClockStore, type ClockRecord } from '../store/clock-store.js';
import { K } from '../store/keys.js';
import { watchPrefix, type PrefixWatch } from '../store/watch.js';
import type { NodeSession } from '../store/session.js';
import { clockBounds, clockOffsetMs, midpoint, surelySkewed, type ClockBounds } from '../domain/clock-skew.js';
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { survive } from '../lib/survive.js';

/** The node's parts the check works with (the agent's own). */
export interface ClockCheckParts {
  h: EtcdHandle;
  session: NodeSession;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
}

export interface ClockCheckOptions {
  /** How often this node publishes its reading. */
  everyMs: number;
  /** Off by more than this from the cluster's median: skewed. */
  maxSkewMs: number;
  /** Told when it becomes skewed or comes back. */
  changed?: (skewed: boolean) => void;
}

/**
 * This node's clock against the others' (domain/clock-skew.ts). Each node publishes its clock
 * every `everyMs` under its lease, with how late each other node's last reading reached it, and
 * watches the others'. A reading arrives some milliseconds after it was taken, seconds when a
 * node's writes or watch lag under load; a pair of readings, one each way, bounds the difference
 * of two clocks whatever the delays (clockBounds), and only a difference beyond the threshold
 * within those bounds counts. A node of an older version publishes no `seen`: its readings are
 * corrected by this node's own lag (measured on its readings coming back), as before. Skewed
 * (surely off by more than `maxSkewMs`, twice in a row): the agent claims nothing, the node says
 * so in its record (/api/v1/nodes, `rota nodes ls`, the dashboard) and in /metrics, until it is
 * back within the threshold.
 */
export class ClockCheck {
  private readonly store: ClockStore;
  private readonly others = new Map<string, { bounds: ClockBounds; atMs: number }>();
  /** How late each other node's last reading arrived (my clock at arrival - its reading). */
  private readonly late = new Map<string, number>();
  private lagMs = 0;
  private over = 0;
  private timer: NodeJS.Timeout | null = null;
  private watch: PrefixWatch | null = null;
  offsetMs: number | null = null;
  skewed = false;

  constructor(
    private readonly p: ClockCheckParts,
    private readonly opts: ClockCheckOptions,
  ) {
    this.store = new ClockStore(p.h);
  }

  private get me(): string {
    return this.p.session.node.id;
  }

  async start(): Promise<void> {
    this.watch = await watchPrefix(
      this.p.h,
      K.clocks,
      {
        // A listing holds readings written up to `everyMs` ago: only fresh ones (watch events) count.
        reset: () => undefined,
        event: (ev) => {
          if (ev.type === 'put') this.seen(ev.value);
          else this.forget(decodeURIComponent(ev.key.slice(K.clocks.length)));
        },
      },
      this.p.log,
    );
    await survive(this.publish(), this.p.log, 'clock.publish', 'publishing the clock reading failed', this.p.metrics.survived);
    this.timer = setInterval(() => void survive(this.publish(), this.p.log, 'clock.publish', 'publishing the clock reading failed', this.p.metrics.survived), this.opts.everyMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.watch?.close();
  }

  private seen(value: string): void {
    let r: ClockRecord;
    try {
      r = JSON.parse(value) as ClockRecord;
    } catch {
      return;
    }
    const now = this.p.clock.now();
    if (r.node === this.me) {
      // Our own reading back: how late the stream delivers.
      this.lagMs = Math.max(0, now - r.ms);
      return;
    }
    const mineLate = now - r.ms;
    this.late.set(r.node, mineLate);
    const theirsLate = r.seen?.[this.me];
    const estimate = r.ms - (now - this.lagMs);
    const bounds = theirsLate !== undefined ? clockBounds(mineLate, theirsLate) : { loMs: estimate, hiMs: estimate };
    // Bounds that contradict each other: one of the two clocks stepped between the two readings
    // (NTP corrected it); no judgement on this pair until the next readings.
    if (bounds.loMs > bounds.hiMs) this.others.delete(r.node);
    else this.others.set(r.node, { bounds, atMs: now });
  }

  private forget(node: string): void {
    this.others.delete(node);
    this.late.delete(node);
  }

  private assess(): void {
    const now = this.p.clock.now();
    for (const [node, o] of this.others) if (now - o.atMs > 3 * this.opts.everyMs) this.forget(node);
    const bounds = [...this.others.values()].map((o) => o.bounds);
    this.offsetMs = clockOffsetMs(bounds.map(midpoint));
    this.over = surelySkewed(bounds, this.opts.maxSkewMs) ? this.over + 1 : 0;
    const skewed = this.over >= 2;
    if (skewed !== this.skewed) {
      if (skewed) this.p.log.error({ offsetMs: this.offsetMs, maxSkewMs: this.opts.maxSkewMs }, "this node's clock is off from the others': it claims nothing until it is back (run chrony or NTP)");
      else this.p.log.warn({ offsetMs: this.offsetMs }, "this node's clock is back within the threshold: claiming again");
      // The membership record says so: the leader places nothing here and moves what it assigned.
      void survive(this.p.session.update({ clockSkewed: skewed }), this.p.log, 'clock.record', 'noting the clock skew in the membership record failed', this.p.metrics.survived);
      this.opts.changed?.(skewed);
    }
    this.skewed = skewed;
    this.p.metrics.clock(this.offsetMs, skewed);
  }

  private async publish(): Promise<void> {
    this.assess();
    await this.store.publish(this.p.session.leaseNumeric, { node: this.me, ms: this.p.clock.now(), offsetMs: this.offsetMs, skewed: this.skewed, seen: Object.fromEntries(this.late) });
  }
}

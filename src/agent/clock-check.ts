import type { EtcdHandle } from '../store/etcd.js';
import { ClockStore, type ClockRecord } from '../store/clock-store.js';
import { K } from '../store/keys.js';
import { watchPrefix, type PrefixWatch } from '../store/watch.js';
import type { NodeSession } from '../store/session.js';
import { clockOffsetMs, clockSkewed } from '../domain/clock-skew.js';
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
 * every `everyMs` under its lease and watches the others'. A reading arrives some milliseconds
 * after it was written, later when the watch stream lags under load: the node measures that lag
 * on its own readings coming back and takes it off the others', so a slow stream is not taken
 * for a clock that is off. Skewed (off by more than `maxSkewMs` twice in a row): the agent claims
 * nothing, the node says so in its record (/api/v1/nodes, `rota nodes ls`, the dashboard) and
 * in /metrics, until it is back within the threshold.
 */
export class ClockCheck {
  private readonly store: ClockStore;
  private readonly others = new Map<string, { diffMs: number; atMs: number }>();
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
          else this.others.delete(decodeURIComponent(ev.key.slice(K.clocks.length)));
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
    this.others.set(r.node, { diffMs: r.ms - (now - this.lagMs), atMs: now });
  }

  private assess(): void {
    const now = this.p.clock.now();
    for (const [node, o] of this.others) if (now - o.atMs > 3 * this.opts.everyMs) this.others.delete(node);
    this.offsetMs = clockOffsetMs([...this.others.values()].map((o) => o.diffMs));
    this.over = clockSkewed(this.offsetMs, this.opts.maxSkewMs) ? this.over + 1 : 0;
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
    await this.store.publish(this.p.session.leaseNumeric, { node: this.me, ms: this.p.clock.now(), offsetMs: this.offsetMs, skewed: this.skewed });
  }
}

import type { EtcdHandle } from './etcd.js';
import { K } from './keys.js';
import { listPrefix } from './watch.js';

/** A node's clock as it publishes it: its reading, and how far it finds itself from the cluster's median. */
export interface ClockRecord {
  node: string;
  /** The node's clock when it wrote this (epoch ms). */
  ms: number;
  /** Its clock minus the median of all clocks (ms); null when fewer than three nodes publish. */
  offsetMs: number | null;
  /** Off by more than the threshold: it claims nothing until it is back. */
  skewed: boolean;
  /** By node id: how late (by this node's clock) that node's last reading arrived here; the other end of each pair's bounds (domain/clock-skew.ts clockBounds). */
  seen?: Record<string, number>;
}

/** clocks/{node}: each node's clock reading, written every few seconds under its lease. */
export class ClockStore {
  constructor(private readonly h: EtcdHandle) {}

  async publish(leaseNumeric: string, r: ClockRecord): Promise<void> {
    await this.h.ns.put(K.clock(r.node)).value(JSON.stringify(r)).lease(leaseNumeric).exec();
  }

  /** Every live node's last record, by node id. */
  async all(): Promise<Map<string, ClockRecord>> {
    const { kvs } = await listPrefix(this.h, K.clocks);
    const out = new Map<string, ClockRecord>();
    for (const kv of kvs) {
      try {
        const r = JSON.parse(kv.value) as ClockRecord;
        out.set(r.node, r);
      } catch {
        // a record this version cannot read: left out of the view
      }
    }
    return out;
  }
}

import { EventEmitter } from 'node:events';
import type { Lease } from 'etcd3';
import type { EtcdHandle } from './etcd.js';
import { K } from './keys.js';
import type { Logger } from '../log.js';
import type { Clock } from '../domain/clock.js';

export interface NodeRecord {
  id: string;
  address: string;
  ip: string;
  hostname: string;
  attributes: Record<string, string>;
  capacity: number;
  /** cpu and memory (MB) it offers to firings that request them (placement.requests). */
  resources?: { cpu: number; memMb: number };
  /** Container runtimes that work on it (docker, podman). */
  runtimes?: string[];
  state: 'active' | 'draining';
  version: string;
  startedMs: number;
  lease: string;
}

/**
 * One incarnation of a node: an etcd lease (TTL ttlSec) that holds its membership record
 * and its election key. The local deadline is the send time of the last acknowledged
 * keepalive + TTL - marginMs: etcd3 1.1.2 reports a lost lease only after ~2xTTL, so
 * anything that must not outlive the lease checks `alive()` instead.
 */
export class NodeSession extends EventEmitter {
  private lease!: Lease;
  leaseId = '';
  private lastFiredMs = 0;
  private ackedSendMs = 0;
  private lostFlag = false;
  private record: NodeRecord | undefined;

  constructor(
    private readonly h: EtcdHandle,
    private readonly clock: Clock,
    private readonly ttlSec: number,
    private readonly log: Logger,
    private readonly marginMs = 1000,
  ) {
    super();
  }

  async start(record: Omit<NodeRecord, 'lease'>): Promise<void> {
    this.lease = this.h.ns.lease(this.ttlSec, { autoKeepAlive: true });
    const sentMs = this.clock.now();
    const id = await this.lease.grant();
    this.leaseId = BigInt(id).toString(16);
    this.ackedSendMs = sentMs;
    this.lease.on('keepaliveFired', () => {
      this.lastFiredMs = this.clock.now();
    });
    this.lease.on('keepaliveSucceeded', () => {
      this.ackedSendMs = this.lastFiredMs || this.clock.now();
    });
    this.lease.on('lost', (err: Error) => this.markLost(err.message));
    const full = { ...record, lease: this.leaseId };
    await this.lease.put(K.node(record.id)).value(JSON.stringify(full));
    this.record = full;
  }

  get leaseNumeric(): string {
    return BigInt('0x' + this.leaseId).toString();
  }

  /** The lease's expiry as this node must assume it (never later than etcd's). */
  deadlineMs(): number {
    return this.ackedSendMs + this.ttlSec * 1000 - this.marginMs;
  }

  alive(): boolean {
    if (this.lostFlag || !this.leaseId) return false; // lost, or not granted yet
    if (!this.record) return false;
    if (this.clock.now() > this.deadlineMs()) {
      this.markLost('keepalive deadline passed');
      return false;
    }
    return true;
  }

  /** The membership record (only after start()). */
  get node(): NodeRecord {
    if (!this.record) throw new Error('node session not started');
    return this.record;
  }

  get started(): boolean {
    return !!this.record;
  }

  async update(patch: Partial<Omit<NodeRecord, 'id' | 'lease'>>): Promise<void> {
    if (!this.record) return;
    this.record = { ...this.record, ...patch };
    await this.lease.put(K.node(this.record.id)).value(JSON.stringify(this.record));
  }

  private markLost(reason: string): void {
    if (this.lostFlag) return;
    this.lostFlag = true;
    this.log.error({ lease: this.leaseId, reason }, 'node lease lost');
    // Given up locally (a stalled event loop, keepalives answered late) is not necessarily
    // expired in etcd: revoke it, or the election key it holds would block every other
    // candidate for as long as the old keepalives go on. If etcd cannot be reached, stop
    // the keepalives and let it expire.
    this.lease.revoke().catch(() => this.lease.release());
    this.emit('lost', reason);
  }

  /** Graceful end: revoke the lease, removing membership and election keys at once. */
  async close(): Promise<void> {
    this.lostFlag = true;
    try {
      await this.lease.revoke();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'lease revoke failed');
    }
  }
}

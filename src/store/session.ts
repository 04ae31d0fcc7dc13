import { EventEmitter } from 'node:events';
import type { Lease } from 'etcd3';
import { requireLeader, type EtcdHandle } from './etcd.js';
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
  /** `ip:port` addresses qschedule's clients know this node's workers by (config node.workerAddresses). */
  workerAddresses?: string[];
  state: 'active' | 'draining';
  version: string;
  /** Its clock is off from the others' (agent/clock-check.ts): the leader gives it no work, and it claims none. */
  clockSkewed?: boolean;
  /** Firing protocol it speaks: 2 claims planned firings as a candidate (domain/candidates.ts); absent: 1, assignments only. */
  protocol?: number;
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
  private backupTimer: NodeJS.Timeout | null = null;
  private backingUp = false;

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
    this.backupTimer = setInterval(() => void this.backupKeepalive(), Math.max(200, (this.ttlSec * 1000) / 10));
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

  /**
   * The keepalive stream stays on the etcd member it opened on. A member cut off from the others
   * but still reachable takes the keepalives and never answers, and the client reopens the stream
   * only after a whole TTL of silence (maybe on the same member): the local deadline passes first
   * and the node gives up a lease the quorum would have renewed. So when a keepalive round goes
   * unanswered, one keepalive is sent on a new stream (the client picks a member at random),
   * a few times with a short deadline, before the local deadline.
   */
  private async backupKeepalive(): Promise<void> {
    if (this.lostFlag || this.backingUp || !this.leaseId) return;
    const roundMs = (this.ttlSec * 1000) / 3;
    if (this.clock.now() - this.ackedSendMs < roundMs + 300) return; // the stream answers
    this.backingUp = true;
    try {
      // Each try opens a stream on a member picked at random: with one member of three cut off,
      // three tries all land on it once in 27 times; they go on until the local deadline.
      while (!this.lostFlag && this.clock.now() < this.deadlineMs() - 200) {
        const sentMs = this.clock.now();
        const silentMs = sentMs - this.ackedSendMs;
        try {
          // Leader required: a member cut off from the quorum refuses the stream at once
          // instead of taking the keepalive and never answering, and the next try goes elsewhere.
          await this.lease.keepaliveOnce({ deadline: new Date(Date.now() + 600), interceptors: [requireLeader] });
          if (sentMs > this.ackedSendMs) this.ackedSendMs = sentMs;
          this.log.warn({ lease: this.leaseId, silentMs }, 'keepalive stream unanswered: lease renewed on another stream');
          return;
        } catch (err) {
          this.log.debug({ lease: this.leaseId, err: (err as Error).message }, 'backup keepalive failed');
        }
      }
    } finally {
      this.backingUp = false;
    }
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
    if (this.backupTimer) clearInterval(this.backupTimer);
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
    if (this.backupTimer) clearInterval(this.backupTimer);
    try {
      await this.lease.revoke();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'lease revoke failed');
    }
  }
}

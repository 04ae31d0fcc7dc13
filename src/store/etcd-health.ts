import type { EtcdHandle } from './etcd.js';
import { storeFault, type StoreFault } from './errors.js';

/** etcd as a node sees it: whether it answers (a raft round trip: quorum included) and which alarms are raised. */
export interface EtcdState {
  reachable: boolean;
  /** Raised alarms: NOSPACE (writes refused until disarmed), CORRUPT. */
  alarms: string[];
  /** Why it is not reachable, when it is not. */
  fault?: StoreFault;
  checkedMs: number;
}

const ALARM_NAMES: Record<number, string> = { 1: 'NOSPACE', 2: 'CORRUPT' };

/**
 * Asks etcd for its alarms (a request that goes through raft, so it answers only with a quorum)
 * at most once per `maxAgeMs`, with a short deadline: /readyz and /metrics read the answer, so a
 * load balancer's health checks cost etcd one request a second per node at most.
 */
export class EtcdHealth {
  private last: EtcdState | null = null;
  private pending: Promise<EtcdState> | null = null;

  constructor(
    private readonly h: EtcdHandle,
    private readonly now: () => number,
    private readonly maxAgeMs = 1_000,
    private readonly timeoutMs = 1_000,
  ) {}

  /** The last answer, if there was one. */
  get known(): EtcdState | null {
    return this.last;
  }

  async check(): Promise<EtcdState> {
    if (this.last && this.now() - this.last.checkedMs < this.maxAgeMs) return this.last;
    this.pending ??= this.ask().finally(() => (this.pending = null));
    return this.pending;
  }

  private async ask(): Promise<EtcdState> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const r = await Promise.race([
        this.h.client.maintenance.alarm({ action: 'Get', memberID: 0, alarm: 'None' }),
        new Promise<never>((_, fail) => (timer = setTimeout(() => fail(Object.assign(new Error('etcdserver: request timed out (no answer within the health check deadline)'))), this.timeoutMs))),
      ]);
      // The client names them as its enum does ('Nospace'): upper case, as etcdctl prints them.
      const alarms = [...new Set((r.alarms ?? []).map((a) => (typeof a.alarm === 'number' ? ALARM_NAMES[a.alarm] ?? String(a.alarm) : String(a.alarm)).toUpperCase()))].filter((a) => a !== 'NONE');
      this.last = { reachable: true, alarms, checkedMs: this.now() };
    } catch (err) {
      this.last = { reachable: false, alarms: this.last?.alarms ?? [], fault: storeFault(err) ?? 'unavailable', checkedMs: this.now() };
    } finally {
      clearTimeout(timer);
    }
    return this.last;
  }
}

import type { EtcdState } from './store/etcd-health.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Firing } from './domain/firing.js';
import type { Run } from './domain/task.js';

/** Values read at scrape time from the parts that own them. */
export interface MetricSources {
  isLeader(): boolean;
  inflight(): number;
  nodes(): Promise<{ total: number; draining: number }>;
  replicas(): { desired: number; running: number; backoff: number } | null;
  watchReconnects(): number;
  /** Outcomes in the node's journal, waiting for etcd to take them. */
  outcomesPending?(): number;
  /** etcd as this node last found it (the last answer of a check made at most ~1 s ago; null before the first). Never waits on etcd. */
  etcd?(): EtcdState | null;
}

/**
 * The node's Prometheus series (docs/metrics.md). Every node serves its own at GET /metrics;
 * the leader's planner series move only on the leader.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly firings = new Counter({ name: 'rota_firings_planned_total', help: 'Firings written by the leader, by trigger', labelNames: ['trigger'], registers: [this.registry] });
  private readonly skipped = new Counter({ name: 'rota_firings_skipped_total', help: 'Firings decided not to run, by reason', labelNames: ['reason'], registers: [this.registry] });
  private readonly conflicts = new Counter({ name: 'rota_plan_conflicts_total', help: 'Planned firings whose create-if-absent transaction found the firing or a newer cursor already there (duplicates suppressed)', registers: [this.registry] });
  private readonly lateness = new Histogram({
    name: 'rota_firing_lateness_seconds',
    help: 'Scheduled time to the moment the node started the run',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly finished = new Counter({ name: 'rota_runs_finished_total', help: 'Runs ended on this node, by final state', labelNames: ['state'], registers: [this.registry] });
  private readonly retries = new Counter({ name: 'rota_retries_total', help: 'Attempts scheduled again (failure or lost run)', registers: [this.registry] });
  private readonly lostRuns = new Counter({ name: 'rota_runs_lost_total', help: 'Runs marked lost because their node vanished', registers: [this.registry] });
  private readonly leaderChanges = new Counter({ name: 'rota_leader_elected_total', help: 'Times this node became leader', registers: [this.registry] });
  private readonly txn = new Histogram({ name: 'rota_etcd_txn_seconds', help: 'Duration of the leader\'s firing transactions', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5], registers: [this.registry] });
  private readonly silentNodes = new Counter({ name: 'rota_nodes_silent_total', help: 'Times the leader found a node that had claimed nothing within the claim deadline, 1-4 s (no new work for it, its unclaimed firings moved)', registers: [this.registry] });
  private readonly alerts = new Counter({ name: 'rota_alerts_total', help: 'Failure alerts raised (a task failed policies.alertAfterFailures times in a row), by this node', registers: [this.registry] });
  private readonly candidateClaims = new Counter({ name: 'rota_candidate_claims_total', help: 'Planned firings this node claimed as a candidate, by its rank (0: the first candidate; higher: it took over from the ones before it)', labelNames: ['rank'], registers: [this.registry] });
  private readonly backstops = new Counter({ name: 'rota_planned_backstops_total', help: 'Planned firings no candidate claimed in its turn, looked at by the leader: placed (written for the leader to place), ran (claimed after all), dropped (its task changed, was paused or deleted)', labelNames: ['outcome'], registers: [this.registry] });
  private readonly journalled = new Counter({ name: 'rota_outcomes_journalled_total', help: 'Outcomes etcd did not take when the run ended, kept in the node\'s outcome journal and committed when it took writes again', registers: [this.registry] });
  private readonly survivedErrors = new Counter({ name: 'rota_errors_survived_total', help: 'Failures a node went on after (a clean-up, a best-effort delete, a stop on the way out), each also logged at warn, by where', labelNames: ['where'], registers: [this.registry] });
  private readonly clockOffset = new Gauge({ name: 'rota_clock_offset_seconds', help: "This node's clock minus the median of the cluster's clocks (absent with fewer than three nodes)", registers: [this.registry] });
  private readonly clockSkew = new Gauge({ name: 'rota_clock_skewed', help: "1 while this node's clock is off from the others' by more than node.maxClockSkewMs: it claims nothing meanwhile", registers: [this.registry] });
  private readonly webhookDrops = new Counter({ name: 'rota_webhook_dropped_total', help: 'Webhook deliveries (task callbacks, failure alerts) that will not happen, by why: queue-full (the oldest waiting one dropped), given-up (every attempt failed), refused (a 4xx), and by kind', labelNames: ['why', 'kind'], registers: [this.registry] });
  private readonly leaseLosses = new Counter({ name: 'rota_lease_lost_total', help: "Times this node's lease was lost (expired under load, etcd unreachable): its work stopped and a new incarnation started", registers: [this.registry] });
  private readonly buildInfo = new Gauge({ name: 'rota_build_info', help: 'Always 1: the version this node runs, and the firing protocol it speaks', labelNames: ['version', 'protocol'], registers: [this.registry] });
  private readonly etcdErrors = new Counter({ name: 'rota_etcd_errors_total', help: 'etcd requests that failed, by part', labelNames: ['part'], registers: [this.registry] });
  private sources: MetricSources | null = null;
  /** Recent lateness samples, for /api/v1/cluster and the benchmarks. */
  private recent: number[] = [];

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'rota_' });
    const m = this;
    new Gauge({ name: 'rota_is_leader', help: '1 while this node leads', registers: [this.registry], collect() { this.set(m.sources?.isLeader() ? 1 : 0); } });
    new Gauge({ name: 'rota_inflight_runs', help: 'Runs in flight on this node', registers: [this.registry], collect() { this.set(m.sources?.inflight() ?? 0); } });
    new Gauge({
      name: 'rota_etcd_reachable',
      help: '1 while etcd answers this node (a quorum included), 0 when it does not',
      registers: [this.registry],
      collect() {
        const s = m.sources?.etcd?.();
        if (s) this.set(s.reachable ? 1 : 0);
      },
    });
    new Gauge({
      name: 'rota_etcd_alarm',
      help: 'etcd alarms raised (1) as this node last read them: NOSPACE (writes refused until an operator compacts, defragments and disarms), CORRUPT',
      labelNames: ['alarm'],
      registers: [this.registry],
      collect() {
        const s = m.sources?.etcd?.();
        if (!s) return;
        for (const a of new Set(['NOSPACE', 'CORRUPT', ...s.alarms])) this.set({ alarm: a }, s.alarms.includes(a) ? 1 : 0);
      },
    });
    new Gauge({ name: 'rota_outcomes_pending', help: 'Outcomes in this node\'s journal that etcd has not taken yet (committed when it takes writes again)', registers: [this.registry], collect() { this.set(m.sources?.outcomesPending?.() ?? 0); } });
    new Gauge({ name: 'rota_watch_reconnects', help: 'Watch streams this node re-established or re-listed', registers: [this.registry], collect() { this.set(m.sources?.watchReconnects() ?? 0); } });
    new Gauge({
      name: 'rota_nodes',
      help: 'Live nodes in the cluster, and how many are draining',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        const n = await m.sources?.nodes().catch(() => null);
        if (!n) return;
        this.set({ state: 'active' }, n.total - n.draining);
        this.set({ state: 'draining' }, n.draining);
      },
    });
    new Gauge({
      name: 'rota_daemon_replicas',
      help: 'Daemon replicas: desired, running, backing off (reported by the leader)',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const r = m.sources?.replicas();
        for (const s of ['desired', 'running', 'backoff'] as const) this.set({ state: s }, r ? r[s] : 0);
      },
    });
  }

  bind(sources: MetricSources): void {
    this.sources = sources;
  }

  candidateClaim(rank: number): void {
    this.candidateClaims.inc({ rank: String(rank) });
  }
  backstop(outcome: 'placed' | 'ran' | 'dropped', n = 1): void {
    if (n > 0) this.backstops.inc({ outcome }, n);
  }
  planned(firings: Pick<Firing, 'trigger'>[], skipped: Run[]): void {
    for (const f of firings) this.firings.inc({ trigger: f.trigger });
    for (const r of skipped) this.skipped.inc({ reason: /overlap/.test(r.message ?? '') ? 'overlap' : 'misfire' });
  }
  planConflict(n: number): void {
    this.conflicts.inc(n);
  }
  lost(): void {
    this.lostRuns.inc();
  }
  silentNode(): void {
    this.silentNodes.inc();
  }
  alerted(): void {
    this.alerts.inc();
  }
  retried(): void {
    this.retries.inc();
  }
  elected(): void {
    this.leaderChanges.inc();
  }
  etcdTxn(ms: number): void {
    this.txn.observe(ms / 1000);
  }
  outcomesJournalled(): void {
    this.journalled.inc();
  }
  /** A failure survived at `where` (lib/survive.ts). */
  readonly survived = (where: string): void => {
    this.survivedErrors.inc({ where });
  };
  clock(offsetMs: number | null, skewed: boolean): void {
    if (offsetMs === null) this.clockOffset.reset();
    else this.clockOffset.set(offsetMs / 1000);
    this.clockSkew.set(skewed ? 1 : 0);
  }
  readonly webhookDropped = (why: string, what: string): void => {
    this.webhookDrops.inc({ why, kind: what.startsWith('alert') ? 'alert' : 'callback' });
  };
  leaseLost(): void {
    this.leaseLosses.inc();
  }
  build(version: string, protocol: number): void {
    this.buildInfo.set({ version, protocol: String(protocol) }, 1);
  }
  etcdError(part: string): void {
    this.etcdErrors.inc({ part });
  }
  runEnded(state: string): void {
    this.finished.inc({ state });
  }
  started(latenessMs: number): void {
    this.lateness.observe(Math.max(0, latenessMs) / 1000);
    if (this.recent.length >= 1000) this.recent.shift();
    this.recent.push(latenessMs);
  }

  /** p50/p99 of the last 1,000 starts on this node (ms). */
  recentLateness(): { p50: number | null; p99: number | null; samples: number } {
    const s = [...this.recent].sort((a, b) => a - b);
    const at = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : null);
    return { p50: at(0.5), p99: at(0.99), samples: s.length };
  }

  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  async snapshot(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = { lateness: this.recentLateness() };
    for (const m of await this.registry.getMetricsAsJSON()) {
      if (!m.name.startsWith('rota_') || m.name.startsWith('rota_process_') || m.name.startsWith('rota_nodejs_') || String(m.type) === 'histogram') continue;
      const values = m.values.map((v) => (Object.keys(v.labels).length ? { ...v.labels, value: v.value } : v.value));
      out[m.name] = values.length === 1 ? values[0] : values;
    }
    return out;
  }
}

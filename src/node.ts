import { createServer, type Server } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';
import { resolve } from 'node:path';
import { connectEtcd, probeEtcd, probeTxnLimit, WANTED_TXN_OPS, type EtcdHandle } from './store/etcd.js';
import { startEtcdProcess, type EtcdProcess } from './store/etcd-process.js';
import { NodeSession, type NodeRecord } from './store/session.js';
import { campaign, currentLeader, type Leadership } from './store/election.js';
import { listPrefix, watchPrefix, watchReconnects, type PrefixWatch } from './store/watch.js';
import { K } from './store/keys.js';
import { Agent } from './agent/agent.js';
import { Leader } from './scheduler/leader.js';
import { sweep } from './scheduler/janitor.js';
import { TaskService } from './service/task-service.js';
import { ClusterService } from './service/cluster-service.js';
import { ReplicaService } from './service/replica-service.js';
import { RunOutputService } from './service/run-output.js';
import { createApp } from './api/app.js';
import { AlertService } from './service/alert-service.js';
import { CallbackService } from './service/callback-service.js';
import { WebhookSender } from './lib/webhook.js';
import { detectRuntimes } from './runner/container.js';
import { OutcomeJournal } from './agent/outcome-journal.js';
import { EtcdHealth } from './store/etcd-health.js';
import { FAULT_MESSAGES } from './store/errors.js';
import { survive } from './lib/survive.js';
import { juiceCallbackBody } from './api/compat/juice/status.js';
import { NodeFirings } from './store/node-firings.js';
import { TaskStore } from './store/task-store.js';
import { ClockStore } from './store/clock-store.js';
import { EventStore } from './store/event-store.js';
import { RunStore } from './store/run-store.js';
import type { Run, Task } from './domain/task.js';
import { effectiveTokens, etcdSecurity, type Config } from './config.js';
import { systemClock, type Clock } from './domain/clock.js';
import { Metrics } from './metrics.js';
import type { Logger } from './log.js';

export const VERSION = '0.1.0';

function primaryIp(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** How long a node with journalled outcomes waits for them to commit before it stands for leader. */
const JOURNAL_FIRST_MS = 10_000;

/**
 * One Rota node: the API, an agent that runs what it is assigned, and a candidate for
 * leadership. A single node is a cluster of one and takes exactly the same path.
 */
export class RotaNode {
  private etcdProc: EtcdProcess | null = null;
  h!: EtcdHandle;
  session!: NodeSession;
  private hLease!: EtcdHandle;
  private reincarnating: Promise<void> | null = null;
  agent!: Agent;
  service!: TaskService;
  private alerts!: AlertService;
  /** Outcomes etcd did not take yet, across incarnations (agent/outcome-journal.ts). */
  private journal: OutcomeJournal | null = null;
  private etcdHealth!: EtcdHealth;
  private webhooks!: WebhookSender;
  private callbacks!: CallbackService;
  clusterService!: ClusterService;
  replicaService!: ReplicaService;
  private drainWatch: PrefixWatch | null = null;
  private drained = false;
  /** Container runtimes that work here (asked once at start), the first one used for runs. */
  private runtimes: { name: string; file: string }[] = [];
  readonly metrics = new Metrics();
  private server: Server | null = null;
  private leadership: Leadership | null = null;
  private leader: Leader | null = null;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private campaignAbort = new AbortController();
  leaderChanges = 0;

  constructor(
    readonly cfg: Config,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  get address(): string {
    return this.cfg.advertise ?? `${this.cfg.listen.host}:${(this.server?.address() as { port: number } | null)?.port ?? this.cfg.listen.port}`;
  }

  async start(): Promise<void> {
    const tokens = effectiveTokens(this.cfg);
    const security = etcdSecurity(this.cfg.etcd);
    // The whole configuration, for support; log.ts redacts tokens and the etcd password.
    this.log.debug({ config: this.cfg }, 'configuration');
    let endpoints = this.cfg.etcd.endpoints;
    if (endpoints.length === 0) {
      const dataDir = resolve(this.cfg.dataDir, 'etcd');
      this.log.info({ dataDir, port: this.cfg.etcd.embedded.clientPort }, 'starting embedded etcd member');
      this.etcdProc = await startEtcdProcess({ dataDir, clientPort: this.cfg.etcd.embedded.clientPort, peerPort: this.cfg.etcd.embedded.peerPort, name: 'rota-embedded' });
      endpoints = [this.etcdProc.endpoint];
    }
    this.h = connectEtcd({ endpoints, prefix: this.cfg.etcd.prefix, ...security });
    // The lease keepalives get a connection of their own: under load the shared one carries
    // thousands of watch events and transactions, and a keepalive queued behind them loses the lease.
    this.hLease = connectEtcd({ endpoints, prefix: this.cfg.etcd.prefix, ...security });
    await probeEtcd(this.h, endpoints, { auth: !!security.auth, tls: !!security.credentials });
    this.h.maxTxnOps = await probeTxnLimit(this.h);
    if (this.h.maxTxnOps < WANTED_TXN_OPS) this.log.warn({ maxTxnOps: this.h.maxTxnOps }, `etcd takes ${this.h.maxTxnOps} operations per transaction: start its members with --max-txn-ops ${WANTED_TXN_OPS} to batch writes in fewer proposals`);
    this.service = new TaskService(this.h, this.clock, { allowedUsers: this.cfg.runAs.allowed, maxReplicas: this.cfg.api.maxReplicas }, this.log);
    this.clusterService = new ClusterService(this.h, this.cfg.auth.operators);
    this.etcdHealth = new EtcdHealth(this.h, () => this.clock.now());
    this.metrics.build(VERSION, this.cfg.scheduler.candidates ? 2 : 1);
    this.metrics.bind({
      isLeader: () => !!this.leadership,
      inflight: () => this.agent?.inflight().length ?? 0,
      outcomesPending: () => this.journal?.size ?? 0,
      // /metrics never waits on etcd: the last answer, and a fresh check for the next scrape.
      etcd: () => {
        void this.etcdHealth.check();
        return this.etcdHealth.known;
      },
      nodes: async () => {
        const ns = await this.clusterService.nodes.list();
        return { total: ns.length, draining: ns.filter((n) => n.state === 'draining').length };
      },
      replicas: () => this.leader?.replicaCounts() ?? null,
      watchReconnects,
    });
    this.webhooks = new WebhookSender(this.clock, this.log, undefined, this.metrics.webhookDropped);
    this.alerts = new AlertService(this.h, this.clock, this.log, { ...(this.cfg.alerts.webhookUrl ? { webhookUrl: this.cfg.alerts.webhookUrl } : {}), webhook: this.webhooks, counted: () => this.metrics.alerted() });
    this.callbacks = new CallbackService(this.h, this.clock, this.log, this.webhooks, { juice: juiceCallbackBody });
    this.replicaService = new ReplicaService(this.h, this.service, { nodeId: () => this.cfg.node.id, dataDir: resolve(this.cfg.dataDir) });

    const app = createApp({
      service: this.service,
      clusterOps: this.clusterService,
      replicas: this.replicaService,
      output: new RunOutputService(this.h, this.service, { nodeId: () => this.cfg.node.id, dataDir: resolve(this.cfg.dataDir) }),
      tokens,
      log: this.log,
      maxBodyBytes: this.cfg.api.maxBodyBytes,
      juice: this.cfg.juice,
      health: async () => ({ ok: true, detail: { node: this.cfg.node.id, version: VERSION } }),
      // Not ready: no live lease, draining, or etcd not answering (the detail says which). A
      // NOSPACE alarm is shown but keeps the node in: reads still work, writes answer 503.
      ready: async () => {
        const alive = !!this.session && this.session.alive() && !this.stopping;
        const draining = this.drained || this.stopping;
        const etcd = await this.etcdHealth.check();
        const etcdDetail = { reachable: etcd.reachable, alarms: etcd.alarms, ...(etcd.reachable ? {} : { why: FAULT_MESSAGES[etcd.fault ?? 'unavailable'] }) };
        return { ok: alive && !draining && etcd.reachable, detail: { node: this.cfg.node.id, lease: alive, draining, leader: !!this.leadership, etcd: etcdDetail } };
      },
      cluster: () => this.clusterInfo(),
      nodes: () => this.nodes(),
      metrics: () => this.metrics.exposition(),
    });
    this.server = createServer(app.callback());
    await new Promise<void>((ok, fail) => {
      this.server!.once('error', fail);
      this.server!.listen(this.cfg.listen.port, this.cfg.listen.host, () => ok());
    });
    this.drained = await this.clusterService.nodes.isDrained(this.cfg.node.id);
    const detected = await detectRuntimes();
    this.runtimes = this.cfg.node.runtimes ? detected.filter((r) => this.cfg.node.runtimes!.includes(r.name)) : detected;
    if (this.cfg.node.runtimes) for (const name of this.cfg.node.runtimes) if (!this.runtimes.some((r) => r.name === name)) this.log.warn({ runtime: name }, 'configured container runtime does not answer `info`: not advertised');
    await this.incarnate();
    this.drainWatch = await watchPrefix(
      this.h,
      K.drain(this.cfg.node.id),
      {
        reset: (kvs) => void this.applyDrain(kvs.some((kv) => kv.key === K.drain(this.cfg.node.id))),
        event: (ev) => {
          if (ev.key === K.drain(this.cfg.node.id)) void this.applyDrain(ev.type === 'put');
        },
      },
      this.log,
    );
    this.loop = this.leadershipLoop();
    this.log.info({ address: this.address, node: this.cfg.node.id, etcd: endpoints }, 'rota node started');
  }

  /** A new lease, membership record and agent: the node's next incarnation. */
  private async incarnate(): Promise<void> {
    // Outcomes that ended while etcd was away go in before this node's old lease can be found gone.
    await this.outcomeJournal().flushNow();
    const session = new NodeSession(this.hLease, this.clock, this.cfg.leaseTtlSec, this.log);
    this.session = session;
    // Registered before anything can fail or be lost, so no loss goes unnoticed.
    session.once('lost', () => this.onLeaseLost());
    const record: Omit<NodeRecord, 'lease'> = {
      id: this.cfg.node.id,
      address: this.address,
      ip: this.cfg.listen.host === '0.0.0.0' ? primaryIp() : this.cfg.listen.host,
      hostname: hostname(),
      attributes: this.cfg.node.attributes,
      capacity: this.cfg.node.capacity,
      resources: this.cfg.node.resources,
      runtimes: this.runtimes.map((r) => r.name),
      ...(this.cfg.node.workerAddresses?.length ? { workerAddresses: this.cfg.node.workerAddresses } : {}),
      state: this.drained || this.stopping ? 'draining' : 'active',
      version: VERSION,
      ...(this.cfg.scheduler.candidates ? { protocol: 2 } : {}),
      startedMs: this.clock.now(),
    };
    await this.session.start(record);
    this.agent = new Agent(this.h, this.session, this.clock, this.log, this.metrics, {
      journal: this.outcomeJournal(),
      maxClockSkewMs: this.cfg.node.maxClockSkewMs,
      clockSkewed: (skewed) => {
        if (skewed) void survive(this.leadership?.resign(), this.log, 'node.clock', 'resigning leadership for a clock that is off failed', this.metrics.survived);
      },
      dataDir: resolve(this.cfg.dataDir),
      outputCapBytes: this.cfg.runs.outputCapBytes,
      tailBytes: this.cfg.runs.tailBytes,
      killGraceMs: this.cfg.process.killGraceMs,
      allowedUsers: this.cfg.runAs.allowed,
      runsKeep: this.cfg.runs.keep,
      runsMaxAgeMs: this.cfg.runs.maxAgeMs,
      httpTimeoutMs: this.cfg.runs.httpTimeoutMs,
      runEnded: (task, run, retrying) => this.runEnded(task, run, retrying),
      runStarted: (task, run) => this.callbacks.runStarted(task, run),
      ...(this.cfg.scheduler.candidates ? { candidates: { stepMs: this.cfg.scheduler.claimStepMs, leadMs: this.cfg.scheduler.claimLeadMs, capacity: this.cfg.node.capacity } } : {}),
      ...(this.runtimes[0] ? { containerRuntime: this.runtimes[0].file } : {}),
    });
    this.agent.drain(this.drained || this.stopping);
    await this.agent.start();
  }

  /** What follows a committed outcome on this node: failure alerts and the task's callbacks. */
  private runEnded(task: Task | null, run: Run, retrying: boolean): void {
    this.alerts.runEnded(run);
    this.callbacks.runEnded(task, run, retrying);
  }

  /** The node's one outcome journal, started with its first incarnation (it reads what the last process left). */
  private outcomeJournal(): OutcomeJournal {
    if (!this.journal) {
      this.journal = new OutcomeJournal(resolve(this.cfg.dataDir), new NodeFirings(this.h), this.clock, this.log, this.metrics, (task, run, retrying) => {
        this.metrics.runEnded(run.state);
        this.runEnded(task, run, retrying);
      });
      this.journal.start();
    }
    return this.journal;
  }

  /**
   * The lease is gone (expired under load, or etcd unreachable): stop the agent's work and
   * start a new incarnation, again and again until one holds. A loss during the attempt is
   * caught by the loop's own check.
   */
  private onLeaseLost(): void {
    if (this.stopping || this.reincarnating) return;
    this.reincarnating = (async () => {
      this.log.warn('lease lost: starting a new incarnation');
      this.metrics.leaseLost();
      do {
        await Promise.race([survive(this.agent?.stop(0), this.log, 'node.reincarnate', 'stopping the old incarnation\'s agent failed', this.metrics.survived), this.clock.sleep(10_000)]);
        try {
          await this.incarnate();
        } catch (err) {
          this.log.error({ err: (err as Error).message }, 're-registering failed; retrying');
          await survive(this.session.close(), this.log, 'node.reincarnate', 'closing a half-made incarnation failed', this.metrics.survived); // half an incarnation is none
          await this.clock.sleep(1000);
        }
      } while (!this.stopping && !this.session.alive());
      this.log.info({ lease: this.session.leaseId }, 'new incarnation registered');
    })().finally(() => (this.reincarnating = null));
  }

  /**
   * Drain (API, qschedule worker-off) or undrain: the membership record says so (the leader
   * places nothing here and moves unclaimed assignments away), the agent claims nothing new,
   * and leadership is handed over at once rather than after a lease TTL.
   */
  private async applyDrain(on: boolean): Promise<void> {
    if (this.stopping ? !on : on === this.drained) return;
    this.drained = on;
    this.log.info({ draining: on }, on ? 'draining: taking no new work' : 'undrained: taking work again');
    this.agent.drain(on);
    try {
      await this.session.update({ state: on ? 'draining' : 'active' });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not update the membership record');
    }
    if (on) await survive(this.leadership?.resign(), this.log, 'node.drain', 'resigning leadership on drain failed (the others take over when the lease ends)', this.metrics.survived);
  }

  private async leadershipLoop(): Promise<void> {
    let journalWaitFrom: number | null = null;
    while (!this.stopping) {
      try {
        // A draining node, or one whose clock is off from the others' (it would decide misfires and backstops by the wrong time), does not stand.
        if (!this.session.alive() || this.session.node.state === 'draining' || this.session.node.clockSkewed) {
          journalWaitFrom = null; // the journal's turn is counted from when this node can write again
          await this.clock.sleep(500, this.campaignAbort.signal);
          continue;
        }
        // Outcomes this node journalled while etcd was away go in before it stands: as leader it
        // would otherwise find its own old lease gone and take those runs back as lost (and retry
        // them) first. At most JOURNAL_FIRST_MS: an outcome etcd keeps refusing does not keep it out.
        if (this.journal && this.journal.size > 0 && this.clock.now() - (journalWaitFrom ??= this.clock.now()) < JOURNAL_FIRST_MS) {
          await this.journal.flushNow().catch(() => undefined);
          if (this.journal.size > 0) await this.clock.sleep(250, this.campaignAbort.signal);
          continue;
        }
        journalWaitFrom = null;
        const l = await campaign(this.h, this.session, this.cfg.node.id, this.campaignAbort.signal, this.log, this.metrics.survived);
        if (!l) {
          await this.clock.sleep(200, this.campaignAbort.signal);
          continue;
        }
        if (this.stopping || this.drained) {
          await l.resign();
          continue;
        }
        this.leadership = l;
        this.leaderChanges++;
        this.metrics.elected();
        this.log.info({ fence: l.fence }, 'elected leader');
        const janitorStores = { runs: new RunStore(this.h), events: new EventStore(this.h), tasks: new TaskStore(this.h) };
        const runJanitor = () =>
          void sweep(janitorStores, { runsKeep: this.cfg.runs.keep, runsMaxAgeMs: this.cfg.runs.maxAgeMs, eventsKeep: this.cfg.events.keep, eventsMaxAgeMs: this.cfg.events.maxAgeMs }, this.clock, this.log).catch((err: Error) =>
            this.log.warn({ err: err.message }, 'janitor sweep failed'),
          );
        const firstSweep = setTimeout(runJanitor, 30_000);
        const janitor = setInterval(runJanitor, 10 * 60_000);
        try {
          this.leader = new Leader(this.h, this.session, l, this.clock, this.log, this.metrics, {
            writeAheadMs: this.cfg.scheduler.writeAheadMs,
            candidates: { enabled: this.cfg.scheduler.candidates, horizonMs: this.cfg.scheduler.horizonMs, strideMs: this.cfg.scheduler.strideMs, stepMs: this.cfg.scheduler.claimStepMs },
            runEnded: (run, retrying) => {
              this.alerts.runEnded(run);
              this.callbacks.runEnded(null, run, retrying);
            },
            journalled: (runId) => this.journal?.holds(runId) ?? false,
          });
          await this.leader.run();
        } finally {
          this.leader = null;
          clearTimeout(firstSweep);
          clearInterval(janitor);
          this.leadership = null;
        }
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'leadership loop error; retrying');
        await this.clock.sleep(1000, this.campaignAbort.signal);
      }
    }
  }

  async clusterInfo(): Promise<Record<string, unknown>> {
    const [leader, nodes, health] = await Promise.all([currentLeader(this.h), this.nodes(), this.etcdStatus()]);
    const leaderNode = leader ? nodes.find((n) => n.id === leader.nodeId) : undefined;
    return {
      leader: leader ? { id: leader.nodeId, address: leaderNode?.address ?? null, since: leader.createRevision } : null,
      self: { id: this.cfg.node.id, address: this.address, leader: !!this.leadership, lease: this.session?.leaseId ?? null },
      members: nodes,
      etcd: health,
      metrics: await this.metrics.snapshot(),
    };
  }

  /** The live nodes' membership records, each with its clock as it last published it (offset from the cluster's median, skewed). */
  async nodes(): Promise<(NodeRecord & { clock?: { offsetMs: number | null; skewed: boolean } })[]> {
    const [{ kvs }, clocks] = await Promise.all([listPrefix(this.h, K.nodes), new ClockStore(this.h).all()]);
    return kvs.map((kv) => {
      const n = JSON.parse(kv.value) as NodeRecord;
      const c = clocks.get(n.id);
      return c ? { ...n, clock: { offsetMs: c.offsetMs, skewed: c.skewed } } : n;
    });
  }

  private async etcdStatus(): Promise<Record<string, unknown>> {
    try {
      const [s, state] = await Promise.all([this.h.client.maintenance.status(), this.etcdHealth.check()]);
      return { healthy: true, version: s.version, dbSize: Number(s.dbSize), leader: s.leader, raftIndex: Number(s.raftIndex), alarms: state.alarms };
    } catch (err) {
      return { healthy: false, error: (err as Error).message };
    }
  }

  /** Graceful: stop taking work, finish in-flight runs, resign, revoke the lease, close. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info('stopping: draining in-flight runs');
    this.campaignAbort.abort();
    await this.drainWatch?.close();
    if (this.session && this.agent) await this.applyDrain(true);
    await survive(this.loop, this.log, 'node.stop', 'the leadership loop ended with an error', this.metrics.survived);
    await survive(this.agent?.stop(this.cfg.shutdown.graceMs), this.log, 'node.stop', 'stopping the agent failed', this.metrics.survived);
    this.journal?.stop();
    await this.service?.stop();
    await this.session?.close();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server?.closeAllConnections?.();
    this.webhooks?.close();
    this.h?.close();
    this.hLease?.close();
    await this.etcdProc?.stop();
    this.log.info('stopped');
  }

  /** For tests: the port actually bound. */
  get port(): number {
    return (this.server?.address() as { port: number }).port;
  }
}


import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, startEtcdProcess, waitReady, type EtcdProcess } from '../../src/store/etcd-process.js';
import { waitFor } from './etcd.js';
import { Receiver } from './receiver.js';

const CLI = resolve('dist/src/cli.js');

/**
 * Where one member listens (default: loopback only) and what it runs under: the partition tests
 * put a member in a network namespace (`wrap: ['ip', 'netns', 'exec', ns]`) or add addresses.
 */
export interface EtcdMemberPlace {
  host?: string;
  peerHost?: string;
  extraClientHosts?: string[];
  wrap?: string[];
}

/** Three etcd members on free loopback ports, each one stoppable, killable and restartable. */
export class EtcdCluster {
  members: (EtcdProcess | null)[] = [null, null, null];
  private ports: { client: number; peer: number }[] = [];
  private initial = '';
  private places: EtcdMemberPlace[] = [{}, {}, {}];
  constructor(readonly dir: string) {}

  static async start(places?: EtcdMemberPlace[]): Promise<EtcdCluster> {
    const c = new EtcdCluster(mkdtempSync(join(tmpdir(), 'rota-etcd3-')));
    if (places) c.places = [0, 1, 2].map((i) => places[i] ?? {});
    for (let i = 0; i < 3; i++) c.ports.push({ client: await freePort(), peer: await freePort() });
    c.initial = c.ports.map((p, i) => `e${i + 1}=http://${c.peerHost(i)}:${p.peer}`).join(',');
    await Promise.all([0, 1, 2].map((i) => c.startMember(i)));
    return c;
  }

  private peerHost(i: number): string {
    const pl = this.places[i] ?? {};
    return pl.peerHost ?? pl.host ?? '127.0.0.1';
  }

  get endpoints(): string[] {
    return this.ports.map((p, i) => `http://${this.places[i]?.host ?? '127.0.0.1'}:${p.client}`);
  }

  /** Member i's client URL on `host` (one of its extraClientHosts). */
  endpointOn(i: number, host: string): string {
    return `http://${host}:${this.ports[i]!.client}`;
  }

  async startMember(i: number): Promise<void> {
    const p = this.ports[i]!;
    const m = await startEtcdProcess({
      dataDir: join(this.dir, `e${i + 1}`),
      clientPort: p.client,
      peerPort: p.peer,
      name: `e${i + 1}`,
      initialCluster: this.initial,
      extraArgs: ['--initial-cluster-state', 'new', '--initial-cluster-token', 'rota-test'],
      noWait: true,
      ...this.places[i],
    });
    this.members[i] = m;
    await waitReady(m.endpoint, m.child, m.output);
  }

  async kill(i: number): Promise<void> {
    await this.members[i]?.stop('SIGKILL');
    this.members[i] = null;
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m?.stop('SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A Rota node as a separate process (`rota serve`), with its own config file and log. */
export class RotaProcess {
  child: ChildProcess | null = null;
  readonly dir: string;
  exitCode: number | null = null;
  /** `host`: where its API listens (default loopback); `wrap`: a command prefix (ip netns exec X) that execs node in place. */
  constructor(
    readonly id: string,
    readonly port: number,
    private readonly config: Record<string, unknown>,
    readonly place: { host?: string; wrap?: string[] } = {},
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `rota-${id}-`));
    writeFileSync(join(this.dir, 'rota.json'), JSON.stringify({ ...config, dataDir: join(this.dir, 'data') }, null, 2));
  }

  get url(): string {
    return `http://${this.place.host ?? '127.0.0.1'}:${this.port}`;
  }

  get logFile(): string {
    return join(this.dir, 'node.log');
  }

  async start(): Promise<void> {
    this.exitCode = null;
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const nodeArgs = process.env.ROTA_NODE_ARGS ? process.env.ROTA_NODE_ARGS.split(' ') : []; // e.g. --cpu-prof for a benchmark
    const argv = [...(this.place.wrap ?? []), process.execPath, ...nodeArgs, CLI, 'serve', '--config', join(this.dir, 'rota.json')];
    const [cmd, ...args] = [argv[0]!, ...argv.slice(1)];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ROTA_LOG_PRETTY: '0' } });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    child.once('exit', (code) => (this.exitCode = code));
    this.child = child;
    try {
      await waitFor(
        async () => {
          if (!this.alive) throw new Error(`${this.id} exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready`);
          return (await fetch(`${this.url}/readyz`)).status === 200;
        },
        `${this.id} ready`,
        30_000,
        100,
      );
    } catch (e) {
      // Why it never got ready is in its own log, not in the test's: its last lines go with the error.
      throw new Error(`${(e as Error).message}\n    ${this.id}'s last log lines:\n    ${this.tail(12).join('\n    ')}`);
    }
  }

  /** Its log's last `n` lines, each cut at 400 characters. */
  tail(n: number): string[] {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-n).map((l) => l.slice(0, 400));
    } catch {
      return [];
    }
  }

  /** Frozen by SIGSTOP: it would accept connections and never answer. */
  frozen = false;

  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(sig: NodeJS.Signals): void {
    if (sig === 'SIGSTOP') this.frozen = true;
    if (sig === 'SIGCONT') this.frozen = false;
    this.child?.kill(sig);
  }

  /** SIGTERM and wait for the exit: the node drains first. */
  async stop(): Promise<number | null> {
    if (!this.alive) return this.exitCode;
    const exited = new Promise<number | null>((r) => this.child!.once('exit', (code) => r(code)));
    this.signal('SIGTERM');
    return exited;
  }

  async kill(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((r) => this.child!.once('exit', () => r()));
    this.signal('SIGKILL');
    await exited;
  }

  async api(method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<{ status: number; body: any }> {
    const r = await fetch(`${this.url}${path}`, {
      method,
      signal: AbortSignal.timeout(timeoutMs),
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  }

  /** The last `n` lines of its log at warn level or above (pino's level 40). */
  warnings(n = 15): string[] {
    let text = '';
    try {
      text = readFileSync(this.logFile, 'utf8');
    } catch {
      return [];
    }
    return text.split('\n').filter((l) => /"level":(4|5|6)0/.test(l)).slice(-n).map((l) => l.slice(0, 400));
  }

  cleanup(): void {
    if (this.alive) this.child!.kill('SIGKILL');
    if (!process.env.ROTA_KEEP_LOGS) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Node `n{i}`'s config in a test cluster (rack r{i}, a 10 s drain, 1 s kill grace), `nodeOver` merged into its `node` part. */
export function testNodeConfig(i: number, port: number, endpoints: string[], nodeOver: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port },
    node: { id: `n${i}`, attributes: { rack: `r${i}` }, ...nodeOver },
    etcd: { endpoints, prefix: '/rota/' },
    shutdown: { graceMs: 10_000 },
    process: { killGraceMs: 1_000 },
    log: { level: 'info' },
  };
}

/** A 3-member etcd cluster and three Rota node processes on it. */
export class TestCluster {
  constructor(
    readonly etcd: EtcdCluster,
    readonly nodes: RotaProcess[],
  ) {
    TestCluster.live.add(this);
  }

  /**
   * `over` is merged into every node's config; its `node` part into each node's own (id, rack
   * r1..r3); `perNode` (by node id) over that, a top-level key at a time (a node of another
   * version, say).
   */
  static async start(over: Record<string, unknown> = {}, perNode: Record<string, Record<string, unknown>> = {}): Promise<TestCluster> {
    await TestCluster.noneLeftRunning();
    const { node: nodeOver, ...rest } = over as { node?: Record<string, unknown> };
    const etcd = await EtcdCluster.start();
    const nodes: RotaProcess[] = [];
    for (let i = 1; i <= 3; i++) {
      const port = await freePort();
      nodes.push(
        new RotaProcess(`n${i}`, port, {
          ...testNodeConfig(i, port, etcd.endpoints, nodeOver),
          ...rest,
          ...perNode[`n${i}`],
        }),
      );
    }
    const c = new TestCluster(etcd, nodes);
    try {
      await Promise.all(nodes.map((n) => n.start()));
    } catch (e) {
      await c.stop(); // a node that never got ready leaves nothing running behind the failed hook
      throw e;
    }
    return c;
  }

  /** The clusters started and not stopped yet, in this test process. */
  private static readonly live = new Set<TestCluster>();

  /**
   * One cluster at a time: a suite that left its cluster running (six processes on 2 cores) would
   * slow every later suite into timeouts. It is stopped here, and this suite fails saying so.
   */
  static async noneLeftRunning(): Promise<void> {
    const left = [...TestCluster.live];
    if (!left.length) return;
    await Promise.all(left.map((c) => c.stop()));
    throw new Error(`${left.length} cluster(s) of an earlier suite were still running (its after hook did not stop them); stopped now`);
  }

  node(id: string): RotaProcess {
    return this.nodes.find((n) => n.id === id)!;
  }

  /** Any live node answers any API call. */
  async api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    let last: unknown;
    for (const n of this.nodes.filter((x) => x.alive && !x.frozen)) {
      try {
        return await n.api(method, path, body);
      } catch (e) {
        last = e;
      }
    }
    throw last ?? new Error('no live node');
  }

  async leader(): Promise<RotaProcess> {
    const id = await waitFor(async () => {
      const r = await this.api('GET', '/api/v1/cluster');
      const l = r.body?.leader?.id as string | undefined;
      return l && this.node(l)?.alive && !this.node(l)?.frozen ? l : null;
    }, 'a live leader', 30_000, 100);
    return this.node(id);
  }

  /** Each node's last warnings on stdout, under its id. */
  /** After a failure: each node's last warnings, and with ROTA_KEEP_LOGS=DIR its whole log copied there (the cluster's folders go with it). */
  printWarnings(): void {
    for (const n of this.nodes) {
      const w = n.warnings();
      if (w.length) console.log(`      ${n.id}'s last warnings:\n${w.map((l) => `        ${l}`).join('\n')}`);
    }
    const keep = process.env.ROTA_KEEP_LOGS;
    if (keep) {
      const dir = join(keep, `cluster-${Date.now()}`);
      mkdirSync(dir, { recursive: true });
      for (const n of this.nodes) if (existsSync(n.logFile)) copyFileSync(n.logFile, join(dir, `${n.id}.log`));
      console.log(`      node logs kept in ${dir}`);
    }
  }

  async stop(): Promise<void> {
    TestCluster.live.delete(this);
    // A profiled node (ROTA_NODE_ARGS=--cpu-prof) writes its profile only when it exits by itself.
    const profiled = process.env.ROTA_NODE_ARGS?.includes('--cpu-prof');
    await Promise.all(this.nodes.map((n) => (profiled ? n.stop().then(() => undefined) : n.kill())));
    // A bench keeps its nodes' logs with ROTA_BENCH_LOGS=DIR (what happened in a run gone wrong).
    const keep = process.env.ROTA_BENCH_LOGS;
    if (keep) {
      const dir = join(keep, `cluster-${Date.now()}`);
      mkdirSync(dir, { recursive: true });
      for (const n of this.nodes) if (existsSync(n.logFile)) copyFileSync(n.logFile, join(dir, `${n.id}.log`));
    }
    for (const n of this.nodes) n.cleanup();
    await this.etcd.stop();
  }
}

/**
 * Registers hooks that start a receiver and a cluster before the suite (or each test) and stop
 * them after; the returned object's fields are set once the hook ran.
 */
export function clusterFixture(each = false, over: Record<string, unknown> = {}, perNode: Record<string, Record<string, unknown>> = {}): { c: TestCluster; rx: Receiver } {
  const f = {} as { c: TestCluster; rx: Receiver };
  (each ? beforeEach : before)(async () => {
    f.rx = await new Receiver().start();
    f.c = await TestCluster.start(over, perNode);
  });
  (each ? afterEach : after)(async function () {
    // A failed test shows what the nodes warned of (their logs go with the cluster).
    const failed = each ? this.currentTest?.state === 'failed' : (this.test?.parent?.tests ?? []).some((t) => t.state === 'failed');
    if (failed && f.c) f.c.printWarnings();
    await f.c?.stop();
    await f.rx?.stop();
  });
  return f;
}

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { WANTED_TXN_OPS } from './etcd.js';

export interface EtcdProcessOptions {
  dataDir: string;
  clientPort: number;
  peerPort: number;
  name?: string;
  /** For a multi-member cluster: "e1=http://127.0.0.1:p1,e2=..." (default: this member alone). */
  initialCluster?: string;
  /** Extra flags. */
  extraArgs?: string[];
  /** --max-txn-ops (default WANTED_TXN_OPS: Rota batches its writes up to it). */
  maxTxnOps?: number;
  /** Do not wait for /health (a member of a cluster that has no quorum yet). */
  noWait?: boolean;
  binary?: string;
  log?: (line: string) => void;
  /**
   * Serve clients over TLS (https:// endpoint) with this server certificate; `clientCertAuth`
   * also requires a client certificate signed by `ca`. Peers stay on plain loopback.
   */
  tls?: { cert: string; key: string; ca: string; clientCertAuth?: boolean; clientCert?: string; clientKey?: string };
  /** The address its client URL listens on and advertises (default 127.0.0.1). */
  host?: string;
  /** The address its peer URL listens on and advertises (default `host`). */
  peerHost?: string;
  /** More addresses the client port also listens on (tests reach it there from network namespaces). */
  extraClientHosts?: string[];
  /** A command prefix etcd runs under, e.g. `['ip', 'netns', 'exec', 'ns1']` (it must exec etcd in place). */
  wrap?: string[];
}

export interface EtcdProcess {
  endpoint: string;
  child: ChildProcess;
  /** The last of what etcd printed (up to 20,000 characters): why it did not start. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * A free TCP port on loopback, below the kernel's ephemeral range. A port from bind(0) is an
 * ephemeral one: between our check and the listener's bind, any outgoing connection (etcd members
 * dialling each other, a health probe) may take it as its source port, and etcd then exits with
 * "address already in use" (a CI failure). Below the range only listeners take ports; one handed
 * out here is not handed out again by this process.
 */
export async function freePort(): Promise<number> {
  const low = 10_000;
  const high = ephemeralLow() - 1;
  for (let i = 0; i < 200; i++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (handedOut.has(port) || BLOCKED_BY_FETCH.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port on 127.0.0.1 between ${low} and ${high}`);
}

const handedOut = new Set<number>();

/**
 * Ports of the range above that fetch (Node's undici, Chromium) refuses to connect to, its "bad
 * ports" list: a node given 10080 started, and every request to it failed with "fetch failed" (a
 * cluster test's "timed out waiting for n3 ready").
 */
export const BLOCKED_BY_FETCH: ReadonlySet<number> = new Set([10080]);

/** The first port of the kernel's ephemeral range (Linux's default when it cannot be read). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 11_000) return low;
  } catch {
    /* not Linux: its default */
  }
  return 32768;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.unref();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * Spawns one etcd member on loopback (the embedded default, and the test harness). Auto-
 * compaction is always on: etcd never grows without bound.
 */
export async function startEtcdProcess(o: EtcdProcessOptions): Promise<EtcdProcess> {
  mkdirSync(o.dataDir, { recursive: true });
  const scheme = o.tls ? 'https' : 'http';
  const endpoint = `${scheme}://${o.host ?? '127.0.0.1'}:${o.clientPort}`;
  const listenClient = [endpoint, ...(o.extraClientHosts ?? []).map((h) => `${scheme}://${h}:${o.clientPort}`)].join(',');
  const peerUrl = `http://${o.peerHost ?? o.host ?? '127.0.0.1'}:${o.peerPort}`;
  const tlsArgs = o.tls
    ? ['--cert-file', o.tls.cert, '--key-file', o.tls.key, '--trusted-ca-file', o.tls.ca, ...(o.tls.clientCertAuth ? ['--client-cert-auth'] : [])]
    : [];
  const args = [
    '--name', o.name ?? 'rota',
    '--data-dir', o.dataDir,
    '--listen-client-urls', listenClient,
    '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peerUrl,
    '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', o.initialCluster ?? `${o.name ?? 'rota'}=${peerUrl}`,
    '--auto-compaction-mode', 'periodic',
    '--auto-compaction-retention', '5m',
    // Compaction holds the backend lock per batch: 1000 revisions (the default) held it ~20 ms
    // at a time at 300 firings/s, applies fell behind, lease renewals (which wait for applies)
    // with them, and every node lost its lease (bench/soak.ts). Smaller batches interleave.
    '--experimental-compaction-batch-limit', '100',
    // Claims, outcomes and plans go in batches as large as this allows (etcd.ts WANTED_TXN_OPS).
    '--max-txn-ops', String(o.maxTxnOps ?? WANTED_TXN_OPS),
    '--quota-backend-bytes', String(2 * 1024 * 1024 * 1024),
    ...tlsArgs,
    ...(o.extraArgs ?? []),
  ];
  // Its own process group: a Ctrl-C in the terminal reaches Rota only, which then stops etcd
  // last, after it has resigned and revoked its lease.
  killStale(o.dataDir);
  const [cmd, ...cmdArgs] = [...(o.wrap ?? []), o.binary ?? 'etcd', ...args] as [string, ...string[]];
  const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.env.ETCD_UNSUPPORTED_ARCH ?? '' } });
  if (child.pid) writeFileSync(join(o.dataDir, 'rota-etcd.pid'), String(child.pid));
  const killOnExit = () => {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  };
  process.once('exit', killOnExit);
  let out = '';
  const onData = (b: Buffer) => {
    const s = b.toString();
    out = (out + s).slice(-20_000);
    o.log?.(s);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  // Once etcd has exited there is nothing to kill: the listener goes (a member killed and started again many times would pile them up).
  const exited = new Promise<void>((r) =>
    child.once('exit', () => {
      process.removeListener('exit', killOnExit);
      r();
    }),
  );
  if (!o.noWait) await waitReady(endpoint, child, () => out, o.tls);
  return {
    endpoint,
    child,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
      rmSync(join(o.dataDir, 'rota-etcd.pid'), { force: true });
    },
  };
}

/** An etcd left behind by a Rota that was SIGKILLed still holds the data dir: stop it. */
function killStale(dataDir: string): void {
  const file = join(dataDir, 'rota-etcd.pid');
  let pid = 0;
  try {
    pid = Number(readFileSync(file, 'utf8'));
  } catch {
    return;
  }
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (pid > 1 && cmd.includes('etcd') && cmd.includes(dataDir)) {
      process.kill(pid, 'SIGKILL');
      const nap = new Int32Array(new SharedArrayBuffer(4));
      for (let i = 0; i < 100 && existsSync(`/proc/${pid}/cmdline`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'); i++) Atomics.wait(nap, 0, 0, 20);
    }
  } catch {
    /* not running */
  }
  rmSync(file, { force: true });
}

/** etcd's /health over https, trusting `ca` and presenting the client certificate when given. */
function tlsHealthy(endpoint: string, tls: NonNullable<EtcdProcessOptions['tls']>): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      `${endpoint}/health`,
      {
        ca: readFileSync(tls.ca),
        ...(tls.clientCert && tls.clientKey ? { cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey) } : {}),
        timeout: 2000,
      },
      (res) => {
        let body = '';
        res.on('data', (b: Buffer) => (body += b.toString()));
        res.on('end', () => resolve(res.statusCode === 200 && /"health":\s*"true"/.test(body)));
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export async function waitReady(endpoint: string, child: ChildProcess, output: () => string, tls?: EtcdProcessOptions['tls']): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`etcd exited with code ${child.exitCode}:\n${output().slice(-2000)}`);
    try {
      if (tls) {
        if (await tlsHealthy(endpoint, tls)) return;
      } else {
        const r = await fetch(`${endpoint}/health`);
        if (r.ok && ((await r.json()) as { health?: string }).health === 'true') return;
      }
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`etcd at ${endpoint} did not become healthy in 20 s:\n${output().slice(-2000)}`);
}

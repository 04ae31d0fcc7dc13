import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';

export interface EtcdProcessOptions {
  dataDir: string;
  clientPort: number;
  peerPort: number;
  name?: string;
  /** For a multi-member cluster: "e1=http://127.0.0.1:p1,e2=..." (default: this member alone). */
  initialCluster?: string;
  /** Extra flags. */
  extraArgs?: string[];
  /** Do not wait for /health (a member of a cluster that has no quorum yet). */
  noWait?: boolean;
  binary?: string;
  log?: (line: string) => void;
}

export interface EtcdProcess {
  endpoint: string;
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Spawns one etcd member on loopback (the embedded default, and the test harness). Auto-
 * compaction is always on: etcd never grows without bound.
 */
export async function startEtcdProcess(o: EtcdProcessOptions): Promise<EtcdProcess> {
  mkdirSync(o.dataDir, { recursive: true });
  const endpoint = `http://127.0.0.1:${o.clientPort}`;
  const args = [
    '--name', o.name ?? 'rota',
    '--data-dir', o.dataDir,
    '--listen-client-urls', endpoint,
    '--advertise-client-urls', endpoint,
    '--listen-peer-urls', `http://127.0.0.1:${o.peerPort}`,
    '--initial-advertise-peer-urls', `http://127.0.0.1:${o.peerPort}`,
    '--initial-cluster', o.initialCluster ?? `${o.name ?? 'rota'}=http://127.0.0.1:${o.peerPort}`,
    '--auto-compaction-mode', 'periodic',
    '--auto-compaction-retention', '1h',
    '--quota-backend-bytes', String(2 * 1024 * 1024 * 1024),
    ...(o.extraArgs ?? []),
  ];
  // Its own process group: a Ctrl-C in the terminal reaches Rota only, which then stops etcd
  // last, after it has resigned and revoked its lease.
  killStale(o.dataDir);
  const child = spawn(o.binary ?? 'etcd', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.env.ETCD_UNSUPPORTED_ARCH ?? '' } });
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
    if (out.length < 20_000) out += s;
    o.log?.(s);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  if (!o.noWait) await waitReady(endpoint, child, () => out);
  return {
    endpoint,
    child,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
      process.removeListener('exit', killOnExit);
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

export async function waitReady(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`etcd exited with code ${child.exitCode}:\n${output().slice(-2000)}`);
    try {
      const r = await fetch(`${endpoint}/health`);
      if (r.ok && ((await r.json()) as { health?: string }).health === 'true') return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`etcd at ${endpoint} did not become healthy in 20 s:\n${output().slice(-2000)}`);
}

/**
 * The BullMQ peer's processes for benchmarks that drive them directly: a redis-server on a free
 * loopback port (no persistence, `--hz 100` as in peer-bullmq.js) and peer-worker.js processes
 * that POST each job to a Receiver with Rota's headers.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/store/etcd-process.js';

export interface RedisServer {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

const gone = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;

async function stopChild(c: ChildProcess, sig: NodeJS.Signals): Promise<void> {
  if (gone(c)) return;
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill(sig);
  await exited;
}

/** Starts redis-server and resolves once it logs that it accepts connections. */
export async function startRedis(hz = 100): Promise<RedisServer> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--hz', String(hz), '--daemonize', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  process.once('exit', () => !gone(child) && child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('redis-server not ready within 10 s')), 10_000);
    child.once('error', (e) => reject(new Error(`redis-server: ${e.message} (install it with 'make redis-bin')`)));
    child.once('exit', (code) => reject(new Error(`redis-server exited ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.includes('Ready to accept connections')) return;
      clearTimeout(timer);
      resolve();
    });
  });
  return { port, child, stop: () => stopChild(child, 'SIGKILL') };
}

export interface PeerWorker {
  child: ChildProcess;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** Forks bench/peer-worker.js on `queue` and resolves once its BullMQ Worker is ready. */
export async function startWorker(redisPort: number, queue: string, url: string, concurrency = 50): Promise<PeerWorker> {
  const js = fileURLToPath(new URL('../peer-worker.js', import.meta.url));
  const child = fork(js, ['--redis-port', String(redisPort), '--queue', queue, '--url', url, '--concurrency', String(concurrency)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  process.once('exit', () => !gone(child) && child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`peer worker exited ${code}`)));
  });
  return { child, kill: () => stopChild(child, 'SIGKILL'), stop: () => stopChild(child, 'SIGTERM') };
}

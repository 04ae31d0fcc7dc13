/**
 * HAProxy in front of a TestCluster's nodes, as cluster/local/haproxy.cfg does it for
 * `make cluster`: round robin over the nodes whose GET /readyz answers 200 (checked every
 * 500 ms, out after 2 failures, in after 1 success), on a free loopback port, run in the
 * foreground (`haproxy -db -f cfg`) as a child of the test or bench. `make haproxy-bin` installs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/store/etcd-process.js';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface LoadBalancer {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

function config(port: number, backends: { id: string; port: number }[]): string {
  return `global
    maxconn 4000

defaults
    mode http
    retries 2
    option redispatch 1
    timeout connect 2s
    timeout check 1s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout queue 5s
    timeout client 60s
    timeout server 60s

frontend rota
    bind 127.0.0.1:${port}
    default_backend rota_nodes

backend rota_nodes
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1
${backends.map((b) => `    server ${b.id} 127.0.0.1:${b.port} check`).join('\n')}
`;
}

/** Starts HAProxy and waits until it forwards GET /readyz with 200. */
export async function startHaproxy(backends: { id: string; port: number }[]): Promise<LoadBalancer> {
  const dir = mkdtempSync(join(tmpdir(), 'rota-haproxy-'));
  const port = await freePort();
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, config(port, backends));
  const child = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'inherit'] });
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (e) => reject(new Error(`haproxy: ${e.message} (install it with 'make haproxy-bin')`)));
    child.once('exit', (code) => reject(new Error(`haproxy exited ${code}`)));
  });
  failed.catch(() => undefined);
  const kill = () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL');
  process.once('exit', kill);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await Promise.race([fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.status === 200, () => false), failed]);
    if (ok) break;
    if (Date.now() > deadline) {
      kill();
      throw new Error(`haproxy on ${url} did not forward /readyz within 15 s`);
    }
    await sleep(100);
  }
  return {
    url,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

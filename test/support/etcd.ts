import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort, startEtcdProcess, type EtcdProcess } from '../../src/store/etcd-process.js';
import { connectEtcd, type EtcdHandle } from '../../src/store/etcd.js';

let shared: Promise<EtcdProcess> | null = null;
let dir = '';

/**
 * One real etcd member per test process (mocha worker), started on free loopback ports on
 * first use and stopped when the process exits. Tests isolate themselves by key prefix.
 */
export function sharedEtcd(): Promise<EtcdProcess> {
  if (!shared) {
    shared = (async () => {
      dir = mkdtempSync(join(tmpdir(), 'rota-etcd-'));
      const p = await startEtcdProcess({ dataDir: dir, clientPort: await freePort(), peerPort: await freePort(), name: 'test' });
      const cleanup = () => {
        try {
          p.child.kill('SIGKILL');
        } catch {
          /* gone */
        }
        rmSync(dir, { recursive: true, force: true });
      };
      process.once('exit', cleanup);
      return p;
    })();
  }
  return shared;
}

/** A fresh key prefix on the shared member. */
export async function freshEtcd(): Promise<{ endpoint: string; prefix: string; handle: EtcdHandle }> {
  const p = await sharedEtcd();
  const prefix = `/t-${randomBytes(6).toString('hex')}/`;
  return { endpoint: p.endpoint, prefix, handle: connectEtcd({ endpoints: [p.endpoint], prefix }) };
}

/** Polls `fn` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 15_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

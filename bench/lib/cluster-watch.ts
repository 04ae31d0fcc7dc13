/**
 * Watching a TestCluster from a benchmark: which node leads (as the nodes answer it), the
 * resident memory of a process, and when a node logged a given line.
 */
import { readFileSync } from 'node:fs';
import type { RotaProcess, TestCluster } from '../../test/support/cluster.js';
import { sleep } from './common.js';

/**
 * Polls GET /api/v1/cluster on every live node (rounds 50 ms apart, 1 s timeout each) until one
 * names a live leader other than `not`; the first such answer counts, slower nodes are not
 * waited for. Resolves with the leader and the time it was seen, or null at the deadline.
 */
export async function waitLeader(c: TestCluster, not: string | undefined, timeoutMs = 60_000): Promise<{ leader: RotaProcess; seenMs: number } | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const live = c.nodes.filter((n) => n.alive);
    const id = await new Promise<string | undefined>((resolve) => {
      let pending = live.length;
      if (pending === 0) resolve(undefined);
      for (const n of live)
        n.api('GET', '/api/v1/cluster', undefined, 1000)
          .then(
            (r) => {
              const l = r.body?.leader?.id as string | undefined;
              if (l && l !== not && c.node(l)?.alive) resolve(l);
            },
            () => undefined,
          )
          .finally(() => --pending === 0 && resolve(undefined));
    });
    if (id) return { leader: c.node(id), seenMs: Date.now() };
    await sleep(50);
  }
  return null;
}

/** Resident set size of a process in MB (10^6 bytes; VmRSS from /proc, Linux), NaN if it is gone. */
export function rssMB(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? (Number(m[1]) * 1024) / 1e6 : NaN;
  } catch {
    return NaN;
  }
}

/** The time (epoch ms) of the first pino line in `file` with this msg, logged at or after sinceMs. */
export function logLineMs(file: string, msg: string, sinceMs: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    if (!line.startsWith('{') || !line.includes(msg)) continue;
    try {
      const o = JSON.parse(line) as { msg?: string; time?: number };
      if (o.msg === msg && typeof o.time === 'number' && o.time >= sinceMs) return o.time;
    } catch {
      // a torn last line
    }
  }
  return undefined;
}

/** Stops the cluster (and whatever else `stop` does) on Ctrl-C or SIGTERM, then exits 130. */
export function stopOnSignal(stop: () => Promise<void>): void {
  const on = () => void stop().finally(() => process.exit(130));
  process.once('SIGINT', on);
  process.once('SIGTERM', on);
}

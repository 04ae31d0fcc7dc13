/** `rota nodes ls|drain|undrain`, `rota check HOST` and `rota cluster`: the cluster as an operator sees it. */
import { Command } from 'commander';
import type { InflightEntry, Page } from './api-types.js';
import { contextOf, sleep, type CliContext } from './context.js';
import { CliError, EXIT } from './exit.js';
import { parseTimeoutMs } from './follow.js';
import { emit, fields, grid, none, table, time } from './output.js';

const POLL_MS = 500;
/** A progress line at least this often while waiting, even when nothing changed. */
const PROGRESS_EVERY_MS = 5_000;

interface NodeRecord {
  id: string;
  address: string;
  ip?: string;
  hostname?: string;
  capacity?: number;
  state?: string;
  version?: string;
  startedMs?: number;
  attributes?: Record<string, string>;
  /** Its clock's offset from the cluster's median, and whether it is off by more than the threshold (it then claims nothing). */
  clock?: { offsetMs: number | null; skewed: boolean };
}

/** The CLOCK column: the offset from the cluster's median, SKEWED when the node claims nothing for it. */
function clockText(c: NodeRecord['clock']): string {
  if (!c || c.offsetMs === null) return '-';
  const off = `${c.offsetMs >= 0 ? '+' : ''}${c.offsetMs} ms`;
  return c.skewed ? `${off} SKEWED` : off;
}

interface ClusterView {
  leader: { id: string; address: string | null } | null;
  self?: { id: string; address: string };
  members: NodeRecord[];
  etcd: { healthy: boolean; version?: string; dbSize?: number; error?: string };
  [k: string]: unknown;
}

function inflightTable(items: InflightEntry[]): string {
  if (items.length === 0) return none('nothing in flight');
  return grid<InflightEntry>(
    [
      { h: 'RUN', v: (i) => i.runId ?? '-' },
      { h: 'TASK', v: (i) => i.taskId ?? '-' },
      { h: 'NODE', v: (i) => i.node ?? '-' },
      { h: 'STATE', v: (i) => i.state ?? '-' },
      { h: 'KIND', v: (i) => (i.daemon ? 'daemon' : 'run'), wide: true },
      { h: 'PID', v: (i) => (typeof i.pid === 'number' ? String(i.pid) : '-'), wide: true },
      { h: 'TENANT', v: (i) => String(i.tenant ?? '-'), wide: true },
      { h: 'SCHEDULED', v: (i) => time(i.scheduledMs) },
      { h: 'STARTED', v: (i) => time(i.startedMs) },
    ],
    items,
  );
}

const describe = (items: InflightEntry[]): string =>
  items.length === 0 ? 'nothing in flight' : `${items.length} run${items.length === 1 ? '' : 's'} in flight (${items.slice(0, 5).map((i) => `${i.runId} ${i.state}`).join(', ')}${items.length > 5 ? ', ...' : ''})`;

/**
 * Polls `path` until its in-flight list is empty, a progress line on stderr whenever it changes
 * (and every few seconds); CliError TIMEOUT at the deadline.
 */
async function waitUntilEmpty(ctx: CliContext, path: string, query: Record<string, string>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let said = '';
  let saidAt = 0;
  for (;;) {
    const { items } = await ctx.api.get<Page<InflightEntry>>(path, query);
    const line = `${what}: ${describe(items)}`;
    if (line !== said || Date.now() - saidAt >= PROGRESS_EVERY_MS) {
      process.stderr.write(`${line}\n`);
      said = line;
      saidAt = Date.now();
    }
    if (items.length === 0) return;
    if (Date.now() >= deadline) throw new CliError(`${what}: still ${describe(items)} after ${timeoutMs / 1000} s`, EXIT.TIMEOUT);
    await sleep(POLL_MS);
  }
}

export function nodesCommand(): Command {
  const nodes = new Command('nodes').description('cluster members: list, drain (wait for in-flight work to finish), undrain');

  nodes
    .command('ls')
    .alias('list')
    .description('list the nodes (the leader is marked *)')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const view = await ctx.api.get<ClusterView>('/api/v1/cluster');
      const members = [...view.members].sort((a, b) => a.id.localeCompare(b.id));
      emit(ctx.format, { leader: view.leader?.id ?? null, items: members }, () =>
        grid<NodeRecord>(
          [
            { h: 'ID', v: (n) => n.id },
            { h: 'ADDRESS', v: (n) => n.address },
            { h: 'HOST', v: (n) => n.hostname ?? n.ip ?? '-' },
            { h: 'IP', v: (n) => n.ip ?? '-', wide: true },
            { h: 'STATE', v: (n) => n.state ?? '-' },
            { h: 'CAPACITY', v: (n) => String(n.capacity ?? '-') },
            { h: 'ATTRIBUTES', v: (n) => (n.attributes && Object.keys(n.attributes).length ? Object.entries(n.attributes).map(([k, v]) => `${k}=${v}`).join(',') : '-'), wide: true },
            { h: 'CLOCK', v: (n) => clockText(n.clock) },
            { h: 'VERSION', v: (n) => n.version ?? '-' },
            { h: 'STARTED', v: (n) => time(n.startedMs) },
            { h: 'LEADER', v: (n) => (view.leader?.id === n.id ? '*' : '') },
          ],
          members,
        ),
      );
    });

  nodes
    .command('drain')
    .argument('<node>', 'node id (rota nodes ls)')
    .description('stop giving a node work and wait until its in-flight runs have finished (sticky until undrain; operator tenants only)')
    .option('--no-wait', 'return once the node is marked draining')
    .option('--timeout <duration>', 'give up waiting after this long (exit 4; the node stays draining)', '10m')
    .addHelpText(
      'after',
      `
Progress goes to stderr; the exit code is 0 once nothing is in flight on the node, 4 on timeout.
Before stopping a node: rota nodes drain n2 && systemctl stop rota`,
    )
    .action(async (node: string, o: { wait: boolean; timeout: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const timeoutMs = parseTimeoutMs(o.timeout) ?? 0;
      const res = await ctx.api.post<{ id: string; draining: boolean }>(`/api/v1/nodes/${encodeURIComponent(node)}/drain`);
      if (o.wait) await waitUntilEmpty(ctx, `/api/v1/nodes/${encodeURIComponent(node)}/inflight`, {}, `node ${node}`, timeoutMs);
      emit(ctx.format, { ...res, waited: o.wait }, () => (o.wait ? `node ${node} drained: nothing in flight\n` : `node ${node} draining (not waiting for its in-flight runs)\n`));
    });

  nodes
    .command('undrain')
    .argument('<node>', 'node id')
    .description('let a drained node take work again (operator tenants only)')
    .action(async (node: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const res = await ctx.api.post<{ id: string; draining: boolean }>(`/api/v1/nodes/${encodeURIComponent(node)}/undrain`);
      emit(ctx.format, res, () => `node ${node} active\n`);
    });

  return nodes;
}

export function checkCommand(): Command {
  return new Command('check')
    .argument('<host>', 'IP address or hostname of the machine')
    .description('runs in flight on the nodes of one host (every tenant\'s for an operator token, else your own)')
    .option('--wait', 'wait until nothing is in flight there (progress on stderr)')
    .option('--timeout <duration>', 'with --wait: give up after this long (exit 4)', '10m')
    .action(async (host: string, o: { wait?: boolean; timeout: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      if (o.wait) await waitUntilEmpty(ctx, '/api/v1/inflight', { host }, `host ${host}`, parseTimeoutMs(o.timeout) ?? 0);
      const { items } = await ctx.api.get<Page<InflightEntry>>('/api/v1/inflight', { host });
      emit(ctx.format, { host, items }, () => inflightTable(items));
    });
}

export function clusterCommand(): Command {
  return new Command('cluster').description('leader, members and etcd health, as the node answering sees them').action(async (_o: unknown, cmd: Command) => {
    const ctx = contextOf(cmd);
    const view = await ctx.api.get<ClusterView>('/api/v1/cluster');
    emit(ctx.format, view, () => {
      const etcd = view.etcd.healthy ? `healthy${view.etcd.version ? `, version ${view.etcd.version}` : ''}${view.etcd.dbSize !== undefined ? `, db ${(view.etcd.dbSize / 1048576).toFixed(1)} MiB` : ''}` : `UNHEALTHY: ${view.etcd.error ?? 'no answer'}`;
      const head = fields([
        ['leader', view.leader ? `${view.leader.id} (${view.leader.address ?? 'address unknown'})` : 'NONE: no node leads, nothing fires'],
        ['answered by', view.self ? `${view.self.id} (${view.self.address})` : undefined],
        ['etcd', etcd],
        ['members', String(view.members.length)],
      ]);
      const members = [...view.members].sort((a, b) => a.id.localeCompare(b.id));
      return `${head}\n${table(['ID', 'ADDRESS', 'STATE', 'VERSION', 'LEADER'], members.map((n) => [n.id, n.address, n.state ?? '-', n.version ?? '-', view.leader?.id === n.id ? '*' : '']))}`;
    });
    // Scripts and health checks read the exit code: 6 when nothing would fire or etcd is unwell.
    const wrong = [...(view.leader ? [] : ['no node leads']), ...(view.etcd.healthy ? [] : [`etcd is unhealthy (${view.etcd.error ?? 'no answer'})`])];
    if (wrong.length) throw new CliError(`cluster unhealthy: ${wrong.join('; ')}`, EXIT.UNHEALTHY);
  });
}

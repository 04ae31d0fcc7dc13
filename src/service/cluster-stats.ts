/**
 * The cluster's counters, not one node's (GET /api/v1/cluster/stats): the node that answers
 * reads every live node's /metrics (its own included), sums what the operator asks about, and
 * gives each node's share. A node that does not answer within a second is named, never left
 * out without a word. Behind a load balancer two refreshes then show the same cluster, whichever
 * node answers (a node restarted meanwhile starts its counters from 0: its `startedMs` says so).
 */

/** Series summed over the nodes: name -> label to break it down by (or none). */
const SUMMED: Record<string, string | null> = {
  rota_firings_planned_total: 'trigger',
  rota_firings_skipped_total: 'reason',
  rota_runs_finished_total: 'state',
  rota_retries_total: null,
  rota_runs_lost_total: null,
  rota_inflight_runs: null,
  rota_candidate_claims_total: 'rank',
  rota_lease_lost_total: null,
  rota_webhook_dropped_total: 'why',
  rota_outcomes_pending: null,
  rota_firing_lateness_seconds_count: null,
  rota_firing_lateness_seconds_bucket: 'le',
  rota_firing_lateness_seconds_sum: null,
};

export interface NodeStats {
  id: string;
  address: string;
  /** Its counters, each a total or broken down by the label above. */
  counters: Record<string, number | Record<string, number>>;
  /** When its process started (its counters count from then). */
  startedMs?: number;
}

export interface ClusterStats {
  atMs: number;
  /** Summed over the nodes that answered. */
  totals: Record<string, number | Record<string, number>>;
  nodes: NodeStats[];
  /** Live nodes that did not answer, and why: their counters are not in the totals. */
  missing: { id: string; address: string; error: string }[];
}

/** The summed series of one node's Prometheus text exposition (pure). */
export function parseCounters(text: string): { counters: NodeStats['counters']; startedMs?: number } {
  const counters: NodeStats['counters'] = {};
  let startedMs: number | undefined;
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const [, name, , labels, raw] = m;
    const value = Number(raw);
    if (!Number.isFinite(value)) continue;
    if (name === 'rota_process_start_time_seconds') startedMs = value * 1000;
    if (!(name! in SUMMED)) continue;
    const by = SUMMED[name!];
    const label = by && labels ? new RegExp(`(?:^|,)${by}="([^"]*)"`).exec(labels)?.[1] : undefined;
    if (by && label !== undefined) {
      const cur = (counters[name!] ?? {}) as Record<string, number>;
      cur[label] = (cur[label] ?? 0) + value;
      counters[name!] = cur;
    } else if (!by) counters[name!] = ((counters[name!] as number | undefined) ?? 0) + value;
  }
  return { counters, ...(startedMs !== undefined ? { startedMs } : {}) };
}

/** The nodes' counters summed (pure). */
export function sumCounters(nodes: NodeStats[]): ClusterStats['totals'] {
  const totals: ClusterStats['totals'] = {};
  for (const n of nodes) {
    for (const [name, v] of Object.entries(n.counters)) {
      if (typeof v === 'number') totals[name] = ((totals[name] as number | undefined) ?? 0) + v;
      else {
        const cur = (totals[name] ?? {}) as Record<string, number>;
        for (const [k, x] of Object.entries(v)) cur[k] = (cur[k] ?? 0) + x;
        totals[name] = cur;
      }
    }
  }
  return totals;
}

/** Reads every node's /metrics (a second each at most) and sums them. */
export async function clusterStats(nodes: { id: string; address: string }[], nowMs: number, read: (address: string) => Promise<string> = readMetrics): Promise<ClusterStats> {
  const answers = await Promise.all(
    nodes.map(async (n) => {
      try {
        return { n, ok: parseCounters(await read(n.address)) };
      } catch (err) {
        return { n, error: (err as Error).message };
      }
    }),
  );
  const answered: NodeStats[] = [];
  const missing: ClusterStats['missing'] = [];
  for (const a of answers) {
    if ('ok' in a && a.ok) answered.push({ id: a.n.id, address: a.n.address, ...a.ok });
    else missing.push({ id: a.n.id, address: a.n.address, error: a.error ?? 'no answer' });
  }
  return { atMs: nowMs, totals: sumCounters(answered), nodes: answered.sort((a, b) => a.id.localeCompare(b.id)), missing };
}

async function readMetrics(address: string): Promise<string> {
  const r = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(1_000) });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return r.text();
}

import { expect } from 'chai';
import { clusterStats, parseCounters } from '../../src/service/cluster-stats.js';

const exposition = (planned: number, ok: number, failed: number, inflight: number) => `# HELP rota_firings_planned_total Firings written by the leader, by trigger
# TYPE rota_firings_planned_total counter
rota_firings_planned_total{trigger="schedule"} ${planned}
rota_firings_planned_total{trigger="manual"} 1
rota_runs_finished_total{state="succeeded"} ${ok}
rota_runs_finished_total{state="failed"} ${failed}
rota_inflight_runs ${inflight}
rota_runs_lost_total 0
rota_process_start_time_seconds 1796500000
rota_nodejs_heap_size_total_bytes 123
`;

describe('cluster stats: every node counted, none silently left out', () => {
  it("reads a node's counters by their label, and its start", () => {
    expect(parseCounters(exposition(10, 7, 2, 3))).to.deep.equal({
      counters: { rota_firings_planned_total: { schedule: 10, manual: 1 }, rota_runs_finished_total: { succeeded: 7, failed: 2 }, rota_inflight_runs: 3, rota_runs_lost_total: 0 },
      startedMs: 1_796_500_000_000,
    });
  });

  it('sums the nodes that answered, keeps each share, and names the one that did not', async () => {
    const text: Record<string, string> = { 'a:1': exposition(10, 7, 2, 3), 'b:1': exposition(0, 5, 0, 1) };
    const s = await clusterStats(
      [{ id: 'b', address: 'b:1' }, { id: 'a', address: 'a:1' }, { id: 'c', address: 'c:1' }],
      42,
      async (address) => {
        const t = text[address];
        if (!t) throw new Error('The operation was aborted due to timeout');
        return t;
      },
    );
    expect(s.totals).to.deep.equal({ rota_firings_planned_total: { schedule: 10, manual: 2 }, rota_runs_finished_total: { succeeded: 12, failed: 2 }, rota_inflight_runs: 4, rota_runs_lost_total: 0 });
    expect(s.nodes.map((n) => n.id)).to.deep.equal(['a', 'b']);
    expect(s.missing).to.deep.equal([{ id: 'c', address: 'c:1', error: 'The operation was aborted due to timeout' }]);
    expect(s.atMs).to.equal(42);
  });
});

import { expect } from 'chai';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { Receiver } from '../support/receiver.js';
import { startNode, api } from '../support/node.js';

/** Parses one sample of the Prometheus text format: `name{labels} value`. */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(labels ? `${name}{${labels}}` : `${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
}

describe('/metrics (integration, real etcd)', function () {
  this.timeout(60_000);
  it('serves the key series, and they move when firings happen', async () => {
    const { endpoint, prefix } = await freshEtcd();
    const rx = await new Receiver().start();
    const node = await startNode(endpoint, prefix);
    try {
      const before = await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text();
      expect(sample(before, 'rota_firing_lateness_seconds_count')).to.equal(0);
      await waitFor(async () => sample(await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text(), 'rota_is_leader') === 1, 'leader');
      const t = await api(node, 'POST', '/api/v1/tasks', { name: 'm', schedule: { every: '1s' }, action: { http: { url: rx.url } } });
      const bad = await api(node, 'POST', '/api/v1/tasks', { name: 'fails', schedule: { manual: true }, action: { process: { command: 'exit 2' } }, policies: { retry: { delaysMs: [10] } } });
      await api(node, 'POST', `/api/v1/tasks/${bad.body.id}/trigger`);
      await waitFor(() => rx.forTask(t.body.id).length >= 2, 'two firings');
      const text = await waitFor(async () => {
        const m = await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text();
        return sample(m, 'rota_runs_finished_total', 'state="failed"') >= 2 && sample(m, 'rota_runs_finished_total', 'state="succeeded"') >= 2 ? m : null;
      }, 'runs counted');
      const res = await fetch(`http://127.0.0.1:${node.port}/metrics`);
      expect(res.headers.get('content-type')).to.match(/text\/plain/);
      expect(sample(text, 'rota_firings_planned_total', 'trigger="schedule"')).to.be.at.least(2);
      expect(sample(text, 'rota_firings_planned_total', 'trigger="manual"')).to.equal(1);
      expect(sample(text, 'rota_retries_total')).to.equal(1); // the failing task's one retry
      expect(sample(text, 'rota_firing_lateness_seconds_count')).to.be.at.least(3);
      // Protocol v2 plans 20 s of the every-second task in one transaction: one is enough to move it.
      expect(sample(text, 'rota_etcd_txn_seconds_count')).to.be.at.least(1);
      expect(sample(text, 'rota_nodes', 'state="active"')).to.equal(1);
      expect(sample(text, 'rota_nodes', 'state="draining"')).to.equal(0);
      expect(sample(text, 'rota_inflight_runs')).to.be.at.least(0);
      expect(text).to.contain('rota_process_resident_memory_bytes');
      expect(text).to.match(/^rota_build_info\{version="[^"]+",protocol="2"\} 1$/m);
      // The cluster's counters as the node sums them (one node here: its own, none missing).
      const stats = await api(node, 'GET', '/api/v1/cluster/stats');
      expect(stats.status).to.equal(200);
      expect(stats.body.missing).to.deep.equal([]);
      expect(stats.body.nodes.map((n: { id: string }) => n.id)).to.deep.equal(['n1']);
      expect(stats.body.totals.rota_runs_finished_total.failed).to.be.at.least(2);
      expect(stats.body.totals.rota_firings_planned_total.manual).to.equal(1);
    } finally {
      await node.stop();
      await rx.stop();
    }
  });
});

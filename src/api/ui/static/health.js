// Cluster health at a glance: leader, etcd, nodes, firings per second and the counters that
// say something went wrong (late, missed, skipped, failed, lost), summed over every node
// (/api/v1/cluster/stats), so two refreshes through a load balancer show the same cluster.
import { useRef } from 'preact/hooks';
import { html, api, usePoll } from './api.js';
import { fmtBytes, fmtDuration } from './format.js';

const HISTORY = 60;

/** A small line chart of the last HISTORY samples. */
export function Sparkline({ values, width = 320, height = 60 }) {
  const max = Math.max(1, ...values);
  const pts = values.map((v, i) => `${(i / Math.max(1, HISTORY - 1)) * width},${height - (v / max) * (height - 4) - 2}`).join(' ');
  return html`<svg class="spark" width=${width} height=${height} viewBox="0 0 ${width} ${height}" role="img" aria-label="firings per second">
    <polyline points=${pts} fill="none" stroke="currentColor" stroke-width="2" />
    <text x="4" y="12" class="spark-label">max ${max.toFixed(1)}/s</text>
  </svg>`;
}

function Stat({ label, value, hint, tone = '', id }) {
  return html`<div class="stat ${tone}" data-stat=${id}><div class="stat-value">${value}</div><div class="stat-label">${label}</div>${hint && html`<div class="muted small">${hint}</div>`}</div>`;
}

export function HealthPage() {
  const history = useRef({ samples: [], rates: [] });
  const { data, error } = usePoll(async () => {
    const [cluster, stats] = await Promise.all([api('GET', '/api/v1/cluster'), api('GET', '/api/v1/cluster/stats')]);
    const t = stats.totals;
    /** A summed series: its total, or one label's value. */
    const total = (name, label) => {
      const v = t[name];
      if (v === undefined) return 0;
      if (typeof v === 'number') return v;
      return label === undefined ? Object.values(v).reduce((a, b) => a + b, 0) : v[label] ?? 0;
    };
    const planned = total('rota_firings_planned_total');
    const now = performance.now();
    // The rate over the last ~10 s of samples (one poll interval alone is too jumpy).
    const h = history.current;
    h.samples = [...(h.samples || []), { planned, at: now }].filter((s) => now - s.at <= 10_500);
    const first = h.samples[0];
    if (h.samples.length > 1) h.rates = [...h.rates, Math.max(0, (planned - first.planned) / ((now - first.at) / 1000))].slice(-HISTORY);
    const count = total('rota_firing_lateness_seconds_count');
    const onTime = total('rota_firing_lateness_seconds_bucket', '1');
    return {
      cluster,
      missing: stats.missing,
      rates: h.rates,
      planned,
      late: count - onTime,
      started: count,
      missed: total('rota_firings_skipped_total', 'misfire'),
      overlap: total('rota_firings_skipped_total', 'overlap'),
      failed: total('rota_runs_finished_total', 'failed'),
      succeeded: total('rota_runs_finished_total', 'succeeded'),
      lost: total('rota_runs_lost_total'),
      retries: total('rota_retries_total'),
      inflight: total('rota_inflight_runs'),
    };
  });
  if (!data) return html`<section><h1>Cluster</h1>${error ? html`<p class="error">${error.message}</p>` : html`<p class="muted">Loading…</p>`}</section>`;
  const { cluster: c } = data;
  const etcd = c.etcd || {};
  const members = c.members || [];
  const rate = data.rates.length ? data.rates[data.rates.length - 1] : 0;
  const lat = (c.metrics && c.metrics.lateness) || {};
  return html`<section id="health-page">
    <h1>Cluster</h1>
    ${error && html`<p class="error">Live update failed: ${error.message}</p>`}
    <div class="cards">
      <div class="card">
        <h3>Leader</h3>
        <p class="big" id="leader">${c.leader ? c.leader.id : 'none'}</p>
        <p class="muted">${c.leader ? c.leader.address : 'no node leads right now'} · this page is served by <b id="served-by">${c.self && c.self.id}</b></p>
      </div>
      <div class="card">
        <h3>etcd</h3>
        <p class="big ${etcd.healthy ? 'ok' : 'bad'}" id="etcd-health">${etcd.healthy ? 'healthy' : 'unhealthy'}</p>
        <p class="muted">${etcd.healthy ? `version ${etcd.version} · db ${fmtBytes(etcd.dbSize)} · raft index ${etcd.raftIndex}` : etcd.error}</p>
      </div>
      <div class="card">
        <h3>Nodes</h3>
        <p class="big">${members.filter((n) => n.state !== 'draining').length} active</p>
        <p class="muted">${members.filter((n) => n.state === 'draining').length} draining · <a href="#/nodes">details</a></p>
      </div>
    </div>
    <div class="card wide">
      <h3>Firings per second <span class="muted small">(planned, summed over the nodes)</span></h3>
      <div class="row"><span class="big" id="firing-rate">${rate.toFixed(1)}/s</span><${Sparkline} values=${data.rates} /></div>
    </div>
    <div class="stats">
      <${Stat} id="planned" label="firings planned" value=${data.planned} />
      <${Stat} id="late" label="started > 1 s late" value=${data.late} tone=${data.late ? 'warn' : ''} hint=${`p50 ${fmtDuration(lat.p50)} · p99 ${fmtDuration(lat.p99)}`} />
      <${Stat} id="missed" label="missed (misfire)" value=${data.missed} tone=${data.missed ? 'warn' : ''} />
      <${Stat} id="skipped" label="skipped (overlap)" value=${data.overlap} />
      <${Stat} id="succeeded" label="runs succeeded" value=${data.succeeded} tone="ok" />
      <${Stat} id="failed" label="runs failed" value=${data.failed} tone=${data.failed ? 'bad' : ''} />
      <${Stat} id="lost" label="runs lost" value=${data.lost} tone=${data.lost ? 'bad' : ''} />
      <${Stat} id="retries" label="retries" value=${data.retries} />
      <${Stat} id="inflight" label="in flight" value=${data.inflight} />
    </div>
    ${data.missing.length > 0 && html`<p class="error" id="stats-missing">Not counted: ${data.missing.map((n) => `${n.id} (${n.error})`).join(', ')}</p>`}
    <p class="muted small">Counters summed over every live node since each started (a restarted node counts from 0). Every node serves <code>/metrics</code> for Prometheus.</p>
  </section>`;
}

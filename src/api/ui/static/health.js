// Cluster health at a glance: leader, etcd, nodes, firings per second and the counters that
// say something went wrong (late, missed, skipped, failed, lost), from /metrics and /api/v1/cluster.
import { useRef } from 'preact/hooks';
import { html, api, usePoll, parseMetrics, metric } from './api.js';
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
    const [cluster, text] = await Promise.all([api('GET', '/api/v1/cluster'), fetch('/metrics').then((r) => (r.ok ? r.text() : ''))]);
    const m = parseMetrics(text);
    const planned = metric(m, 'rota_firings_planned_total');
    const now = performance.now();
    // The rate over the last ~10 s of samples (one poll interval alone is too jumpy).
    const h = history.current;
    h.samples = [...(h.samples || []), { planned, at: now }].filter((s) => now - s.at <= 10_500);
    const first = h.samples[0];
    if (h.samples.length > 1) h.rates = [...h.rates, Math.max(0, (planned - first.planned) / ((now - first.at) / 1000))].slice(-HISTORY);
    const count = metric(m, 'rota_firing_lateness_seconds_count');
    const onTime = metric(m, 'rota_firing_lateness_seconds_bucket', { le: '1' });
    return {
      cluster,
      rates: h.rates,
      planned,
      late: count - onTime,
      started: count,
      missed: metric(m, 'rota_firings_skipped_total', { reason: 'misfire' }),
      overlap: metric(m, 'rota_firings_skipped_total', { reason: 'overlap' }),
      failed: metric(m, 'rota_runs_finished_total', { state: 'failed' }),
      succeeded: metric(m, 'rota_runs_finished_total', { state: 'succeeded' }),
      lost: metric(m, 'rota_runs_lost_total'),
      retries: metric(m, 'rota_retries_total'),
      inflight: metric(m, 'rota_inflight_runs'),
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
        <p class="muted">${c.leader ? c.leader.address : 'no node leads right now'} · this page is served by <b>${c.self && c.self.id}</b></p>
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
      <h3>Firings per second <span class="muted small">(planned by the leader, as counted on this node)</span></h3>
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
      <${Stat} id="inflight" label="in flight here" value=${data.inflight} />
    </div>
    <p class="muted small">Counters are those of the node serving this page since it started (the planner's move on the leader; run counters on the node that ran the work). Every node serves <code>/metrics</code> for Prometheus.</p>
  </section>`;
}

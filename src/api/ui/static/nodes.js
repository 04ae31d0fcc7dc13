// Nodes: leader, draining, capacity and load, the runs in flight on each, drain and undrain.
import { useState } from 'preact/hooks';
import { html, api, usePoll } from './api.js';
import { fmtRelative, fmtTime } from './format.js';

async function loadNodes() {
  const cluster = await api('GET', '/api/v1/cluster');
  const members = cluster.members || [];
  const inflight = await Promise.all(members.map((n) => api('GET', `/api/v1/nodes/${encodeURIComponent(n.id)}/inflight`).then((p) => p.items, () => [])));
  return { cluster, nodes: members.map((n, i) => ({ ...n, inflight: inflight[i] })) };
}

export function NodesPage() {
  const { data, error, reload } = usePoll(loadNodes);
  const [actionError, setActionError] = useState('');
  const drain = async (n, on) => {
    setActionError('');
    try {
      await api('POST', `/api/v1/nodes/${encodeURIComponent(n.id)}/${on ? 'drain' : 'undrain'}`);
      reload();
    } catch (e) {
      setActionError(`${on ? 'drain' : 'undrain'} ${n.id}: ${e.message}`);
    }
  };
  if (!data) return html`<section><h1>Nodes</h1>${error ? html`<p class="error">${error.message}</p>` : html`<p class="muted">Loading…</p>`}</section>`;
  const leader = data.cluster.leader && data.cluster.leader.id;
  return html`<section id="nodes-page">
    <h1>Nodes</h1>
    ${error && html`<p class="error">Live update failed: ${error.message}</p>`}
    ${actionError && html`<p class="error">${actionError}</p>`}
    <table class="list" id="nodes-table">
      <thead><tr><th>Node</th><th>Address</th><th>State</th><th>Load</th><th>In flight</th><th>Up since</th><th></th></tr></thead>
      <tbody>
        ${data.nodes.map((n) => {
          const load = n.inflight.length / Math.max(1, n.capacity);
          return html`<tr data-node=${n.id} data-state=${n.state}>
            <td><b>${n.id}</b> ${n.id === leader && html`<span class="badge ok" data-leader>leader</span>`}<div class="muted small">${n.hostname} · v${n.version}</div>${n.clock?.skewed ? html`<span class="badge bad" data-clock-skewed title="its clock is off from the others': it claims nothing until it is back (chrony/NTP)">clock ${n.clock.offsetMs > 0 ? '+' : ''}${n.clock.offsetMs} ms</span>` : n.clock && n.clock.offsetMs !== null ? html`<div class="muted small" data-clock>clock ${n.clock.offsetMs >= 0 ? '+' : ''}${n.clock.offsetMs} ms</div>` : ''}</td>
            <td class="mono small">${n.address}${n.attributes && Object.keys(n.attributes).length ? html`<div class="muted">${Object.entries(n.attributes).map(([k, v]) => `${k}=${v}`).join(' ')}</div>` : ''}</td>
            <td><span class="badge ${n.state === 'draining' ? 'warn' : 'ok'} node-state">${n.state}</span></td>
            <td><div class="meter" title=${`${n.inflight.length} of ${n.capacity}`}><div style=${`width:${Math.min(100, load * 100)}%`}></div></div>
              <span class="small">${n.inflight.length} / ${n.capacity}</span>${n.resources ? html`<div class="muted small">${n.resources.cpu} cpu · ${n.resources.memMb} MB</div>` : ''}</td>
            <td class="small">${n.inflight.length === 0 ? html`<span class="muted">none</span>` : html`<ul class="inflight">${n.inflight.map((i) => html`<li><a href=${`#/tasks/${i.taskId}`}>${i.runId}</a> <span class="muted">${i.startedMs > Date.now() ? `claimed, due ${fmtRelative(i.startedMs)}` : `${i.state}${i.startedMs ? `, started ${fmtRelative(i.startedMs)}` : ''}`}</span></li>`)}</ul>`}</td>
            <td class="small">${fmtTime(n.startedMs)}</td>
            <td class="actions">${n.state === 'draining' ? html`<button class="undrain" onClick=${() => drain(n, false)}>Undrain</button>` : html`<button class="drain" onClick=${() => drain(n, true)}>Drain</button>`}</td>
          </tr>`;
        })}
      </tbody>
    </table>
    <p class="muted small">Drain: the node takes no new work and its in-flight runs finish; it stays drained across restarts until undrained. Node operations need an operator tenant.</p>
  </section>`;
}

// Nodes: leader, draining, capacity and load, the runs in flight on each, drain and undrain; a
// page per node with its runs in flight, its daemons and its recent runs.
import { useState } from 'preact/hooks';
import { html, api, usePoll } from './api.js';
import { fmtDuration, fmtRelative, fmtTime } from './format.js';
import { RunState } from './tasks.js';

async function loadNodes() {
  const cluster = await api('GET', '/api/v1/cluster');
  const members = cluster.members || [];
  const inflight = await Promise.all(members.map((n) => api('GET', `/api/v1/nodes/${encodeURIComponent(n.id)}/inflight`).then((p) => p.items, () => [])));
  return { cluster, nodes: members.map((n, i) => ({ ...n, inflight: inflight[i] })) };
}

/** Drain or undrain a node; the error, if any, to show. */
function useDrain(reload) {
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
  return { drain, actionError };
}

const DrainButton = ({ n, drain }) =>
  n.state === 'draining' ? html`<button class="undrain" onClick=${() => drain(n, false)}>Undrain</button>` : html`<button class="drain" onClick=${() => drain(n, true)}>Drain</button>`;

export function NodesPage() {
  const { data, error, reload } = usePoll(loadNodes);
  const { drain, actionError } = useDrain(reload);
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
            <td><a href=${`#/nodes/${encodeURIComponent(n.id)}`} class="node-link"><b>${n.id}</b></a> ${n.id === leader && html`<span class="badge ok" data-leader>leader</span>`}<div class="muted small">${n.hostname} · v${n.version}</div>${n.clock?.skewed ? html`<span class="badge bad" data-clock-skewed title="its clock is off from the others': it claims nothing until it is back (chrony/NTP)">clock ${n.clock.offsetMs > 0 ? '+' : ''}${n.clock.offsetMs} ms</span>` : n.clock && n.clock.offsetMs !== null ? html`<div class="muted small" data-clock>clock ${n.clock.offsetMs >= 0 ? '+' : ''}${n.clock.offsetMs} ms</div>` : ''}</td>
            <td class="mono small">${n.address}${n.attributes && Object.keys(n.attributes).length ? html`<div class="muted">${Object.entries(n.attributes).map(([k, v]) => `${k}=${v}`).join(' ')}</div>` : ''}</td>
            <td><span class="badge ${n.state === 'draining' ? 'warn' : 'ok'} node-state">${n.state}</span></td>
            <td><div class="meter" title=${`${n.inflight.length} of ${n.capacity}`}><div style=${`width:${Math.min(100, load * 100)}%`}></div></div>
              <span class="small">${n.inflight.length} / ${n.capacity}</span>${n.resources ? html`<div class="muted small">${n.resources.cpu} cpu · ${n.resources.memMb} MB</div>` : ''}</td>
            <td class="small">${n.inflight.length === 0 ? html`<span class="muted">none</span>` : html`<ul class="inflight">${n.inflight.map((i) => html`<li><a href=${`#/tasks/${i.taskId}`}>${i.runId}</a> <span class="muted">${i.startedMs > Date.now() ? `claimed, due ${fmtRelative(i.startedMs)}` : `${i.state}${i.startedMs ? `, started ${fmtRelative(i.startedMs)}` : ''}`}</span></li>`)}</ul>`}</td>
            <td class="small">${fmtTime(n.startedMs)}</td>
            <td class="actions"><${DrainButton} n=${n} drain=${drain} /></td>
          </tr>`;
        })}
      </tbody>
    </table>
    <p class="muted small">Drain: the node takes no new work and its in-flight runs finish; it stays drained across restarts until undrained. Node operations need an operator tenant.</p>
  </section>`;
}

async function loadNode(id) {
  const [cluster, inflight, recent] = await Promise.all([
    api('GET', '/api/v1/cluster'),
    api('GET', `/api/v1/nodes/${encodeURIComponent(id)}/inflight`),
    api('GET', `/api/v1/log?node=${encodeURIComponent(id)}&limit=20`),
  ]);
  return { cluster, node: (cluster.members || []).find((n) => n.id === id), inflight: inflight.items, recent: recent.items };
}

/** One node: state, version, capacity and load, clock, its runs in flight (daemons apart), its newest runs. */
export function NodePage({ id }) {
  const { data, error, reload } = usePoll(() => loadNode(id), id);
  const { drain, actionError } = useDrain(reload);
  if (!data) return html`<section><h1>Node ${id}</h1>${error ? html`<p class="error">${error.message}</p>` : html`<p class="muted">Loading…</p>`}</section>`;
  const n = data.node;
  if (!n) return html`<section id="node-page" data-node=${id}><h1>Node ${id}</h1><p class="error">Not a live member of the cluster (stopped, or its lease ran out).</p><p><a href="#/nodes">All nodes</a></p></section>`;
  const leader = data.cluster.leader && data.cluster.leader.id === n.id;
  const daemons = data.inflight.filter((i) => i.daemon);
  const runs = data.inflight.filter((i) => !i.daemon);
  const now = Date.now();
  const item = (i) => html`<li data-run=${i.runId}><a href=${`#/tasks/${i.taskId}`}>${i.runId}</a> <span class="muted small">${i.startedMs > now ? `claimed, due ${fmtRelative(i.startedMs, now)}` : `${i.state ?? 'running'}${i.startedMs ? `, started ${fmtRelative(i.startedMs, now)}` : ''}${i.pid ? `, pid ${i.pid}` : ''}`}</span></li>`;
  return html`<section id="node-page" data-node=${n.id} data-state=${n.state}>
    <div class="row">
      <h1>Node ${n.id}</h1>
      ${leader && html`<span class="badge ok" data-leader>leader</span>`}
      <span class="badge ${n.state === 'draining' ? 'warn' : 'ok'} node-state">${n.state}</span>
      <span class="spacer"></span>
      <a class="button" href="#/nodes">All nodes</a>
      <${DrainButton} n=${n} drain=${drain} />
    </div>
    ${error && html`<p class="error">Live update failed: ${error.message}</p>`}
    ${actionError && html`<p class="error">${actionError}</p>`}
    <div class="cards">
      <div class="card"><h3>Node</h3>
        <p class="mono small">${n.address}</p>
        <p class="small">${n.hostname} · v${n.version} · up since ${fmtTime(n.startedMs)}</p>
        ${n.attributes && Object.keys(n.attributes).length > 0 && html`<p class="muted small">${Object.entries(n.attributes).map(([k, v]) => `${k}=${v}`).join(' ')}</p>`}
        ${n.clock && html`<p class=${`small ${n.clock.skewed ? 'error' : 'muted'}`}>clock ${n.clock.offsetMs == null ? 'not compared yet' : `${n.clock.offsetMs >= 0 ? '+' : ''}${n.clock.offsetMs} ms from the others`}${n.clock.skewed ? ': it claims nothing until it is back (chrony/NTP)' : ''}</p>`}
      </div>
      <div class="card"><h3>Load</h3>
        <p><span class="big" id="node-load">${data.inflight.length} / ${n.capacity}</span> <span class="muted small">runs in flight / capacity</span></p>
        <div class="meter"><div style=${`width:${Math.min(100, (data.inflight.length / Math.max(1, n.capacity)) * 100)}%`}></div></div>
        ${n.resources && html`<p class="muted small">${n.resources.cpu} cpu · ${n.resources.memMb} MB for placement</p>`}
      </div>
    </div>
    <div class="cards">
      <div class="card" id="node-inflight"><h3>Runs in flight (${runs.length})</h3>${runs.length ? html`<ul class="inflight">${runs.map(item)}</ul>` : html`<p class="muted">none</p>`}</div>
      <div class="card" id="node-daemons"><h3>Daemon replicas (${daemons.length})</h3>${daemons.length ? html`<ul class="inflight">${daemons.map(item)}</ul>` : html`<p class="muted">none</p>`}</div>
    </div>
    <div class="card wide"><h3>Newest runs here <a class="small" href="#/history">(history)</a></h3>
      <table class="list" id="node-runs"><thead><tr><th>when</th><th>task</th><th>state</th><th>took</th></tr></thead><tbody>
        ${data.recent.map(({ run, task, atMs }) => html`<tr data-run=${run.id}><td class="small">${fmtTime(atMs)}</td><td><a href=${`#/tasks/${task.id}`}>${task.name}</a></td><td><${RunState} state=${run.state} /></td><td class="small">${run.startedMs != null && run.endedMs != null ? fmtDuration(run.endedMs - run.startedMs) : '—'}</td></tr>`)}
        ${data.recent.length === 0 && html`<tr><td colspan="4" class="muted">No runs on this node in the history.</td></tr>`}
      </tbody></table>
    </div>
  </section>`;
}

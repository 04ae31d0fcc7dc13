// History: runs across the caller's tasks, filtered by state, trigger, task, group, node and time
// and paged on the server (GET /api/v1/log); the audit log (who did what); what fires in the next
// minutes (GET /api/v1/upcoming).
import { useState } from 'preact/hooks';
import { html, api, usePoll } from './api.js';
import { fmtDuration, fmtRelative, fmtTime } from './format.js';
import { RunState } from './tasks.js';

const PAGE = 50;
const RUN_STATES = ['failed', 'lost', 'killed', 'expired', 'skipped', 'running', 'pending', 'succeeded'];
const TRIGGERS = ['schedule', 'manual', 'retry', 'catch-up'];
const AUDIT = ['create', 'update', 'delete', 'pause', 'resume', 'trigger', 'kill', 'group-put', 'group-enable', 'group-disable', 'group-delete', 'alert'];
const SINCE = { '15m': 15 * 60_000, '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, all: null };

/** The task filter as the log takes it: an id as is, a name looked up (exactly). */
async function taskIdOf(ref) {
  if (!ref) return undefined;
  if (/^\d+$/.test(ref)) return ref;
  const page = await api('GET', `/api/v1/tasks?name=${encodeURIComponent(ref)}&limit=500`);
  const t = page.items.find((x) => x.name === ref);
  if (!t) throw new Error(`no task named ${ref}`);
  return t.id;
}

async function loadLog(f, audit) {
  const q = new URLSearchParams();
  // Without run kinds the log holds audit events too; asking for every run state keeps them out.
  q.set('kinds', audit ? (f.action || AUDIT.join(',')) : [f.state || RUN_STATES.join(','), f.trigger].filter(Boolean).join(','));
  const taskId = await taskIdOf(f.task.trim());
  if (taskId) q.set('taskId', taskId);
  else if (f.group.trim()) q.set('group', f.group.trim());
  if (!audit && f.node.trim()) q.set('node', f.node.trim());
  if (SINCE[f.since]) q.set('from', String(Date.now() - SINCE[f.since]));
  q.set('offset', String(f.offset));
  q.set('limit', String(PAGE));
  return api('GET', `/api/v1/log?${q}`);
}

const EMPTY = { state: '', trigger: '', action: '', task: '', group: '', node: '', since: '24h', offset: 0 };

export function HistoryPage({ audit = false }) {
  const [form, setForm] = useState(EMPTY);
  const [f, setF] = useState(EMPTY);
  const { data, error } = usePoll(() => loadLog(f, audit), `${audit}/${JSON.stringify(f)}`, 5000);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const apply = (e) => {
    e && e.preventDefault();
    setF({ ...form, offset: 0 });
  };
  const page = (offset) => setF({ ...f, offset });
  const total = data ? data.total : 0;
  return html`<section id="history-page" data-view=${audit ? 'audit' : 'runs'}>
    <div class="row">
      <h1>${audit ? 'Audit log' : 'Run history'}</h1>
      <nav class="tabs"><a href="#/history" class=${audit ? '' : 'active'}>Runs</a><a href="#/history/audit" class=${audit ? 'active' : ''} id="audit-tab">Audit log</a></nav>
    </div>
    <form class="row filters" id="history-filters" onSubmit=${apply}>
      ${audit
        ? html`<select name="action" value=${form.action} onChange=${set('action')}><option value="">every action</option>${AUDIT.map((a) => html`<option value=${a}>${a}</option>`)}</select>`
        : html`<select name="state" value=${form.state} onChange=${set('state')}><option value="">every state</option>${RUN_STATES.map((s) => html`<option value=${s}>${s}</option>`)}</select>
            <select name="trigger" value=${form.trigger} onChange=${set('trigger')}><option value="">every trigger</option>${TRIGGERS.map((s) => html`<option value=${s}>${s}</option>`)}</select>`}
      <input name="task" placeholder="task id or name" value=${form.task} onInput=${set('task')} />
      <input name="group" placeholder="group" value=${form.group} onInput=${set('group')} />
      ${!audit && html`<input name="node" placeholder="node" value=${form.node} onInput=${set('node')} />`}
      <select name="since" value=${form.since} onChange=${set('since')}>${Object.keys(SINCE).map((s) => html`<option value=${s}>${s === 'all' ? 'any time' : `last ${s}`}</option>`)}</select>
      <button type="submit" class="primary">Show</button>
    </form>
    ${error && html`<p class="error">${error.message}</p>`}
    ${!data ? html`<p class="muted">Loading…</p>` : audit ? html`<${AuditTable} items=${data.items} />` : html`<${RunsTable} items=${data.items} />`}
    ${data && html`<div class="row pager">
      <span class="muted small" id="history-count">${total === 0 ? 'nothing' : `${f.offset + 1}–${Math.min(f.offset + PAGE, total)} of ${total}`}</span>
      <span class="spacer"></span>
      <button id="newer" disabled=${f.offset === 0} onClick=${() => page(Math.max(0, f.offset - PAGE))}>Newer</button>
      <button id="older" disabled=${f.offset + PAGE >= total} onClick=${() => page(f.offset + PAGE)}>Older</button>
    </div>`}
    ${!audit && html`<${Upcoming} />`}
  </section>`;
}

function RunsTable({ items }) {
  const now = Date.now();
  return html`<table class="list" id="history-table">
    <thead><tr><th>when</th><th>task</th><th>state</th><th>trigger</th><th>attempt</th><th>node</th><th>took</th><th>result</th></tr></thead>
    <tbody>
      ${items.map(({ run, task, atMs }) => html`<tr data-run=${run.id} data-state=${run.state} data-task=${task.name}>
        <td class="small">${fmtTime(atMs)}<div class="muted">${fmtRelative(atMs, now)}</div></td>
        <td><a href=${`#/tasks/${task.id}`}>${task.name}</a>${task.group && html`<div class="muted small">${task.group}</div>`}</td>
        <td><${RunState} state=${run.state} /></td>
        <td class="small">${run.trigger}</td>
        <td class="small">#${run.attempt}${run.replica ? ` · replica ${run.replica}` : ''}</td>
        <td class="small">${run.node ? html`<a href=${`#/nodes/${encodeURIComponent(run.node)}`}>${run.node}</a>` : '—'}</td>
        <td class="small">${run.startedMs != null && run.endedMs != null ? fmtDuration(run.endedMs - run.startedMs) : '—'}</td>
        <td class="small">${run.exitCode != null ? `exit ${run.exitCode}` : run.httpStatus != null ? `HTTP ${run.httpStatus}` : ''} ${run.message && !/^exit code -?\d+$/.test(run.message) ? html`<span class="muted">${run.message.slice(0, 100)}</span>` : ''}</td>
      </tr>`)}
      ${items.length === 0 && html`<tr><td colspan="8" class="muted">No runs match.</td></tr>`}
    </tbody>
  </table>`;
}

function AuditTable({ items }) {
  return html`<table class="list" id="audit-table">
    <thead><tr><th>when</th><th>action</th><th>task</th><th>by</th><th>detail</th></tr></thead>
    <tbody>
      ${items.map(({ event: e }) => html`<tr data-action=${e.action} data-task=${e.taskName ?? ''}>
        <td class="small">${fmtTime(e.atMs)}</td>
        <td><span class="badge">${e.action}</span></td>
        <td>${e.taskId ? html`<a href=${`#/tasks/${e.taskId}`}>${e.taskName ?? e.taskId}</a>` : e.group ?? '—'}</td>
        <td class="small">${e.actor ?? e.by ?? '—'}</td>
        <td class="small mono">${e.detail ? JSON.stringify(e.detail) : ''}</td>
      </tr>`)}
      ${items.length === 0 && html`<tr><td colspan="5" class="muted">No events match.</td></tr>`}
    </tbody>
  </table>`;
}

/** The next ten minutes across the tenant's tasks. */
function Upcoming() {
  const { data, error } = usePoll(() => api('GET', '/api/v1/upcoming?within=600000&limit=50'), 'upcoming', 5000);
  const now = Date.now();
  return html`<div class="card wide" id="upcoming">
    <h3>Next 10 minutes <span class="muted small">(enabled tasks, soonest first${data && data.more ? '; the first 50' : ''})</span></h3>
    ${error && html`<p class="error">${error.message}</p>`}
    ${!data ? html`<p class="muted">Loading…</p>` : data.items.length === 0 ? html`<p class="muted">Nothing fires in the next 10 minutes.</p>` : html`<ol class="next">
      ${data.items.map((i) => html`<li data-task=${i.name} data-ms=${i.ms}><a href=${`#/tasks/${i.taskId}`}>${i.name}</a> <span class="small">${fmtTime(i.ms)}</span> <span class="muted small">${fmtRelative(i.ms, now)}</span></li>`)}
    </ol>`}
  </div>`;
}

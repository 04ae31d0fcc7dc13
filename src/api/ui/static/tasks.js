// The task list (search, filters, state, last outcome, actions) and the create/edit form.
import { useEffect, useState } from 'preact/hooks';
import { html, api, usePoll } from './api.js';
import { scheduleWords, scheduleRaw, actionWords, fmtRelative } from './format.js';

const PAGE = 100;

/** A page of tasks, filtered, ordered and paged by the server, each with its newest finished run and its runs in flight. */
async function loadTasks(v) {
  const q = new URLSearchParams({ sort: v.sort, offset: String(v.offset), limit: String(PAGE) });
  if (v.q) q.set('name', v.q);
  if (v.filter === 'enabled' || v.filter === 'paused') q.set('enabled', String(v.filter === 'enabled'));
  if (v.filter === 'running') q.set('running', 'true');
  if (v.filter === 'failing') q.set('lastOutcome', 'failed,lost,expired,killed');
  if (v.filter.startsWith('group:')) q.set('group', v.filter.slice(6));
  const page = await api('GET', `/api/v1/tasks?${q}`);
  return { tasks: page.items, total: page.total };
}

export async function taskAction(verb, task, reload) {
  if (verb === 'delete' && !confirm(`Delete task ${task.name}? Its history goes too.`)) return false;
  if (verb === 'delete') await api('DELETE', `/api/v1/tasks/${task.id}`);
  else await api('POST', `/api/v1/tasks/${task.id}/${verb}`);
  reload && reload();
  return true;
}

export function StateBadges({ task, running }) {
  return html`<span class="badges">
    <span class="badge ${task.enabled ? 'ok' : 'muted'}" data-state=${task.enabled ? 'enabled' : 'paused'}>${task.enabled ? 'enabled' : 'paused'}</span>
    ${running && html`<span class="badge run" data-state="running">running now</span>`}
  </span>`;
}

export function RunState({ state }) {
  return html`<span class="badge state-${state}">${state}</span>`;
}

export function TaskList() {
  const [v, setV] = useState({ q: '', filter: 'all', sort: 'id', offset: 0 });
  const { data, error, reload } = usePoll(() => loadTasks(v), JSON.stringify(v));
  const [groups, setGroups] = useState([]);
  const [actionError, setActionError] = useState('');
  const act = (verb, t) => taskAction(verb, t, reload).catch((e) => setActionError(`${verb} ${t.name}: ${e.message}`));
  const set = (k) => (e) => setV({ ...v, [k]: e.target.value, offset: 0 });
  // Groups seen on any page so far: the filter offers them.
  useEffect(() => {
    if (!data) return;
    const seen = [...new Set([...groups, ...data.tasks.map((t) => t.group).filter(Boolean)])].sort();
    if (seen.length !== groups.length) setGroups(seen);
  }, [data]);
  const shown = data ? data.tasks : [];
  const total = data ? data.total : 0;
  return html`<section id="tasks-page">
    <div class="row">
      <h1>Tasks</h1><span class="spacer"></span>
      <a class="button primary" href="#/tasks/new" id="new-task">New task</a>
    </div>
    <div class="row filters">
      <input type="search" id="task-search" placeholder="Search names" value=${v.q} onInput=${set('q')} />
      <select id="task-filter" value=${v.filter} onChange=${set('filter')}>
        <option value="all">all</option><option value="enabled">enabled</option><option value="paused">paused</option>
        <option value="running">running now</option><option value="failing">last run failed</option>
        ${groups.map((g) => html`<option value=${`group:${g}`}>group ${g}</option>`)}
      </select>
      <select id="task-sort" value=${v.sort} onChange=${set('sort')} title="order">
        <option value="id">by creation</option><option value="name">by name</option><option value="next">by next firing</option><option value="last">by last outcome</option>
      </select>
    </div>
    ${error && html`<p class="error">${error.message}</p>`}
    ${actionError && html`<p class="error">${actionError}</p>`}
    ${!data ? html`<p class="muted">Loading…</p>` : html`<table class="list" id="task-table">
      <thead><tr><th>Name</th><th>Schedule</th><th>Action</th><th>State</th><th>Last run</th><th></th></tr></thead>
      <tbody>
        ${shown.map((t) => {
          const last = t.lastRun;
          return html`<tr data-task=${t.name}>
            <td><a href=${`#/tasks/${t.id}`}>${t.name}</a>${t.group && html`<div class="muted small">${t.group}</div>`}</td>
            <td>${scheduleWords(t.schedule)}<div class="muted small mono">${scheduleRaw(t.schedule)}</div></td>
            <td class="mono small">${actionWords(t.action)}</td>
            <td><${StateBadges} task=${t} running=${t.running > 0} /></td>
            <td>${last ? html`<${RunState} state=${last.state} /> <span class="muted small">${fmtRelative(last.endedMs)}</span>` : html`<span class="muted">never</span>`}</td>
            <td class="actions">
              ${t.enabled ? html`<button onClick=${() => act('pause', t)}>Pause</button>` : html`<button onClick=${() => act('resume', t)}>Resume</button>`}
              <button onClick=${() => act('trigger', t)}>Run now</button>
              <button class="danger" onClick=${() => act('delete', t)}>Delete</button>
            </td>
          </tr>`;
        })}
        ${shown.length === 0 && html`<tr><td colspan="6" class="muted">No tasks${v.q || v.filter !== 'all' ? ' match' : ' yet'}.</td></tr>`}
      </tbody>
    </table>`}
    ${data && html`<div class="row pager">
      <span class="muted small" id="task-count">${total === 0 ? 'no tasks' : `${v.offset + 1}–${Math.min(v.offset + PAGE, total)} of ${total}`}</span>
      <span class="spacer"></span>
      <button id="tasks-prev" disabled=${v.offset === 0} onClick=${() => setV({ ...v, offset: Math.max(0, v.offset - PAGE) })}>Previous</button>
      <button id="tasks-next" disabled=${v.offset + PAGE >= total} onClick=${() => setV({ ...v, offset: v.offset + PAGE })}>Next</button>
    </div>`}
  </section>`;
}

/** Which form field an API error is about (the message names it: "schedule.cron: ...", "unknown field 'x' in action"). */
export function fieldOf(err) {
  const m = String(err.message || '');
  const named = /^([a-zA-Z]+)[.:\[]/.exec(m)?.[1] || / in ([a-zA-Z]+)/.exec(m)?.[1] || /^unknown field '([a-zA-Z]+)'$/.exec(m)?.[1];
  if (err.code === 'INVALID_SCHEDULE' || named === 'schedule' || /\b(cron|time zone)\b/.test(m)) return 'schedule';
  if (err.code === 'INVALID_ACTION' || err.code === 'USER_NOT_ALLOWED' || named === 'action') return 'action';
  if (named === 'name' || (err.code === 'CONFLICT' && /name/.test(m))) return 'name';
  if (named === 'group') return 'group';
  if (named && ['policies', 'placement', 'replicas', 'callback', 'deps', 'params', 'labels'].includes(named)) return 'extra';
  return 'form';
}

const EMPTY = { name: '', group: '', kind: 'cron', cron: '*/10 * * * * *', tz: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC', every: '1m', at: '', actionKind: 'process', command: '', url: '', method: 'GET', extra: '' };

function formOf(t) {
  const s = t.schedule;
  const a = t.action;
  const { id, tenant, name, group, enabled, schedule, action, createdMs, updatedMs, createdAt, updatedAt, lastRun, running, ...rest } = t;
  return {
    ...EMPTY,
    name: t.name,
    group: t.group || '',
    kind: 'cron' in s ? 'cron' : 'everyMs' in s ? 'every' : 'atMs' in s ? 'at' : Object.keys(s)[0],
    cron: s.cron || EMPTY.cron,
    tz: s.tz || EMPTY.tz,
    every: s.everyMs ? `${s.everyMs}ms` : EMPTY.every,
    at: s.at || '',
    actionKind: a.process ? 'process' : a.http ? 'http' : 'other',
    command: a.process ? a.process.command : '',
    url: a.http ? a.http.url : '',
    method: a.http ? a.http.method : 'GET',
    extra: JSON.stringify(rest, null, 2),
  };
}

/** The API body from the form; `original` keeps what the form does not show (env, headers, ...). */
function bodyOf(f, original) {
  const schedule = f.kind === 'cron' ? { cron: f.cron, tz: f.tz } : f.kind === 'every' ? { every: f.every } : f.kind === 'at' ? { at: f.at } : { [f.kind]: true };
  let action = original ? original.action : undefined;
  if (f.actionKind === 'process') action = { process: { ...(action && action.process), command: f.command } };
  if (f.actionKind === 'http') action = { http: { ...(action && action.http), url: f.url, method: f.method } };
  let extra = {};
  if (f.extra.trim()) {
    try {
      extra = JSON.parse(f.extra);
    } catch (e) {
      throw Object.assign(new Error(`not JSON: ${e.message}`), { field: 'extra' });
    }
  }
  return { ...extra, name: f.name, ...(f.group ? { group: f.group } : {}), enabled: original ? original.enabled : true, schedule, action };
}

export function TaskForm({ id }) {
  const [f, setF] = useState(id ? null : EMPTY);
  const [original, setOriginal] = useState(null);
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (id) api('GET', `/api/v1/tasks/${id}`).then((t) => (setOriginal(t), setF(formOf(t))), (e) => setErrors({ form: e.message }));
  }, [id]);
  if (!f) return html`<section><p class="muted">Loading…</p>${errors.form && html`<p class="error">${errors.form}</p>`}</section>`;
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const err = (k) => errors[k] && html`<p class="field-error" data-error-for=${k}>${errors[k]}</p>`;
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      const body = bodyOf(f, original);
      const t = id ? await api('PUT', `/api/v1/tasks/${id}`, body) : await api('POST', '/api/v1/tasks', body);
      location.hash = `#/tasks/${t.id}`;
    } catch (e2) {
      setErrors({ [e2.field || fieldOf(e2)]: e2.message });
    } finally {
      setBusy(false);
    }
  };
  return html`<section id="task-form-page">
    <h1>${id ? `Edit ${original ? original.name : ''}` : 'New task'}</h1>
    <form class="form" id="task-form" onSubmit=${submit} novalidate>
      <label>Name <input name="name" value=${f.name} onInput=${set('name')} /></label>${err('name')}
      <label>Group <input name="group" value=${f.group} onInput=${set('group')} placeholder="optional" /></label>${err('group')}
      <fieldset>
        <legend>Schedule</legend>
        <label>Kind <select name="kind" value=${f.kind} onChange=${set('kind')}>
          ${['cron', 'every', 'at', 'now', 'manual', 'daemon'].map((k) => html`<option value=${k}>${k}</option>`)}
        </select></label>
        ${f.kind === 'cron' && html`<label>Cron <input name="cron" class="mono" value=${f.cron} onInput=${set('cron')} placeholder="sec min hour day month weekday" /></label>
          <label>Time zone <input name="tz" value=${f.tz} onInput=${set('tz')} /></label>`}
        ${f.kind === 'every' && html`<label>Every <input name="every" value=${f.every} onInput=${set('every')} placeholder="30s, 5m, 1h" /></label>`}
        ${f.kind === 'at' && html`<label>At <input name="at" value=${f.at} onInput=${set('at')} placeholder="2026-01-31T12:00:00Z" /></label>`}
        ${err('schedule')}
      </fieldset>
      <fieldset>
        <legend>Action</legend>
        <label>Kind <select name="actionKind" value=${f.actionKind} onChange=${set('actionKind')}>
          <option value="process">process</option><option value="http">http</option>
          ${f.actionKind === 'other' && html`<option value="other">as stored (${actionWords(original && original.action)})</option>`}
        </select></label>
        ${f.actionKind === 'process' && html`<label>Command <input name="command" class="mono" value=${f.command} onInput=${set('command')} placeholder="/usr/local/bin/report --full" /></label>`}
        ${f.actionKind === 'http' && html`<label>URL <input name="url" value=${f.url} onInput=${set('url')} /></label>
          <label>Method <select name="method" value=${f.method} onChange=${set('method')}>${['GET', 'POST', 'PUT', 'DELETE'].map((m) => html`<option>${m}</option>`)}</select></label>`}
        ${err('action')}
      </fieldset>
      <label>Other fields (JSON: policies, placement, replicas, callback, labels, …)
        <textarea name="extra" class="mono" rows="6" value=${f.extra} onInput=${set('extra')} placeholder='{"policies": {"retry": {"max": 3}}}'></textarea></label>
      ${err('extra')}
      ${err('form')}
      <div class="row">
        <button type="submit" class="primary" disabled=${busy}>${id ? 'Save' : 'Create'}</button>
        <a class="button" href=${id ? `#/tasks/${id}` : '#/tasks'}>Cancel</a>
      </div>
      <p class="muted small">The server checks everything (the same rules as the API); its message appears next to the field it names.</p>
    </form>
  </section>`;
}

// One task: its definition, the next firing instants in its zone, the runs timeline (retries
// and lost attempts grouped under their firing), each run's output with a live tail.
import { useEffect, useState } from 'preact/hooks';
import { html, api, apiStream, download, usePoll } from './api.js';
import { scheduleWords, scheduleRaw, actionWords, fmtTime, fmtDuration, fmtRelative } from './format.js';
import { StateBadges, RunState, taskAction } from './tasks.js';

async function loadTask(id) {
  const [task, runs, next, slots] = await Promise.all([
    api('GET', `/api/v1/tasks/${id}`),
    api('GET', `/api/v1/tasks/${id}/runs?limit=100`),
    api('GET', `/api/v1/tasks/${id}/next?count=5`),
    api('GET', `/api/v1/tasks/${id}/slots?limit=60`),
  ]);
  const replicas = task.schedule.daemon ? (await api('GET', `/api/v1/tasks/${id}/replicas`)).items : [];
  return { task, runs: runs.items, next, replicas, slots: slots.items };
}

/** Runs grouped by firing (scheduled instant and replica), attempts ascending; newest firing first. */
export function firingsOf(runs) {
  const by = new Map();
  for (const r of runs) {
    const k = `${r.scheduledMs}/${r.replica ?? 0}`;
    if (!by.has(k)) by.set(k, []);
    by.get(k).push(r);
  }
  return [...by.values()].map((rs) => rs.sort((a, b) => a.attempt - b.attempt)).sort((a, b) => b[0].scheduledMs - a[0].scheduledMs);
}

/** A firing claimed ahead of its instant (scheduler.writeAheadMs) is 'running' with startedMs still to come. */
const due = (r, now) => r.state === 'running' && r.startedMs != null && r.startedMs > now;
const duration = (r, now) => (r.startedMs == null || due(r, now) ? null : (r.endedMs ?? now) - r.startedMs);
const lateness = (r) => (r.startedMs == null ? null : r.startedMs - r.scheduledMs);

/** An SVG strip: one bar per attempt from its start to its end (or now), coloured by state. */
function Timeline({ runs, now }) {
  const started = runs.filter((r) => r.startedMs != null || r.state === 'skipped' || r.state === 'expired');
  if (!started.length) return html`<p class="muted">No runs yet.</p>`;
  const t0 = Math.min(...started.map((r) => r.scheduledMs));
  const t1 = Math.max(now, ...started.map((r) => r.endedMs ?? r.scheduledMs));
  const W = 900;
  const H = 44;
  const x = (ms) => ((ms - t0) / Math.max(1, t1 - t0)) * (W - 10) + 5;
  return html`<svg class="timeline" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="runs timeline">
    <line x1="0" x2=${W} y1=${H - 8} y2=${H - 8} class="axis" />
    ${started.map((r) => {
      const s = x(r.startedMs ?? r.scheduledMs);
      const e = x(r.endedMs ?? (r.state === 'running' ? now : r.startedMs ?? r.scheduledMs));
      return html`<g><title>${`${r.id}: ${r.state}, late ${fmtDuration(lateness(r))}, took ${fmtDuration(duration(r, now))}`}</title>
        <line x1=${x(r.scheduledMs)} x2=${x(r.scheduledMs)} y1=${H - 12} y2=${H - 4} class="tick" />
        <rect x=${s} y=${4 + (r.attempt - 1) * 6} width=${Math.max(3, e - s)} height="18" class=${`bar state-${r.state}`} />
      </g>`;
    })}
    <text x="4" y=${H - 1} class="axis-label">${fmtTime(t0)}</text>
    <text x=${W - 4} y=${H - 1} text-anchor="end" class="axis-label">${fmtTime(t1)}</text>
  </svg>`;
}

/** "Why did this not run?": the last hour's instants, newest first, each with its outcome and the reason in words. */
function Slots({ slots, tz }) {
  const notRun = slots.filter((s) => s.outcome !== 'succeeded' && s.outcome !== 'pending' && s.outcome !== 'running').length;
  return html`<div class="card wide" id="slots">
    <h3>Instants <span class="muted small">(the last hour, newest first: what became of each and why; ${notRun ? `${notRun} did not run or failed` : 'all ran'})</span></h3>
    ${slots.length === 0 ? html`<p class="muted">No instant in the last hour.</p>` : html`<ol class="slots">
      ${slots.map((s) => html`<li data-ms=${s.scheduledAt} data-outcome=${s.outcome} title=${s.reason ?? s.outcome}>
        <span class=${`slot-dot state-${stateOf(s.outcome)} badge`}>${s.outcome}</span>
        <span class="small">${fmtTime(s.scheduledAt, tz)}${s.trigger === 'manual' ? ' · manual' : ''}</span>
        ${s.reason && html`<span class="muted small">${s.reason}</span>`}
      </li>`)}
    </ol>`}
  </div>`;
}

/** A slot's outcome as the run-state colour it shares. */
const stateOf = (outcome) => ({ missed: 'lost', paused: 'skipped' })[outcome] ?? outcome;

/** The page shows at most this much of an output (its end); Download has it whole. */
const MAX_SHOWN = 1024 * 1024;

/**
 * A run's whole output, streamed from the node that ran it (any node forwards the request
 * there): followed live while the run runs, read once when it has ended. Download saves it
 * whole; Kill ends a live run.
 */
function RunOutput({ runId, live, message, onKilled }) {
  const [text, setText] = useState('');
  const [info, setInfo] = useState({ loading: true, following: live, source: null, node: null, cut: false, error: null });
  const [actionError, setActionError] = useState('');
  useEffect(() => {
    const abort = new AbortController();
    let acc = '';
    let cut = false;
    apiStream(
      `/api/v1/runs/${encodeURIComponent(runId)}/output${live ? '?follow=true' : ''}`,
      (chunk, headers) => {
        acc += chunk;
        if (acc.length > MAX_SHOWN) (acc = acc.slice(-MAX_SHOWN)), (cut = true);
        setText(acc);
        setInfo((s) => ({ ...s, loading: false, source: headers.get('x-rota-output'), node: headers.get('x-rota-node'), cut }));
      },
      abort.signal,
    ).then(
      () => setInfo((s) => ({ ...s, loading: false, following: false })),
      (error) => !abort.signal.aborted && setInfo((s) => ({ ...s, loading: false, following: false, error })),
    );
    return () => abort.abort();
  }, [runId]);
  const act = async (what, fn) => {
    setActionError('');
    try {
      await fn();
    } catch (e) {
      setActionError(`${what}: ${e.message}`);
    }
  };
  const kill = () => act('kill', async () => (await api('POST', `/api/v1/runs/${encodeURIComponent(runId)}/kill`), onKilled && onKilled()));
  const save = () => act('download', () => download(`/api/v1/runs/${encodeURIComponent(runId)}/output?download=true`, `${runId}.log`));
  return html`<div class="card output" id="run-output" data-run=${runId} data-source=${info.source ?? ''}>
    <div class="row">
      <h3>Output of ${runId} ${info.following && html`<span class="badge run" id="output-live">live</span>`}</h3>
      <span class="spacer"></span>
      ${live && html`<button id="kill-run" class="danger" onClick=${kill}>Kill</button>`}
      <button id="download-output" onClick=${save}>Download</button>
    </div>
    ${message && html`<p class="muted">${message}</p>`}
    ${info.error && html`<p class="error">${info.error.message}</p>`}
    ${actionError && html`<p class="error">${actionError}</p>`}
    <pre class="mono">${info.loading ? 'Loading…' : text || '(no output)'}</pre>
    <p class="muted small">${info.source === 'tail'
      ? 'Only the last part kept with the run: the node that ran it is gone, or the action wrote no output file.'
      : `The whole output${info.node ? `, read on ${info.node}` : ''}${info.following ? ', as it is written' : ''}.${info.cut ? ' The page shows its last 1 MiB; Download has it all.' : ''}`}</p>
  </div>`;
}

export function TaskDetail({ id }) {
  const { data, error, reload } = usePoll(() => loadTask(id), id);
  const [selected, setSelected] = useState(null);
  const [actionError, setActionError] = useState('');
  if (!data) return html`<section>${error ? html`<p class="error">${error.message}</p>` : html`<p class="muted">Loading…</p>`}</section>`;
  const { task, runs, next, replicas, slots } = data;
  const now = Date.now();
  const running = runs.some((r) => r.state === 'running' && !due(r, now));
  const act = async (verb) => {
    setActionError('');
    try {
      if (await taskAction(verb, task, reload)) if (verb === 'delete') location.hash = '#/tasks';
    } catch (e) {
      setActionError(`${verb}: ${e.message}`);
    }
  };
  // A run of the list, or a replica's current run (it may be newer than the list's newest).
  const selReplica = selected && replicas.find((r) => r.runId === selected);
  const sel = selected && (runs.find((r) => r.id === selected) ?? (selReplica && { id: selReplica.runId, state: selReplica.state === 'running' ? 'running' : 'pending' }));
  const restartReplica = async (replica) => {
    setActionError('');
    try {
      await api('POST', `/api/v1/tasks/${task.id}/replicas/${replica}/restart`);
      reload();
    } catch (e) {
      setActionError(`restart replica ${replica}: ${e.message}`);
    }
  };
  const firings = firingsOf(runs);
  return html`<section id="task-page" data-task=${task.name}>
    <div class="row">
      <h1>${task.name}</h1><${StateBadges} task=${task} running=${running} /><span class="spacer"></span>
      <a class="button" href=${`#/tasks/${task.id}/edit`} id="edit-task">Edit</a>
      ${task.enabled ? html`<button id="pause" onClick=${() => act('pause')}>Pause</button>` : html`<button id="resume" onClick=${() => act('resume')}>Resume</button>`}
      <button id="trigger" onClick=${() => act('trigger')}>Run now</button>
      <button id="restart" title=${task.schedule.daemon ? 'stop every replica, then start it again' : 'kill its live runs and fire it now'} onClick=${() => act('restart')}>Restart</button>
      <button id="delete" class="danger" onClick=${() => act('delete')}>Delete</button>
    </div>
    ${error && html`<p class="error">Live update failed: ${error.message}</p>`}
    ${actionError && html`<p class="error">${actionError}</p>`}
    <div class="cards">
      <div class="card">
        <h3>Schedule</h3>
        <p id="schedule-words">${scheduleWords(task.schedule)}</p>
        <p class="muted mono">${scheduleRaw(task.schedule)}</p>
        <h4>Next firings ${!next.enabled && html`<span class="muted small">(paused: would fire at)</span>`}</h4>
        <ol class="next" id="next-firings">
          ${next.items.map((i) => html`<li data-ms=${i.ms}>${fmtTime(i.ms, next.tz)} <span class="muted small">${next.tz} · ${fmtRelative(i.ms, now)}</span></li>`)}
          ${next.items.length === 0 && html`<li class="muted">none</li>`}
        </ol>
      </div>
      <div class="card">
        <h3>Action</h3>
        <p class="mono">${actionWords(task.action)}</p>
        <p class="muted small">id ${task.id}${task.group ? ` · group ${task.group}` : ''} · replicas ${task.replicas} · overlap ${task.policies.overlap} · misfire ${task.policies.misfire.mode} · on lost ${task.policies.onLost}${task.policies.retry.max || task.policies.retry.delaysMs ? ` · retries ${task.policies.retry.max ?? task.policies.retry.delaysMs.length}` : ''}</p>
      </div>
    </div>
    ${replicas.length > 0 && html`<div class="card wide"><h3>Replicas</h3><table class="list" id="replicas-table"><thead><tr><th>replica</th><th>state</th><th>node</th><th>pid</th><th>restarts</th><th>last exit</th><th></th></tr></thead><tbody>
      ${replicas.map((r, i) => html`<tr data-replica=${r.replica} data-run=${r.runId ?? ''} class=${selected && selected === r.runId ? 'selected' : ''} onClick=${() => r.runId && setSelected(r.runId)}>
        <td>${r.alias ?? i}</td><td><${RunState} state=${r.state} /></td><td>${r.node ?? '—'}</td><td>${r.pid ?? '—'}</td><td>${r.restarts ?? 0}</td><td>${r.lastExitCode ?? '—'}</td>
        <td>${r.state === 'running' && html`<button class="restart-replica" onClick=${(e) => (e.stopPropagation(), restartReplica(r.replica))}>Restart</button>`}</td></tr>`)}
    </tbody></table><p class="muted small">Click a replica for its output.</p></div>`}
    <div class="card wide">
      <h3>Runs <span class="muted small">(newest first; attempts of one firing are grouped: a retry or a lost attempt shares the scheduled time)</span></h3>
      <${Timeline} runs=${runs} now=${now} />
      <table class="list runs" id="runs-table">
        <thead><tr><th>scheduled</th><th>attempt</th><th>trigger</th><th>state</th><th>node</th><th>late</th><th>took</th><th>result</th></tr></thead>
        <tbody>
          ${firings.map((attempts) =>
            attempts.map((r, i) => html`<tr class=${`${i ? 'retry' : 'firing'} ${selected === r.id ? 'selected' : ''}`} data-run=${r.id} data-trigger=${r.trigger} data-state=${r.state} data-attempt=${r.attempt} onClick=${() => setSelected(r.id)}>
              <td>${i ? html`<span class="link-line">↳ same firing</span>` : fmtTime(r.scheduledMs, next.tz)}</td>
              <td>#${r.attempt}${r.replica ? html` <span class="muted small">replica ${r.replica}</span>` : ''}${i ? html` <span class="muted small">after #${attempts[i - 1].attempt} ${attempts[i - 1].state}</span>` : ''}</td>
              <td>${r.trigger}</td>
              <td>${due(r, now) ? html`<span class="badge">claimed, due ${fmtRelative(r.startedMs, now)}</span>` : html`<${RunState} state=${r.state} />`}</td>
              <td>${r.node ?? '—'}</td>
              <td>${fmtDuration(lateness(r))}</td>
              <td>${fmtDuration(duration(r, now))}</td>
              <td class="small">${r.exitCode != null ? `exit ${r.exitCode}` : r.httpStatus != null ? `HTTP ${r.httpStatus}` : ''} ${r.message && !/^exit code -?\d+$/.test(r.message) ? html`<span class="muted">${r.message.slice(0, 80)}</span>` : ''}</td>
            </tr>`),
          )}
        </tbody>
      </table>
      <p class="muted small">Click a run for its output.</p>
    </div>
    ${sel && html`<${RunOutput} runId=${sel.id} live=${sel.state === 'running' && !due(sel, now)} message=${sel.message} onKilled=${reload} key=${`${sel.id}/${sel.state}`} />`}
    ${!task.schedule.daemon && !task.schedule.manual && html`<${Slots} slots=${slots} tz=${next.tz} />`}
  </section>`;
}

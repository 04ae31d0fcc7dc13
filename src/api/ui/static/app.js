// The shell: navigation, hash routes, the token prompt, and the page for each route.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { html, token, api } from './api.js';
import { HealthPage } from './health.js';
import { TaskList, TaskForm } from './tasks.js';
import { TaskDetail } from './task.js';
import { NodePage, NodesPage } from './nodes.js';
import { HistoryPage } from './history.js';

function useHash() {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function route(hash) {
  const p = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (p[0] === 'tasks' && p[1] === 'new') return { page: 'tasks', view: html`<${TaskForm} />` };
  if (p[0] === 'tasks' && p[1] && p[2] === 'edit') return { page: 'tasks', view: html`<${TaskForm} id=${p[1]} />` };
  if (p[0] === 'tasks' && p[1]) return { page: 'tasks', view: html`<${TaskDetail} id=${p[1]} key=${p[1]} />` };
  if (p[0] === 'tasks') return { page: 'tasks', view: html`<${TaskList} />` };
  if (p[0] === 'nodes' && p[1]) return { page: 'nodes', view: html`<${NodePage} id=${p[1]} key=${p[1]} />` };
  if (p[0] === 'nodes') return { page: 'nodes', view: html`<${NodesPage} />` };
  if (p[0] === 'history') return { page: 'history', view: html`<${HistoryPage} audit=${p[1] === 'audit'} key=${p[1] ?? 'runs'} />` };
  return { page: 'health', view: html`<${HealthPage} />` };
}

/** Asked for when the API answers 401; the token lives in sessionStorage (this tab only). */
function TokenPrompt({ onDone }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    token.set(value.trim());
    try {
      await api('GET', '/api/v1/tasks?limit=1');
      onDone();
    } catch (err) {
      token.clear();
      setError(err.message);
    }
  };
  return html`<div class="modal-back">
    <form class="modal" id="token-form" onSubmit=${submit}>
      <h2>Token</h2>
      <p class="muted">This cluster needs a bearer token. It is kept in this tab's session storage and sent as <code>Authorization: Bearer</code>.</p>
      <input name="token" type="password" autocomplete="off" autofocus value=${value} onInput=${(e) => setValue(e.target.value)} />
      ${error && html`<p class="field-error">${error}</p>`}
      <button type="submit" class="primary">Sign in</button>
    </form>
  </div>`;
}

function App() {
  const hash = useHash();
  const [needToken, setNeedToken] = useState(false);
  const [epoch, setEpoch] = useState(0);
  useEffect(() => {
    const on = () => setNeedToken(true);
    addEventListener('rota:unauthorized', on);
    return () => removeEventListener('rota:unauthorized', on);
  }, []);
  const { page, view } = route(hash);
  const tab = (id, href, label) => html`<a href=${href} class=${page === id ? 'active' : ''} data-nav=${id}>${label}</a>`;
  return html`<header class="top">
      <span class="brand">Rota</span>
      <nav>${tab('health', '#/', 'Cluster')}${tab('tasks', '#/tasks', 'Tasks')}${tab('nodes', '#/nodes', 'Nodes')}${tab('history', '#/history', 'History')}</nav>
      <span class="spacer"></span>
      ${token.get() && html`<button class="link" onClick=${() => { token.clear(); setNeedToken(true); }}>Sign out</button>`}
    </header>
    <main key=${epoch}>${view}</main>
    ${needToken && html`<${TokenPrompt} onDone=${() => { setNeedToken(false); setEpoch(epoch + 1); }} />`}`;
}

const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);

// The native API as the page uses it: bearer token from sessionStorage, errors as ApiError,
// a polling hook for live views, and a reader for Prometheus text.
import { h } from 'preact';
import { useEffect, useRef, useState, useCallback } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);

const TOKEN_KEY = 'rota.token';
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) || '',
  set: (t) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the API; a 401 also tells the shell to ask for a token. */
export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  const t = token.get();
  if (t) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!res.ok) {
    if (res.status === 401) window.dispatchEvent(new Event('rota:unauthorized'));
    const e = (data && data.error) || {};
    throw new ApiError(res.status, e.code || `HTTP_${res.status}`, e.message || `${method} ${path}: ${res.status}`);
  }
  return data;
}

/**
 * A text answer read as it comes (a run's output): `onChunk(text)` per piece; resolves with the
 * response headers once the body has ended. `signal` stops it.
 */
export async function apiStream(path, onChunk, signal) {
  const headers = {};
  const t = token.get();
  if (t) headers.authorization = `Bearer ${t}`;
  const res = await fetch(path, { headers, signal });
  if (!res.ok) {
    if (res.status === 401) window.dispatchEvent(new Event('rota:unauthorized'));
    const e = (await res.json().catch(() => null))?.error || {};
    throw new ApiError(res.status, e.code || `HTTP_${res.status}`, e.message || `GET ${path}: ${res.status}`);
  }
  onChunk('', res.headers);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    onChunk(decoder.decode(value, { stream: true }), res.headers);
  }
  return res.headers;
}

/** Saves a text answer as a file (the bearer token rules out a plain link). */
export async function download(path, filename) {
  let text = '';
  await apiStream(path, (chunk) => (text += chunk));
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  const a = Object.assign(document.createElement('a'), { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export const POLL_MS = 1500;

/**
 * Runs `load` now and every POLL_MS (one request at a time) while the component is shown.
 * Returns { data, error, reload }. `key` restarts the loop when it changes.
 */
export function usePoll(load, key = '', everyMs = POLL_MS) {
  const [state, setState] = useState({ data: undefined, error: null });
  const loadRef = useRef(load);
  loadRef.current = load;
  const tick = useRef(() => {});
  useEffect(() => {
    let alive = true;
    let timer;
    const run = async () => {
      clearTimeout(timer);
      try {
        const data = await loadRef.current();
        if (alive) setState({ data, error: null });
      } catch (error) {
        if (alive) setState((s) => ({ data: s.data, error }));
      }
      if (alive) timer = setTimeout(run, everyMs);
    };
    tick.current = run;
    setState({ data: undefined, error: null });
    run();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [key]);
  const reload = useCallback(() => tick.current(), []);
  return { ...state, reload };
}

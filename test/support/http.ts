/**
 * The one HTTP client of the tests: a request to a node (or any server) on loopback, with a JSON
 * body or raw text, and its answer with the body parsed when it is JSON (text otherwise,
 * undefined when empty). Each suite wraps it in the shape its API needs (a token header, a
 * tenant header, POST by default).
 */

export interface Reply {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface RequestOptions {
  /** Sent as JSON (Content-Type application/json unless `type` says otherwise). */
  body?: unknown;
  /** Sent as it is (instead of `body`). */
  raw?: string;
  /** The Content-Type of a body. */
  type?: string;
  /** Authorization: Bearer <token>. */
  token?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** `target`: a port on 127.0.0.1, or anything with one (a RotaNode). */
export async function request(target: number | { port: number }, method: string, path: string, o: RequestOptions = {}): Promise<Reply> {
  const port = typeof target === 'number' ? target : target.port;
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  const payload = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
  if (payload !== undefined) headers['content-type'] ??= o.type ?? 'application/json';
  const r = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers,
    ...(payload !== undefined ? { body: payload } : {}),
    ...(o.timeoutMs ? { signal: AbortSignal.timeout(o.timeoutMs) } : {}),
  });
  const text = await r.text();
  let body: unknown = text || undefined;
  try {
    if (text) body = JSON.parse(text);
  } catch {
    // not JSON: the text as it came
  }
  return { status: r.status, headers: r.headers, body };
}

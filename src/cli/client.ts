/**
 * The native API as the CLI sees it: one base URL (any node or the load balancer), an optional
 * bearer token, JSON in and out, and every failure turned into a CliError that says what to do.
 */
import { CliError, EXIT } from './exit.js';

export const DEFAULT_SERVER = '127.0.0.1:7400';
const REQUEST_TIMEOUT_MS = 30_000;

/** `host:port`, `http://host:port/` or `https://...` -> `http(s)://host:port` without a trailing slash. */
export function serverUrl(server: string): string {
  const s = server.trim().replace(/\/+$/, '');
  return /^https?:\/\//i.test(s) ? s : `http://${s}`;
}

/** The server's error envelope, kept so callers can tell a 404 from other failures. */
export class ApiError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message, EXIT.FAILED);
  }
}

type Query = Record<string, string | number | boolean | undefined>;

export class ApiClient {
  readonly baseUrl: string;

  constructor(server: string, private readonly token: string | undefined) {
    this.baseUrl = serverUrl(server);
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, undefined, query);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }
  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }
  delete(path: string): Promise<void> {
    return this.request<void>('DELETE', path);
  }

  /**
   * A GET whose body is read as it comes (a run's output): no overall timeout, only `signal`.
   * Failures are the same CliErrors as request's.
   */
  async stream(path: string, query: Query, signal?: AbortSignal): Promise<{ headers: Headers; body: AsyncIterable<Uint8Array> }> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = this.token ? { authorization: `Bearer ${this.token}` } : {};
    let res: Response;
    try {
      res = await fetch(url, { headers, ...(signal ? { signal } : {}) });
    } catch (err) {
      throw this.unreachable(err);
    }
    if (!res.ok) throw this.failure(res, 'GET', url, await res.text().catch(() => ''));
    return { headers: res.headers, body: res.body ?? (async function* () {})() };
  }

  async request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(url, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      throw this.unreachable(err);
    }
    const text = await res.text().catch(() => '');
    if (res.ok) return (text ? JSON.parse(text) : undefined) as T;
    throw this.failure(res, method, url, text);
  }

  private unreachable(err: unknown): CliError {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : (e.cause?.code ?? e.cause?.message ?? e.message);
    return new CliError(`cannot reach ${this.baseUrl} (${why}): is a node running there? set --server or ROTA_SERVER`, EXIT.UNREACHABLE);
  }

  private failure(res: Response, method: string, url: URL, text: string): CliError {
    let code = '';
    let message = '';
    try {
      const env = JSON.parse(text) as { error?: { code?: string; message?: string } };
      code = env.error?.code ?? '';
      message = env.error?.message ?? '';
    } catch {
      /* not the native envelope: a proxy's page, or not Rota at all */
    }
    if (!code) {
      // A load balancer with no node behind it answers 502/503 itself.
      const exit = res.status === 502 || res.status === 503 || res.status === 504 ? EXIT.UNREACHABLE : EXIT.FAILED;
      return new CliError(`${method} ${url.pathname}: ${res.status} ${res.statusText} from ${this.baseUrl}, not a Rota answer: is --server (ROTA_SERVER) a Rota node or its load balancer?`, exit);
    }
    const hint =
      res.status === 401
        ? this.token
          ? ': the token was refused: check --token or ROTA_TOKEN'
          : ': this server needs a token: set --token or ROTA_TOKEN'
        : res.status === 403
          ? ': node operations need the token of an operator tenant (auth.operators)'
          : '';
    return new ApiError(`${message} (${code})${hint}`, res.status, code);
  }
}

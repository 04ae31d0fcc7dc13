import http from 'node:http';
import https from 'node:https';
import got, { type OptionsInit } from 'got';
import { OutputSink, openRunOutput } from './output-sink.js';
import { notifyStart, timedOutMessage, type RunContext, type RunOutcome } from './types.js';

/** Shared keep-alive agents: thousands of firings per second reuse sockets instead of opening one each. */
export const httpAgents = {
  http: new http.Agent({ keepAlive: true, maxFreeSockets: 256 }),
  https: new https.Agent({ keepAlive: true, maxFreeSockets: 256 }),
};

/** At most this much of a response body is kept in memory for matching (the log gets it capped anyway). */
const MAX_BODY_BYTES = 1024 * 1024;

export interface HttpRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: { json: unknown } | { form: Record<string, string> } | { raw: string; contentType?: string };
  timeoutMs?: number;
}

/** A completed exchange: status, body (up to MAX_BODY_BYTES) and the body's tail. */
export interface HttpResponse {
  status: number;
  body: string;
  tail: string;
}

/** The headers every callback carries. */
export function rotaHeaders(ctx: RunContext): Record<string, string> {
  return {
    'X-Rota-Task-Id': ctx.taskId,
    'X-Rota-Run-Id': ctx.runId,
    'X-Rota-Scheduled-At': String(ctx.scheduledMs),
    'X-Rota-Attempt': String(ctx.attempt),
  };
}

/** The smaller of the task timeout and the action's own, if either is set. */
export function effectiveTimeoutMs(ctx: RunContext, actionMs: number | undefined): number | undefined {
  const all = [ctx.timeoutMs, actionMs].filter((n): n is number => typeof n === 'number' && n > 0);
  return all.length ? Math.min(...all) : undefined;
}

/**
 * Sends one request and reads the whole response, writing the body to the run's log file.
 * Transport failures, timeouts and operator kills come back as a RunOutcome; never rejects.
 */
export async function exchange(req: HttpRequest, ctx: RunContext): Promise<HttpResponse | RunOutcome> {
  const sink = await openRunOutput(ctx);
  if (!(sink instanceof OutputSink)) return sink;
  const timeoutMs = effectiveTimeoutMs(ctx, req.timeoutMs);
  // got keeps its abort listener after the exchange ends, and an abort then destroys the finished
  // stream with an error nobody listens to (an uncaught exception). So got gets a signal of its
  // own that follows the run's only while the request is in flight.
  const requestAbort = new AbortController();
  const follow = () => requestAbort.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', follow, { once: true });
  const headers: Record<string, string> = { ...req.headers };
  const options: OptionsInit = {
    method: req.method.toUpperCase() as OptionsInit['method'],
    agent: httpAgents,
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false,
    signal: requestAbort.signal,
  };
  if (timeoutMs !== undefined) options.timeout = { request: timeoutMs };
  if (req.body && 'json' in req.body) options.json = req.body.json;
  else if (req.body && 'form' in req.body) options.form = req.body.form;
  else if (req.body && 'raw' in req.body) {
    options.body = req.body.raw;
    if (req.body.contentType) {
      for (const k of Object.keys(headers)) if (k.toLowerCase() === 'content-type') delete headers[k];
      headers['content-type'] = req.body.contentType;
    }
  }
  // A body-capable request without a body must still end: got.stream otherwise waits for one.
  else if (!['GET', 'HEAD', 'OPTIONS', 'DELETE'].includes(String(options.method))) options.body = '';
  options.headers = { ...headers, ...rotaHeaders(ctx) };

  let status = 0;
  const kept: Buffer[] = [];
  let keptBytes = 0;
  try {
    const stream = got.stream(req.url, options as OptionsInit & { isStream?: true });
    stream.on('error', () => undefined); // surfaced by the iterator below; never uncaught
    stream.once('request', () => notifyStart(ctx, {}));
    stream.once('response', (res: { statusCode: number }) => (status = res.statusCode));
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      sink.write(chunk);
      if (keptBytes < MAX_BODY_BYTES) {
        kept.push(chunk);
        keptBytes += chunk.length;
      }
    }
  } catch (e) {
    await sink.close();
    return transportFailure(e, req.url, ctx, timeoutMs, sink.tailText(), status);
  } finally {
    ctx.signal.removeEventListener('abort', follow);
  }
  await sink.close();
  const body = Buffer.concat(kept).subarray(0, MAX_BODY_BYTES).toString('utf8');
  return { status, body, tail: sink.tailText() };
}

function transportFailure(
  e: unknown, url: string, ctx: RunContext, timeoutMs: number | undefined, tail: string, status: number,
): RunOutcome {
  const err = e as { code?: string; message?: string };
  const extra: Partial<RunOutcome> = status ? { httpStatus: status, outputTail: tail } : {};
  if (ctx.signal.aborted || err.code === 'ERR_ABORTED') return { ...extra, state: 'killed', message: 'killed by operator' };
  if (err.code === 'ETIMEDOUT' && timeoutMs !== undefined) {
    return { ...extra, state: 'failed', timedOut: true, message: timedOutMessage(timeoutMs) };
  }
  const detail = err.message ?? String(e);
  const byCode: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host lookup failed',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ERR_INVALID_URL: 'invalid URL',
  };
  const what = (err.code ? byCode[err.code] : undefined) ?? 'request failed';
  return { ...extra, state: 'failed', message: `${what}: ${detail} (${url})` };
}

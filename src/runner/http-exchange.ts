import http from 'node:http';
import https from 'node:https';
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

/** The smaller of the task timeout and the action's own, if either is set; else the node's default. */
export function effectiveTimeoutMs(ctx: RunContext, actionMs: number | undefined): number | undefined {
  const all = [ctx.timeoutMs, actionMs].filter((n): n is number => typeof n === 'number' && n > 0);
  return all.length ? Math.min(...all) : ctx.defaultHttpTimeoutMs;
}

/** The request body as bytes and its default content type. */
function encodeBody(body: HttpRequest['body'], method: string): { bytes?: Buffer; contentType?: string } {
  if (body && 'json' in body) return { bytes: Buffer.from(JSON.stringify(body.json)), contentType: 'application/json' };
  if (body && 'form' in body) return { bytes: Buffer.from(new URLSearchParams(body.form).toString()), contentType: 'application/x-www-form-urlencoded' };
  if (body && 'raw' in body) return { bytes: Buffer.from(body.raw), ...(body.contentType ? { contentType: body.contentType } : {}) };
  // A body-capable request without a body says so (content-length: 0) rather than leave the server waiting.
  return ['GET', 'HEAD', 'OPTIONS', 'DELETE'].includes(method) ? {} : { bytes: Buffer.alloc(0) };
}

/**
 * Sends one request and reads the whole response, writing the body to the run's log file.
 * Transport failures, timeouts and operator kills come back as a RunOutcome; never rejects.
 * Plain node:http on shared keep-alive agents: many callbacks fall due on the same instant, and
 * the request goes out before the log file is opened (the file is written as the body arrives).
 */
export async function exchange(req: HttpRequest, ctx: RunContext): Promise<HttpResponse | RunOutcome> {
  const timeoutMs = effectiveTimeoutMs(ctx, req.timeoutMs);
  const method = req.method.toUpperCase();
  let url: URL;
  try {
    url = new URL(req.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw Object.assign(new Error(`unsupported protocol ${url.protocol}`), { code: 'ERR_INVALID_URL' });
  } catch (e) {
    return transportFailure(Object.assign(e as Error, { code: 'ERR_INVALID_URL' }), req.url, ctx, timeoutMs, '', 0);
  }
  const { bytes, contentType } = encodeBody(req.body, method);
  const headers: Record<string, string> = { ...req.headers };
  const ctKeys = Object.keys(headers).filter((k) => k.toLowerCase() === 'content-type');
  if (req.body && 'raw' in req.body && req.body.contentType) for (const k of ctKeys) delete headers[k];
  if (contentType && (ctKeys.length === 0 || (req.body && 'raw' in req.body && req.body.contentType))) headers['content-type'] = contentType;
  if (bytes) headers['content-length'] = String(bytes.length);
  Object.assign(headers, rotaHeaders(ctx));

  if (ctx.signal.aborted) return { state: 'killed', message: 'killed by operator' };
  let status = 0;
  let timedOut = false;
  const kept: Buffer[] = [];
  let keptBytes = 0;
  // The log file is opened only once the body outgrows the tail kept in the run record: most
  // callbacks answer a few bytes, and a file per firing would cost four disk operations each.
  const early: Buffer[] = [];
  let earlyBytes = 0;
  let sink: OutputSink | null = null;
  const mod = url.protocol === 'https:' ? https : http;
  const agent = url.protocol === 'https:' ? httpAgents.https : httpAgents.http;
  let request!: http.ClientRequest;
  const stop = () => request.destroy(Object.assign(new Error('killed by operator'), { code: 'ERR_ABORTED' }));
  ctx.signal.addEventListener('abort', stop, { once: true });
  const timer = timeoutMs !== undefined ? setTimeout(() => ((timedOut = true), request.destroy(Object.assign(new Error(`timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }))), timeoutMs) : null;
  const tailText = () => (sink ? sink.tailText() : tailOf(Buffer.concat(early), ctx.tailBytes));
  const send = (via: http.Agent | false) =>
    new Promise<http.IncomingMessage>((resolve, reject) => {
      request = mod.request(url, { method, headers, agent: via });
      request.on('error', () => undefined); // surfaced through this promise; never uncaught
      request.once('response', resolve);
      request.once('error', reject);
      request.once('socket', () => notifyStart(ctx, {}));
      request.end(bytes);
    });
  try {
    // A kept-alive socket the server closed while idle fails at once with ECONNRESET before
    // any answer: the request almost surely never reached the server, so it is sent again on a
    // new connection (not the pool: a server closes its idle sockets together, and the retry
    // took the next stale one: the soak's "socket hang up" failures). A server that crashed
    // right after reading it would see it twice: the same at-least-once edge as a run lost with
    // its node; receivers de-duplicate on X-Rota-Run-Id.
    const response = await send(agent).catch((e: NodeJS.ErrnoException) => {
      if (!request?.reusedSocket || e.code !== 'ECONNRESET' || timedOut || ctx.signal.aborted) throw e;
      return send(false);
    });
    status = response.statusCode ?? 0;
    for await (const chunk of response as AsyncIterable<Buffer>) {
      if (keptBytes < MAX_BODY_BYTES) {
        kept.push(chunk);
        keptBytes += chunk.length;
      }
      if (sink) {
        sink.write(chunk);
        continue;
      }
      early.push(chunk);
      earlyBytes += chunk.length;
      if (earlyBytes > ctx.tailBytes) {
        const opened = await openRunOutput(ctx);
        if (!(opened instanceof OutputSink)) {
          response.destroy();
          return opened;
        }
        sink = opened;
        for (const c of early) sink.write(c);
      }
    }
  } catch (e) {
    const tail = tailText();
    await sink?.close();
    return transportFailure(timedOut ? Object.assign(new Error(`timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }) : e, req.url, ctx, timeoutMs, tail, status);
  } finally {
    if (timer) clearTimeout(timer);
    ctx.signal.removeEventListener('abort', stop);
  }
  await sink?.close();
  const body = Buffer.concat(kept).subarray(0, MAX_BODY_BYTES).toString('utf8');
  return { status, body, tail: tailText() };
}

/** The last `bytes` of a small body as text, without a split UTF-8 sequence at its start. */
function tailOf(buf: Buffer, bytes: number): string {
  let start = Math.max(0, buf.length - bytes);
  while (start < buf.length && ((buf[start] ?? 0) & 0xc0) === 0x80) start++;
  return buf.subarray(start).toString('utf8');
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

import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonRpcAction } from '../../src/domain/task.js';
import { execute } from '../../src/runner/index.js';
import type { RunContext } from '../../src/runner/types.js';

interface Seen { method: string; headers: http.IncomingHttpHeaders; body: unknown }

describe('runner: jsonrpc', () => {
  let server: http.Server;
  let base: string;
  let dir: string;
  const seen: Seen[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rota-runner-rpc-'));
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as { id: string; method: string };
        seen.push({ method: req.method ?? '', headers: req.headers, body });
        const reply = (status: number, text: string): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(text);
        switch (body.method) {
          case 'ok': return reply(200, JSON.stringify({ jsonrpc: '2.0', id: body.id, result: { done: true } }));
          case 'nullResult': return reply(200, JSON.stringify({ jsonrpc: '2.0', id: body.id, result: null }));
          case 'fail': return reply(200, JSON.stringify({ jsonrpc: '2.0', id: body.id, error: { code: -32601, message: 'Method not found' } }));
          case 'html': return reply(200, '<html>oops</html>');
          case 'noResult': return reply(200, JSON.stringify({ jsonrpc: '2.0', id: body.id }));
          case 'slow': return;
          default: return reply(500, 'server error');
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/rpc`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => (seen.length = 0));

  let n = 0;
  function ctx(over: Partial<RunContext> = {}): RunContext {
    n++;
    return {
      taskId: 'task-j', runId: `run-${n}`, scheduledMs: 1_700_000_000_789, attempt: 1,
      logFile: join(dir, `r${n}.log`), outputCapBytes: 1000, tailBytes: 256, killGraceMs: 500,
      signal: new AbortController().signal, allowedUsers: [], ...over,
    };
  }
  const rpc = (method: string, over: Partial<JsonRpcAction> = {}): { jsonrpc: JsonRpcAction } => ({ jsonrpc: { url: base, method, headers: {}, ...over } });

  it('posts a JSON-RPC 2.0 request with the X-Rota-* headers and succeeds on result', async () => {
    const c = ctx();
    const out = await execute(rpc('ok', { params: { a: [1, 2] }, headers: { Authorization: 'Bearer t' } }), c);
    expect(out).to.include({ state: 'succeeded', httpStatus: 200 });
    expect(out.outputTail).to.contain('"done":true');
    const s = seen[0]!;
    expect(s.method).to.equal('POST');
    expect(s.body).to.deep.equal({ jsonrpc: '2.0', id: c.runId, method: 'ok', params: { a: [1, 2] } });
    expect(s.headers['content-type']).to.match(/application\/json/);
    expect(s.headers['authorization']).to.equal('Bearer t');
    expect(s.headers['x-rota-task-id']).to.equal('task-j');
    expect(s.headers['x-rota-run-id']).to.equal(c.runId);
    expect(s.headers['x-rota-scheduled-at']).to.equal('1700000000789');
    expect(s.headers['x-rota-attempt']).to.equal('1');
  });

  it('omits params when absent and accepts a null result', async () => {
    expect(await execute(rpc('nullResult'), ctx())).to.include({ state: 'succeeded' });
    expect(seen[0]!.body).to.not.have.property('params');
  });

  it('fails with the JSON-RPC error code and message', async () => {
    expect(await execute(rpc('fail'), ctx())).to.include({ state: 'failed', httpStatus: 200, message: 'JSON-RPC error -32601: Method not found' });
  });

  it('fails on a non-JSON body, a missing result and a non-2xx status', async () => {
    const html = await execute(rpc('html'), ctx());
    expect(html).to.include({ state: 'failed', httpStatus: 200, outputTail: '<html>oops</html>' });
    expect(html.message).to.match(/not JSON/);
    expect(await execute(rpc('noResult'), ctx())).to.include({ state: 'failed', message: 'JSON-RPC response has no result' });
    expect(await execute(rpc('other'), ctx())).to.include({ state: 'failed', httpStatus: 500, message: 'HTTP 500 (expected 2xx)' });
  });

  it('times out with its own timeout', async () => {
    expect(await execute(rpc('slow', { timeoutMs: 150 }), ctx())).to.include({ state: 'failed', timedOut: true, message: 'timed out after 0.15s' });
  });
});

import { expect } from 'chai';
import type { JsonRpcAction } from '../../src/domain/task.js';
import { execute } from '../../src/runner/index.js';
import type { Answer } from '../support/receiver.js';
import { runnerFixture } from '../support/runner-fixture.js';

describe('runner: jsonrpc', () => {
  const { receiver, ctx } = runnerFixture('rpc', (hit) => {
    const body = JSON.parse(hit.body) as { id: string; method: string };
    const reply = (status: number, text: string): Answer => ({ status, body: text, contentType: 'application/json' });
    switch (body.method) {
      case 'ok': return reply(200, JSON.stringify({ jsonrpc: '2.0', id: body.id, result: { done: true } }));
      case 'nullResult': return reply(200, JSON.stringify({ jsonrpc: '2.0', id: body.id, result: null }));
      case 'fail': return reply(200, JSON.stringify({ jsonrpc: '2.0', id: body.id, error: { code: -32601, message: 'Method not found' } }));
      case 'html': return reply(200, '<html>oops</html>');
      case 'noResult': return reply(200, JSON.stringify({ jsonrpc: '2.0', id: body.id }));
      case 'slow': return { hang: true };
      default: return reply(500, 'server error');
    }
  }, { taskId: 'task-j', scheduledMs: 1_700_000_000_789, tailBytes: 256 });
  const seen = receiver.hits;
  const rpc = (method: string, over: Partial<JsonRpcAction> = {}): { jsonrpc: JsonRpcAction } => ({ jsonrpc: { url: `${receiver.url}/rpc`, method, headers: {}, ...over } });

  it('posts a JSON-RPC 2.0 request with the X-Rota-* headers and succeeds on result', async () => {
    const c = ctx();
    const out = await execute(rpc('ok', { params: { a: [1, 2] }, headers: { Authorization: 'Bearer t' } }), c);
    expect(out).to.include({ state: 'succeeded', httpStatus: 200 });
    expect(out.outputTail).to.contain('"done":true');
    const s = seen[0]!;
    expect(s.method).to.equal('POST');
    expect(JSON.parse(s.body)).to.deep.equal({ jsonrpc: '2.0', id: c.runId, method: 'ok', params: { a: [1, 2] } });
    expect(s.headers['content-type']).to.match(/application\/json/);
    expect(s.headers['authorization']).to.equal('Bearer t');
    expect(s.headers['x-rota-task-id']).to.equal('task-j');
    expect(s.headers['x-rota-run-id']).to.equal(c.runId);
    expect(s.headers['x-rota-scheduled-at']).to.equal('1700000000789');
    expect(s.headers['x-rota-attempt']).to.equal('1');
  });

  it('omits params when absent and accepts a null result', async () => {
    expect(await execute(rpc('nullResult'), ctx())).to.include({ state: 'succeeded' });
    expect(JSON.parse(seen[0]!.body)).to.not.have.property('params');
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

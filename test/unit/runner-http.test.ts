import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { HttpAction } from '../../src/domain/task.js';
import { execute } from '../../src/runner/index.js';
import { runnerFixture } from '../support/runner-fixture.js';

describe('runner: http', () => {
  const { receiver, ctx } = runnerFixture('http', ({ url }) => {
    if (url === '/slow') return { hang: true };
    if (url === '/500') return { status: 500, body: 'boom' };
    if (url === '/201') return { status: 201, body: 'created' };
    if (url === '/big') return { body: 'x'.repeat(5000) + 'THE-END' };
    return { contentType: 'text/plain', body: 'all ok here' };
  }, { attempt: 2 });
  const seen = receiver.hits;
  const base = (): string => receiver.url;
  const action = (over: Partial<HttpAction> = {}): { http: HttpAction } => ({ http: { url: `${base()}/ok`, method: 'GET', headers: {}, ...over } });

  it('sends the X-Rota-* headers and user headers, succeeds on 2xx', async () => {
    const c = ctx();
    let started = 0;
    const out = await execute(action({ headers: { 'X-Custom': 'yes' } }), { ...c, onStart: () => started++ });
    expect(out).to.include({ state: 'succeeded', httpStatus: 200, message: 'HTTP 200', outputTail: 'all ok here' });
    expect(started).to.equal(1);
    const h = seen[0]!.headers;
    expect(h['x-rota-task-id']).to.equal('task-1');
    expect(h['x-rota-run-id']).to.equal(c.runId);
    expect(h['x-rota-scheduled-at']).to.equal('1700000000123');
    expect(h['x-rota-attempt']).to.equal('2');
    expect(h['x-custom']).to.equal('yes');
    // A body within the tail is all in the run record: no log file for it.
    expect(await readFile(c.logFile, 'utf8').catch((e: NodeJS.ErrnoException) => e.code)).to.equal('ENOENT');
  });

  it('writes the log file once the body outgrows the tail (the whole body, the tail in the record)', async () => {
    const c = { ...ctx(), tailBytes: 4 };
    const out = await execute(action(), c);
    expect(out).to.include({ state: 'succeeded', outputTail: 'here' });
    expect(await readFile(c.logFile, 'utf8')).to.equal('all ok here');
  });

  it('completes a POST or PUT without a body (the default method is POST)', async () => {
    for (const method of ['POST', 'PUT']) {
      const out = await execute(action({ method }), ctx({ timeoutMs: 5_000 }));
      expect(out).to.include({ state: 'succeeded', httpStatus: 200 });
    }
    expect(seen.map((x) => [x.method, x.body])).to.deep.equal([['POST', ''], ['PUT', '']]);
  });

  it('sends json, form and raw bodies', async () => {
    await execute(action({ method: 'post', body: { json: { a: 1, b: [true] } } }), ctx());
    await execute(action({ method: 'PUT', body: { form: { x: 'a b', y: '&' } } }), ctx());
    await execute(action({ method: 'POST', body: { raw: '<x/>', contentType: 'application/xml' } }), ctx());
    expect(seen.map((s) => s.method)).to.deep.equal(['POST', 'PUT', 'POST']);
    expect(JSON.parse(seen[0]!.body)).to.deep.equal({ a: 1, b: [true] });
    expect(seen[0]!.headers['content-type']).to.match(/application\/json/);
    expect(seen[1]!.body).to.equal('x=a+b&y=%26');
    expect(seen[1]!.headers['content-type']).to.equal('application/x-www-form-urlencoded');
    expect(seen[2]!.body).to.equal('<x/>');
    expect(seen[2]!.headers['content-type']).to.equal('application/xml');
  });

  it('fails on 500 with the status and body', async () => {
    const out = await execute(action({ url: `${base()}/500` }), ctx());
    expect(out).to.include({ state: 'failed', httpStatus: 500, message: 'HTTP 500 (expected 2xx)', outputTail: 'boom' });
  });

  it('honours expectStatus', async () => {
    expect(await execute(action({ url: `${base()}/500`, expectStatus: [500] }), ctx())).to.include({ state: 'succeeded', httpStatus: 500 });
    expect(await execute(action({ url: `${base()}/201`, expectStatus: [200, 202] }), ctx()))
      .to.include({ state: 'failed', httpStatus: 201, message: 'HTTP 201 (expected 200, 202)' });
    expect(await execute(action({ url: `${base()}/201`, expectStatus: [] }), ctx())).to.include({ state: 'succeeded' });
  });

  it('checks bodyRegex (unanchored; "*" means anything)', async () => {
    expect(await execute(action({ bodyRegex: 'ok' }), ctx())).to.include({ state: 'succeeded' });
    expect(await execute(action({ bodyRegex: '*' }), ctx())).to.include({ state: 'succeeded' });
    expect(await execute(action({ bodyRegex: '^nope' }), ctx())).to.include({ state: 'failed', httpStatus: 200, message: 'body did not match /^nope/' });
    expect(await execute(action({ bodyRegex: '(' }), ctx())).to.include({ state: 'failed' });
  });

  it('caps the log file and keeps the tail of a big body', async () => {
    const c = ctx({ outputCapBytes: 100, tailBytes: 10 });
    const out = await execute(action({ url: `${base()}/big`, bodyRegex: 'THE-END$' }), c);
    expect(out).to.include({ state: 'succeeded', outputTail: 'xxxTHE-END' });
    expect(await readFile(c.logFile, 'utf8')).to.equal('x'.repeat(100) + '\n[output truncated at 100 bytes]\n');
  });

  it('times out using the smaller of task and action timeouts', async () => {
    // The message names the timeout that applied; had neither cut /slow short, mocha's own
    // timeout would fail the test.
    const out = await execute(action({ url: `${base()}/slow`, timeoutMs: 200 }), ctx({ timeoutMs: 60_000 }));
    expect(out).to.include({ state: 'failed', timedOut: true, message: 'timed out after 0.2s' });
    const out2 = await execute(action({ url: `${base()}/slow`, timeoutMs: 60_000 }), ctx({ timeoutMs: 150 }));
    expect(out2).to.include({ state: 'failed', timedOut: true, message: 'timed out after 0.15s' });
  });

  it('without a timeout of its own, gives up after the node\'s default (runs.httpTimeoutMs)', async () => {
    const out = await execute(action({ url: `${base()}/slow` }), ctx({ defaultHttpTimeoutMs: 150 }));
    expect(out).to.include({ state: 'failed', timedOut: true, message: 'timed out after 0.15s' });
    // A timeout of the task's own wins over the default.
    const own = await execute(action({ url: `${base()}/slow`, timeoutMs: 100 }), ctx({ defaultHttpTimeoutMs: 60_000 }));
    expect(own).to.include({ message: 'timed out after 0.1s' });
  });

  it('reports an operator kill as killed', async () => {
    const ac = new AbortController();
    const run = execute(action({ url: `${base()}/slow` }), ctx({ signal: ac.signal }));
    const deadline = Date.now() + 5000;
    while (!seen.some((s) => s.url === '/slow') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    expect(await run).to.include({ state: 'killed', message: 'killed by operator' });
  });

  it('a kill arriving after the request finished is harmless (no uncaught error, outcome unchanged)', async () => {
    const ac = new AbortController();
    let uncaught: unknown = null;
    const trap = (e: unknown) => (uncaught = e);
    process.prependListener('uncaughtException', trap);
    try {
      const out = await execute(action(), ctx({ signal: ac.signal }));
      expect(out.state).to.equal('succeeded');
      ac.abort('stop');
      // A bounded wait on purpose: an uncaught error would surface on a later turn of the event
      // loop (a listener or a socket event), and no event marks that none is coming; 100 ms
      // covers many turns of an idle loop.
      await new Promise((r) => setTimeout(r, 100));
      expect(uncaught).to.equal(null);
    } finally {
      process.removeListener('uncaughtException', trap);
    }
  });

  it('turns connection refused into a failed outcome', async () => {
    const tmp = http.createServer();
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
    const port = (tmp.address() as AddressInfo).port;
    await new Promise((r) => tmp.close(r));
    const out = await execute(action({ url: `http://127.0.0.1:${port}/` }), ctx());
    expect(out.state).to.equal('failed');
    expect(out.message).to.match(/^connection refused: /);
    expect(out.httpStatus).to.equal(undefined);
  });

  it('turns an invalid URL into a failed outcome', async () => {
    const out = await execute(action({ url: 'not a url' }), ctx());
    expect(out.state).to.equal('failed');
  });

  it('reuses keep-alive sockets across firings', async () => {
    await execute(action(), ctx());
    await execute(action(), ctx());
    expect(seen[0]!.remotePort).to.equal(seen[1]!.remotePort);
  });

  it('sends again on a new socket when a kept-alive one was closed by the server before answering', async () => {
    const { flaky, sockets, answered } = await oneRequestPerSocket();
    try {
      const url = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}/`;
      expect(await execute(action({ url }), ctx())).to.include({ state: 'succeeded', outputTail: 'ok' });
      expect(await execute(action({ url }), ctx())).to.include({ state: 'succeeded', outputTail: 'ok' });
      expect(answered()).to.equal(2);
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => flaky.close(r));
    }
  });

  it('sends it again on a new connection, not on the next stale socket of the pool', async () => {
    // Two idle sockets in the pool, both closed by the server: the retry took the second stale
    // one and the run failed with "socket hang up" (seen in the soak against a busy receiver).
    const { flaky, sockets, answered } = await oneRequestPerSocket();
    try {
      const url = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}/`;
      await Promise.all([execute(action({ url }), ctx()), execute(action({ url }), ctx())]);
      expect(answered()).to.equal(2);
      expect(await execute(action({ url }), ctx())).to.include({ state: 'succeeded', outputTail: 'ok' });
      expect(answered()).to.equal(3);
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => flaky.close(r));
    }
  });
});

/**
 * A server that answers the first request on each connection and resets the connection on the
 * second (what a server closing an idle keep-alive socket looks like to the client).
 */
async function oneRequestPerSocket(): Promise<{ flaky: net.Server; sockets: Set<net.Socket>; answered: () => number }> {
  let answered = 0;
  const sockets = new Set<net.Socket>();
  const flaky = net.createServer((sock) => {
    sockets.add(sock);
    let requests = 0;
    sock.on('data', (d: Buffer) => {
      if (!d.toString().includes('\r\n\r\n')) return;
      if (++requests > 1) return sock.resetAndDestroy();
      answered++;
      sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
  return { flaky, sockets, answered: () => answered };
}

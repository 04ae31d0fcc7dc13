import { expect } from 'chai';
import { request, type Reply } from '../support/http.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { waitFor } from '../support/etcd.js';
import { api, freshPrefixAndReceiver, startNode, stopAfterTest } from '../support/node.js';
import type { Receiver } from '../support/receiver.js';
import { leaderCaughtUp, noFiringsLeft } from '../support/witness.js';
import type { RotaNode } from '../../src/node.js';
import type { Config } from '../../src/config.js';
import type { EtcdHandle } from '../../src/store/etcd.js';

const run = promisify(execFile);

/**
 * The schedule-api dialect (/put /get /all /lists /running /delete /search /clear) against a
 * real node: real etcd, real scheduler and agent, a real HTTP receiver for the firings.
 */

async function post(node: RotaNode, path: string, body?: unknown, opts: { raw?: string; token?: string; method?: string } = {}): Promise<Reply> {
  return request(node, opts.method ?? 'POST', path, { body, ...(opts.raw !== undefined ? { raw: opts.raw } : {}), ...(opts.token ? { token: opts.token } : {}) });
}

/** A request as a user types it (curl -d sends a form Content-Type). */
async function curl(node: RotaNode, path: string, data: unknown): Promise<Pick<Reply, "status" | "body">> {
  const { stdout } = await run('curl', ['-s', '-w', '\n%{http_code}', '-XPOST', `http://127.0.0.1:${node.port}${path}`, '-d', JSON.stringify(data)]);
  const nl = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(nl + 1)), body: JSON.parse(stdout.slice(0, nl)) };
}

const OK = { error: 0, msg: 'ok' };
const ISO_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$/;

/** The document's /put example. */
const DOC_PUT = {
  identity: 'test',
  time_zone: 'Asia/Shanghai',
  start: true,
  entries: {
    subscription: { cron_time: '*/10 * * * * *', url: 'https://api.developer.com/subscription' },
    index: { cron_time: '*/5 * * * * *', url: 'https://api.developer.com' },
  },
};

describe('schedule-api dialect (integration, real etcd, real HTTP firings)', function () {
  this.timeout(60_000);
  const nodes: RotaNode[] = [];
  let endpoint = '';
  let prefix = '';
  let h: EtcdHandle;
  let rx: Receiver;

  async function node(over: Partial<Config> = {}, id = 'n1'): Promise<RotaNode> {
    const n = await startNode(endpoint, prefix, over, id);
    nodes.push(n);
    return n;
  }

  const expectOk = async (n: RotaNode, path: string, body: unknown): Promise<void> => {
    const r = await post(n, path, body);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(r.body, path).to.deep.equal(OK);
  };
  const expectError = async (n: RotaNode, path: string, body: unknown, msg: RegExp, opts: { raw?: string } = {}): Promise<void> => {
    const r = await post(n, path, body, opts);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(r.body.error, JSON.stringify(r.body)).to.equal(1);
    expect(r.body.msg).to.match(msg);
    expect(Object.keys(r.body).sort()).to.deep.equal(['error', 'msg']);
  };
  const get = async (n: RotaNode, identity: string) => (await post(n, '/get', { identity })).body.data;
  const search = async (n: RotaNode, q: Record<string, unknown>) => {
    const r = await post(n, '/search', q);
    expect(r.status).to.equal(200);
    expect(r.body.error, JSON.stringify(r.body)).to.equal(0);
    return r.body.data;
  };
  const tasksOf = async (n: RotaNode, group: string) =>
    ((await api(n, 'GET', '/api/v1/tasks?limit=500')).body.items as { id: string; name: string; group?: string; enabled: boolean }[]).filter((t) => t.group === group);
  const pathOf = (h: { headers: Record<string, unknown> }) => String(h.headers['x-test-path'] ?? '');
  /**
   * After a stop (/running false, /delete) of the tasks behind `path`: waits until nothing of
   * theirs can land any more, i.e. the leader has seen the stop and no firing of theirs is left
   * in etcd (a firing in flight has run to its outcome, its hit landed). Returns the hits on
   * `path` by then.
   */
  const quiet = async (n: RotaNode, path: string, taskIds: string[]): Promise<number> => {
    await leaderCaughtUp(n, h);
    await noFiringsLeft(h, taskIds, `no firing left behind ${path}`);
    return rx.hits.filter((x) => pathOf(x) === path).length;
  };

  beforeEach(async () => ({ endpoint, prefix, handle: h, rx } = await freshPrefixAndReceiver()));
  afterEach(() => stopAfterTest(nodes, rx, h));

  it("accepts the document's example requests as given (its URLs are never called)", async () => {
    const n = await node();
    // The example's URLs are not on loopback: the only node is drained first, so nothing fires.
    expect((await api(n, 'POST', '/api/v1/nodes/n1/drain')).status).to.equal(200);
    await expectOk(n, '/put', DOC_PUT);
    const data = await get(n, 'test');
    expect(data.identity).to.equal('test');
    expect(data.time_zone).to.equal('Asia/Shanghai');
    expect(data.start).to.equal(true);
    expect(Object.keys(data.entries).sort()).to.deep.equal(['index', 'subscription']);
    expect(data.entries.index).to.include({ cron_time: '*/5 * * * * *', url: 'https://api.developer.com', headers: null, body: null });
    expect(data.entries.subscription.url).to.equal('https://api.developer.com/subscription');
    expect(data.entries.index.next_date).to.match(/\+08:00$/);
    expect((await post(n, '/all')).body).to.deep.equal({ error: 0, data: ['test'] });
    const lists = await post(n, '/lists', { identity: ['test'] });
    expect(lists.body.error).to.equal(0);
    expect(lists.body.data).to.have.length(1);
    expect(lists.body.data[0].identity).to.equal('test');
    await expectOk(n, '/running', { identity: 'test', running: true });
    const logs = await search(n, { identity: 'test', limit: 20, skip: 0, time: { lte: Math.floor(Date.now() / 1000) + 60, gte: Math.floor(Date.now() / 1000) - 60 } });
    const types = logs.hits.hits.map((h: { _source: { type: string } }) => h._source.type);
    expect(types).to.include.members(['put', 'running']);
    const put = logs.hits.hits.find((h: { _source: { type: string } }) => h._source.type === 'put')._source;
    // The document's "_source log content returned by Put".
    expect(put.identity).to.equal('test');
    expect(put.body.entries.index).to.deep.equal({ cron_time: '*/5 * * * * *', url: 'https://api.developer.com', headers: null, body: null, next_date: '0001-01-01T00:00:00Z', last_date: '0001-01-01T00:00:00Z' });
    expect(put.time).to.be.a('number');
    await expectOk(n, '/clear', { identity: 'test' });
    await expectOk(n, '/delete', { identity: 'test' });
    expect((await post(n, '/get', { identity: 'test' })).body).to.deep.equal({ error: 0, data: null });
  });

  it('fires each entry as a POST of its JSON body with its headers; no body sends none', async () => {
    const n = await node();
    await expectOk(n, '/put', {
      identity: 'fire',
      time_zone: 'Asia/Shanghai',
      start: true,
      entries: {
        withBody: { cron_time: '* * * * * *', url: `${rx.url}/with`, headers: { 'x-test-path': '/with', 'x-token': 'abc' }, body: { hello: 'world', n: 1 } },
        bare: { cron_time: '* * * * * *', url: `${rx.url}/bare`, headers: { 'x-test-path': '/bare' } },
      },
    });
    const withBody = await waitFor(() => rx.hits.find((h) => pathOf(h) === '/with'), 'a firing of withBody');
    expect(withBody.method).to.equal('POST');
    expect(JSON.parse(withBody.body)).to.deep.equal({ hello: 'world', n: 1 });
    expect(withBody.headers['content-type']).to.match(/application\/json/);
    expect(withBody.headers['x-token']).to.equal('abc');
    const bare = await waitFor(() => rx.hits.find((h) => pathOf(h) === '/bare'), 'a firing of bare');
    expect(bare.method).to.equal('POST');
    expect(bare.body).to.equal('');
    const data = await waitFor(async () => {
      const d = await get(n, 'fire');
      return d.entries.withBody.last_date !== '0001-01-01T00:00:00Z' ? d : null;
    }, 'a last_date');
    expect(data.entries.withBody.headers).to.deep.equal({ 'x-test-path': '/with', 'x-token': 'abc' });
    expect(data.entries.withBody.body).to.deep.equal({ hello: 'world', n: 1 });
    for (const k of ['next_date', 'last_date']) expect(data.entries.withBody[k]).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/);
    // The instant is right: next_date is within a couple of seconds of now.
    expect(Math.abs(Date.parse(data.entries.withBody.next_date) - Date.now())).to.be.below(5_000);
    await expectOk(n, '/delete', { identity: 'fire' });
  });

  it('shows dates with the zone offset (negative, zero) and the zero time when there is none', async () => {
    const n = await node();
    await expectOk(n, '/put', { identity: 'ny', time_zone: 'America/New_York', start: true, entries: { a: { cron_time: '0 0 12 * * *', url: rx.url } } });
    await expectOk(n, '/put', { identity: 'utc', time_zone: 'UTC', start: true, entries: { a: { cron_time: '0 0 12 * * *', url: rx.url } } });
    await expectOk(n, '/put', { identity: 'off', time_zone: 'Asia/Kolkata', start: false, entries: { a: { cron_time: '0 0 12 * * *', url: rx.url } } });
    const ny = (await get(n, 'ny')).entries.a;
    expect(ny.next_date).to.match(/^\d{4}-\d{2}-\d{2}T12:00:00-0[45]:00$/);
    expect(ny.last_date).to.equal('0001-01-01T00:00:00Z');
    expect((await get(n, 'utc')).entries.a.next_date).to.match(/^\d{4}-\d{2}-\d{2}T12:00:00Z$/);
    const off = await get(n, 'off');
    expect(off.start).to.equal(false);
    expect(off.entries.a.next_date).to.equal('0001-01-01T00:00:00Z');
    expect(ny.next_date).to.match(ISO_OFFSET);
  });

  it('/put is an upsert: entries added, changed and removed; unchanged ones keep their task', async () => {
    const n = await node();
    const base = { identity: 'up', time_zone: 'UTC', start: true };
    await expectOk(n, '/put', { ...base, entries: { keep: { cron_time: '0 0 1 * * *', url: rx.url }, change: { cron_time: '0 0 2 * * *', url: rx.url }, drop: { cron_time: '0 0 3 * * *', url: rx.url } } });
    const before = new Map((await tasksOf(n, 'up')).map((t) => [t.name, t.id]));
    expect([...before.keys()].sort()).to.deep.equal(['up.change', 'up.drop', 'up.keep']);
    await expectOk(n, '/put', { ...base, entries: { keep: { cron_time: '0 0 1 * * *', url: rx.url }, change: { cron_time: '0 30 2 * * *', url: rx.url, body: { v: 2 } }, add: { cron_time: '0 0 4 * * *', url: rx.url } } });
    const after = new Map((await tasksOf(n, 'up')).map((t) => [t.name, t.id]));
    expect([...after.keys()].sort()).to.deep.equal(['up.add', 'up.change', 'up.keep']);
    expect(after.get('up.keep')).to.equal(before.get('up.keep'));
    expect(after.get('up.change')).to.equal(before.get('up.change'));
    const data = await get(n, 'up');
    expect(Object.keys(data.entries).sort()).to.deep.equal(['add', 'change', 'keep']);
    expect(data.entries.change).to.include({ cron_time: '0 30 2 * * *' });
    expect(data.entries.change.body).to.deep.equal({ v: 2 });
    // Two puts, two put logs.
    const logs = await search(n, { identity: 'up', limit: 10, type: 'put' });
    expect(logs.hits.total.value).to.equal(2);
  });

  it('start:false never fires; /running false stops and true resumes, persisted', async () => {
    const n = await node();
    const entries = { e: { cron_time: '* * * * * *', url: `${rx.url}/r`, headers: { 'x-test-path': '/r' } } };
    await expectOk(n, '/put', { identity: 'idle', time_zone: 'UTC', start: false, entries: { e: { cron_time: '* * * * * *', url: `${rx.url}/idle`, headers: { 'x-test-path': '/idle' } } } });
    await expectOk(n, '/put', { identity: 'run', time_zone: 'UTC', start: true, entries });
    await waitFor(() => rx.hits.filter((h) => pathOf(h) === '/r').length >= 2, 'run fires');
    // By the time 'run' fired twice, every-second 'idle' would have fired too.
    expect(rx.hits.filter((h) => pathOf(h) === '/idle')).to.have.length(0);
    expect((await tasksOf(n, 'idle')).every((t) => !t.enabled)).to.equal(true);

    await expectOk(n, '/running', { identity: 'run', running: false });
    expect((await get(n, 'run')).start).to.equal(false);
    expect((await get(n, 'run')).entries.e.next_date).to.equal('0001-01-01T00:00:00Z');
    // A run in flight may still land; after that, nothing while the marker fires three times.
    const stoppedAt = await quiet(n, '/r', (await tasksOf(n, 'run')).map((t) => t.id));
    await expectOk(n, '/put', { identity: 'marker', time_zone: 'UTC', start: true, entries: { m: { cron_time: '* * * * * *', url: `${rx.url}/m`, headers: { 'x-test-path': '/m' } } } });
    await waitFor(() => rx.hits.filter((h) => pathOf(h) === '/m').length >= 3, 'the marker fires three times');
    expect(rx.hits.filter((h) => pathOf(h) === '/r').length).to.equal(stoppedAt);

    // Persisted: a second node (same etcd) sees it disabled.
    const n2 = await node({}, 'n2');
    expect((await get(n2, 'run')).start).to.equal(false);

    await expectOk(n2, '/running', { identity: 'run', running: true });
    expect((await get(n, 'run')).start).to.equal(true);
    await waitFor(() => rx.hits.filter((h) => pathOf(h) === '/r').length > stoppedAt, 'run fires again');
    const logs = await search(n, { identity: 'run', limit: 10, type: 'running' });
    expect(logs.hits.hits.map((h: { _source: { body: unknown } }) => h._source.body)).to.deep.equal([
      { identity: 'run', running: true },
      { identity: 'run', running: false },
    ]);
  });

  it('logs success and error firings and searches them by type, time, skip and limit (ES shape)', async () => {
    const n = await node();
    await expectOk(n, '/put', { identity: 'logs', time_zone: 'UTC', start: true, entries: { hook: { cron_time: '* * * * * *', url: `${rx.url}/hook`, headers: { 'x-test-path': '/hook' }, body: { a: 1 } } } });
    await waitFor(async () => (await search(n, { identity: 'logs', limit: 1, type: 'success' })).hits.total.value >= 2, 'two success logs');
    rx.status = 500;
    await waitFor(async () => (await search(n, { identity: 'logs', limit: 1, type: 'error' })).hits.total.value >= 1, 'an error log');
    await expectOk(n, '/running', { identity: 'logs', running: false });
    await quiet(n, '/hook', (await tasksOf(n, 'logs')).map((t) => t.id)); // a firing in flight has landed: the running log stays the newest

    const ok = await search(n, { identity: 'logs', limit: 100, type: 'success' });
    expect(ok).to.have.keys(['took', 'timed_out', '_shards', 'hits']);
    expect(ok.hits.total).to.deep.equal({ value: ok.hits.hits.length, relation: 'eq' });
    const hit = ok.hits.hits[0];
    expect(hit).to.include.keys(['_index', '_id', '_source']);
    expect(hit._source).to.have.keys(['type', 'identity', 'body', 'time']);
    expect(hit._source.type).to.equal('success');
    expect(hit._source.identity).to.equal('logs');
    expect(hit._source.body).to.include({ key: 'hook', url: `${rx.url}/hook`, status: 200, response: 'ok' });
    expect(hit._source.body.body).to.deep.equal({ a: 1 });
    expect(hit._source.time).to.be.within(Math.floor(Date.now() / 1000) - 60, Math.floor(Date.now() / 1000) + 1);

    const err = await search(n, { identity: 'logs', limit: 100, type: 'error' });
    const e0 = err.hits.hits[0]._source;
    expect(e0.type).to.equal('error');
    expect(e0.body).to.include({ key: 'hook', status: 500 });
    expect(e0.body.message).to.be.an('array').with.length(1);
    expect(e0.body.message[0]).to.match(/500/);

    // All types, newest first; skip/limit page through the same order.
    const all = await search(n, { identity: 'logs', limit: 100 });
    const times: number[] = all.hits.hits.map((h: { _source: { time: number } }) => h._source.time);
    expect(times).to.deep.equal([...times].sort((a, b) => b - a));
    expect(all.hits.hits[0]._source.type).to.equal('running');
    expect(all.hits.total.value).to.equal(all.hits.hits.length);
    const page = await search(n, { identity: 'logs', limit: 2, skip: 1 });
    expect(page.hits.total.value).to.equal(all.hits.total.value);
    expect(page.hits.hits.map((h: { _id: string }) => h._id)).to.deep.equal(all.hits.hits.slice(1, 3).map((h: { _id: string }) => h._id));

    // Time range: a window in the future holds nothing; one around now holds everything.
    const now = Math.floor(Date.now() / 1000);
    expect((await search(n, { identity: 'logs', limit: 100, time: { gte: now + 100 } })).hits.total.value).to.equal(0);
    expect((await search(n, { identity: 'logs', limit: 100, time: { lte: now - 3600 } })).hits.total.value).to.equal(0);
    const oldest = times[times.length - 1]!;
    const inRange = await search(n, { identity: 'logs', limit: 100, time: { gte: oldest, lte: now + 5 } });
    expect(inRange.hits.total.value).to.be.at.least(all.hits.total.value);
    const single = await search(n, { identity: 'logs', limit: 100, time: { gte: oldest, lte: oldest } });
    expect(single.hits.hits.every((h: { _source: { time: number } }) => h._source.time === oldest)).to.equal(true);
    expect(single.hits.total.value).to.be.at.least(1);

    // Exact identity match: a prefix finds nothing.
    expect((await search(n, { identity: 'log', limit: 100 })).hits.total.value).to.equal(0);

    // /clear empties the identity's logs; a later /running is logged again.
    await expectOk(n, '/clear', { identity: 'logs' });
    await waitFor(async () => (await search(n, { identity: 'logs', limit: 100 })).hits.total.value === 0, 'logs cleared (a run in flight may land once)');
    await expectOk(n, '/running', { identity: 'logs', running: false });
    expect((await search(n, { identity: 'logs', limit: 100 })).hits.hits.map((h: { _source: { type: string } }) => h._source.type)).to.deep.equal(['running']);
  });

  it('/delete stops and deletes an identity and logs it; unknown identities', async () => {
    const n = await node();
    await expectOk(n, '/put', { identity: 'gone', time_zone: 'UTC', start: true, entries: { a: { cron_time: '* * * * * *', url: `${rx.url}/gone`, headers: { 'x-test-path': '/gone' } } } });
    await waitFor(() => rx.hits.some((h) => pathOf(h) === '/gone'), 'a firing');
    const goneIds = (await tasksOf(n, 'gone')).map((t) => t.id);
    await expectOk(n, '/delete', { identity: 'gone' });
    expect(await tasksOf(n, 'gone')).to.have.length(0);
    expect((await post(n, '/get', { identity: 'gone' })).body).to.deep.equal({ error: 0, data: null });
    expect((await post(n, '/all')).body.data).to.not.include('gone');
    const logs = await search(n, { identity: 'gone', limit: 10, type: 'delete' });
    expect(logs.hits.hits.map((h: { _source: unknown }) => h._source)).to.have.length(1);
    expect(logs.hits.hits[0]._source).to.deep.include({ type: 'delete', identity: 'gone', body: { identity: 'gone' } });
    const count = await quiet(n, '/gone', goneIds);
    await expectOk(n, '/put', { identity: 'marker', time_zone: 'UTC', start: true, entries: { m: { cron_time: '* * * * * *', url: `${rx.url}/m`, headers: { 'x-test-path': '/m' } } } });
    await waitFor(() => rx.hits.filter((h) => pathOf(h) === '/m').length >= 2, 'the marker fires twice');
    expect(rx.hits.filter((h) => pathOf(h) === '/gone').length).to.equal(count);

    await expectError(n, '/delete', { identity: 'gone' }, /identity 'gone' does not exist/);
    await expectError(n, '/running', { identity: 'nope', running: true }, /identity 'nope' does not exist/);
    // /lists leaves unknown identities out.
    const lists = await post(n, '/lists', { identity: ['nope', 'marker'] });
    expect(lists.body.data.map((d: { identity: string }) => d.identity)).to.deep.equal(['marker']);
    expect((await post(n, '/lists', { identity: ['nope'] })).body).to.deep.equal({ error: 0, data: [] });
  });

  it('answers bad input with error 1 naming the field, HTTP 200', async () => {
    const n = await node();
    const e = { a: { cron_time: '* * * * * *', url: rx.url } };
    await expectError(n, '/put', { time_zone: 'UTC', start: true, entries: e }, /^identity: is required$/);
    await expectError(n, '/put', { identity: 'x', start: true, entries: e }, /^time_zone: is required$/);
    await expectError(n, '/put', { identity: 'x', time_zone: 'UTC', entries: e }, /^start: is required$/);
    await expectError(n, '/put', { identity: 'x', time_zone: 'UTC', start: true }, /^entries: is required$/);
    await expectError(n, '/put', { identity: 'x', time_zone: 'UTC', start: 'yes', entries: e }, /^start: must be a boolean$/);
    await expectError(n, '/put', { identity: 'x', time_zone: 'Mars/Olympus', start: true, entries: e }, /^time_zone: unknown time zone 'Mars\/Olympus'$/);
    await expectError(n, '/put', { identity: 'x', time_zone: 'UTC', start: true, entries: { a: { cron_time: '* * * * *', url: rx.url } } }, /^entries\.a\.cron_time: must have 6 fields/);
    await expectError(n, '/put', { identity: 'x', time_zone: 'UTC', start: true, entries: { a: { cron_time: '99 * * * * *', url: rx.url } } }, /^entries\.a\.cron_time: cron field 'second' out of range/);
    await expectError(n, '/put', { identity: 'x', time_zone: 'UTC', start: true, entries: { a: { cron_time: '* * * * * *' } } }, /^entries\.a\.url: is required$/);
    await expectError(n, '/put', { identity: 'x', time_zone: 'UTC', start: true, entries: { a: { cron_time: '* * * * * *', url: 'ftp://x' } } }, /^entries\.a: url must be an http or https URL/);
    await expectError(n, '/put', { identity: 'x', time_zone: 'UTC', start: true, entries: { a: { cron_time: '* * * * * *', url: rx.url, headers: { n: 1 } } } }, /^entries\.a\.headers\.n: must be a string$/);
    await expectError(n, '/put', { identity: 'x', time_zone: 'UTC', start: true, entries: {} }, /^entries: must have at least one entry$/);
    await expectError(n, '/put', { identity: 'x', time_zone: 'UTC', start: true, entries: { ['k'.repeat(49)]: e.a } }, /^entries: an entry key must have 1 to 48 characters/);
    await expectError(n, '/put', { identity: 'x'.repeat(151), time_zone: 'UTC', start: true, entries: e }, /^identity: must NOT have more than 150 characters$/);
    // One bad entry leaves the identity as it was (nothing written).
    expect((await post(n, '/get', { identity: 'x' })).body).to.deep.equal({ error: 0, data: null });
    await expectError(n, '/get', {}, /^identity: is required$/);
    await expectError(n, '/get', undefined, /JSON object is required/);
    await expectError(n, '/get', { identity: 5 }, /^identity: must be a string$/);
    await expectError(n, '/lists', { identity: 'x' }, /^identity: must be an array$/);
    await expectError(n, '/running', { identity: 'x' }, /^running: is required$/);
    await expectError(n, '/delete', {}, /^identity: is required$/);
    await expectError(n, '/clear', {}, /^identity: is required$/);
    await expectError(n, '/search', { limit: 10 }, /^identity: is required$/);
    await expectError(n, '/search', { identity: 'x' }, /^limit: is required$/);
    await expectError(n, '/search', { identity: 'x', limit: 0 }, /^limit: must be >= 1$/);
    await expectError(n, '/search', { identity: 'x', limit: 101 }, /^limit: must be <= 100$/);
    await expectError(n, '/search', { identity: 'x', limit: 10, type: 'info' }, /^type: must be one of/);
    await expectError(n, '/search', { identity: 'x', limit: 10, skip: -1 }, /^skip: must be >= 0$/);
    await expectError(n, '/search', { identity: 'x', limit: 10, time: { gte: 'yesterday' } }, /^time\.gte: must be an integer$/);
    await expectError(n, '/put', null, /JSON/, { raw: '{"identity": "x", ' });
    await expectError(n, '/get', null, /must be a JSON object, got an array/, { raw: '[1]' });
  });

  it('ignores unknown fields, also /get data sent back to /put', async () => {
    const n = await node();
    await expectOk(n, '/put', { ...DOC_PUT, identity: 'extra', color: 'red', entries: { a: { cron_time: '0 0 1 * * *', url: rx.url, retries: 3 } } });
    const data = await get(n, 'extra');
    expect(data.entries.a).to.include({ cron_time: '0 0 1 * * *', url: rx.url });
    const id = (await tasksOf(n, 'extra'))[0]!.id;
    await expectOk(n, '/put', data); // next_date/last_date are ignored: nothing changes
    expect((await tasksOf(n, 'extra'))[0]!.id).to.equal(id);
    expect((await post(n, '/get', { identity: 'extra', verbose: true })).body.data.identity).to.equal('extra');
    expect((await post(n, '/search', { identity: 'extra', limit: 5, sort: 'asc' })).body.error).to.equal(0);
  });

  it('refuses a task name another identity already holds; other paths and methods', async () => {
    const n = await node();
    await expectOk(n, '/put', { identity: 'a.b', time_zone: 'UTC', start: false, entries: { c: { cron_time: '0 0 1 * * *', url: rx.url } } });
    await expectError(n, '/put', { identity: 'a', time_zone: 'UTC', start: false, entries: { 'b.c': { cron_time: '0 0 1 * * *', url: rx.url } } }, /^entries\.b\.c: a task named 'a\.b\.c' exists outside group 'a'$/);
    const wrong = await post(n, '/get', undefined, { method: 'GET' });
    expect(wrong.status).to.equal(405);
    expect(wrong.body.error).to.equal(1);
    const below = await post(n, '/get/more', { identity: 'a.b' });
    expect(below.status).to.equal(404);
    expect(below.body.error).to.equal(1);
  });

  it('works with curl as a user types it, and with bearer tokens when configured', async () => {
    const n = await node({ auth: { tokens: { tok: 'tenantA' }, required: true, operators: ['default'] } });
    const denied = await curl(n, '/all', {});
    expect(denied.status).to.equal(401);
    expect(denied.body.error).to.equal(1);
    const r = await post(n, '/put', { ...DOC_PUT, identity: 'tok' }, { token: 'tok' });
    expect(r.body).to.deep.equal(OK);
    expect((await post(n, '/all', {}, { token: 'tok' })).body).to.deep.equal({ error: 0, data: ['tok'] });

    const open = await node({}, 'n2');
    const put = await curl(open, '/put', { ...DOC_PUT, identity: 'curl' });
    expect(put).to.deep.equal({ status: 200, body: OK });
    const got = await curl(open, '/get', { identity: 'curl' });
    expect(got.status).to.equal(200);
    expect(got.body.data.time_zone).to.equal('Asia/Shanghai');
    // The other tenant's identity is not visible without its token.
    expect((await curl(open, '/get', { identity: 'tok' })).body).to.deep.equal({ error: 0, data: null });
  });
});

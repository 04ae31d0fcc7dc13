import { expect } from 'chai';
import { request, type Reply } from '../support/http.js';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { api, startNode } from '../support/node.js';
import { Receiver, type Answer, type Hit } from '../support/receiver.js';
import type { RotaNode } from '../../src/node.js';

const run = promisify(execFile);

/**
 * The crontab server's dialect (/crontab/*) against a real node: real etcd, real scheduler and
 * agent, real HTTP callbacks to loopback receivers. One node serves the file (each test uses
 * names of its own); the auth test starts a second one with tokens.
 */

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

async function post(node: RotaNode, path: string, body: unknown, opts: { raw?: string; token?: string; method?: string } = {}): Promise<Reply> {
  const method = opts.method ?? 'POST';
  // A GET carries no body; every other call sends JSON (a raw one as given, with the JSON type).
  const sent = method === 'GET' ? {} : opts.raw !== undefined ? { raw: opts.raw, type: 'application/json' } : { body };
  return request(node, method, path, { ...sent, ...(opts.token ? { token: opts.token } : {}) });
}

/** The receiver as a JSON-RPC server: Arith.Fail answers an error, every other call the result 6. */
function jsonRpcAnswers(hit: Hit): Answer {
  let call: { id?: unknown; method?: unknown } = {};
  try {
    call = JSON.parse(hit.body) as typeof call;
  } catch {
    // not JSON-RPC: answered like any call
  }
  const id = call.id ?? null;
  const body = call.method === 'Arith.Fail' ? { jsonrpc: '2.0', id, error: { code: -32000, message: 'cannot' } } : { jsonrpc: '2.0', id, result: 6 };
  return { contentType: 'application/json', body: JSON.stringify(body) };
}

describe('crontab dialect /crontab/* (integration, real etcd, real callbacks)', function () {
  this.timeout(60_000);
  let node: RotaNode;
  let ok: Receiver; // answers 200 "ok"
  let failing: Receiver; // answers 500
  let urls: Receiver;
  const nodes: RotaNode[] = [];

  const uniq = (what: string) => `${what}-${randomBytes(4).toString('hex')}`;
  const pastTs = () => Math.floor(Date.now() / 1000) - 3600;

  const add = async (items: unknown[]) => {
    const r = await post(node, '/crontab/add_task', { task_list: items });
    expect(r.status).to.equal(200);
    expect(r.body.state, JSON.stringify(r.body)).to.equal(0);
    return r.body.data.task_result as { task_id: string; name: string; err: string }[];
  };
  const addOne = async (item: Record<string, unknown>): Promise<string> => {
    const [res] = await add([item]);
    expect(res!.err, JSON.stringify(res)).to.equal('');
    expect(res!.task_id).to.match(/^\d+$/);
    return res!.task_id;
  };
  const query = async (items: Record<string, unknown>[]) => {
    const r = await post(node, '/crontab/query_task_status', { task_list: items });
    expect(r.status).to.equal(200);
    expect(r.body.state).to.equal(0);
    return r.body as { msg: string; data: { log_list: Json[]; task_result: Json[] } };
  };
  const logsOf = async (id: string) => (await query([{ task_id: id }])).data.log_list;
  const nativeTask = async (id: string) => (await api(node, 'GET', `/api/v1/tasks/${id}`)).body;
  const item = (over: Record<string, unknown>) => ({ name: uniq('t'), enable: 1, module: 2, type: 1, start_time: pastTs(), url: `${ok.url}/cb`, method: 'post', ...over });

  // A fresh key prefix, node and receivers per test (task ids start again in each prefix).
  beforeEach(async () => {
    const { endpoint, prefix } = await freshEtcd();
    node = await startNode(endpoint, prefix);
    nodes.push(node);
    ok = await new Receiver().start();
    failing = await new Receiver().start();
    failing.status = 500;
    urls = new Receiver();
    urls.respond = jsonRpcAnswers;
    await urls.start();
  });

  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop().catch(() => undefined);
    await ok.stop();
    await failing.stop();
    await urls.stop();
  });

  describe('types and schedules', () => {
    it('type 1 with a past timestamp runs once, now; the log shows a normal, succeeded run', async () => {
      const id = await addOne(item({ body: '{"a":1}' }));
      const logs = await waitFor(async () => ((await logsOf(id)).some((l: Json) => l.status === 2) ? logsOf(id) : null), 'the run succeeded');
      expect(logs).to.have.length(1);
      const l = logs[0];
      expect(l).to.include({ task_id: id, run_type: 1, status: 2, url: `${ok.url}/cb`, body: '{"a":1}', resp: 'ok' });
      expect(l.begin_time).to.match(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      expect(l.end_time).to.match(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      expect(ok.forTask(id)).to.have.length(1);
      expect((await nativeTask(id)).schedule).to.have.property('atMs').that.is.a('number');
    });

    it('type 1 with a numeric-string timestamp and with a cron runs once at its next occurrence', async () => {
      const ts = await addOne(item({ start_time: String(pastTs()) }));
      const cron = await addOne(item({ start_time: '* * * * * *' }));
      const t = await nativeTask(cron);
      expect(t.schedule.atMs).to.be.a('number');
      expect(t.labels).to.include({ 'crontab.type': '1', 'crontab.start_time': '* * * * * *' });
      for (const id of [ts, cron]) await waitFor(async () => (await logsOf(id)).some((l: Json) => l.status === 2), `task ${id} ran`);
      // A second firing would be due a second later for the per-second cron: wait until a
      // repeating per-second task has fired two seconds past the one firing (the scheduler got
      // past that instant), then look.
      const beat = await addOne(item({ type: 2, start_time: '*/1 * * * * *' }));
      await waitFor(() => ok.forTask(beat).some((h) => h.scheduledMs >= t.schedule.atMs + 2_000), 'a per-second task two seconds past the one firing');
      expect(ok.forTask(cron)).to.have.length(1);
      expect(ok.forTask(ts)).to.have.length(1);
    });

    it('type 2 with a 6-field cron, @every and a bare number of seconds fires repeatedly', async () => {
      const ids = [
        await addOne(item({ type: 2, start_time: '*/1 * * * * *' })),
        await addOne(item({ type: 2, start_time: '@every 1s' })),
        await addOne(item({ type: 2, start_time: 1 })),
      ];
      expect((await nativeTask(ids[0]!)).schedule).to.deep.equal({ cron: '*/1 * * * * *', tz: 'UTC' });
      expect((await nativeTask(ids[1]!)).schedule).to.deep.equal({ everyMs: 1000 });
      expect((await nativeTask(ids[2]!)).schedule).to.deep.equal({ everyMs: 1000 });
      for (const id of ids) await waitFor(() => ok.forTask(id).length >= 2, `task ${id} fired twice`);
      const r = await post(node, '/crontab/update_task', { task_list: ids.map((task_id) => ({ task_id, enable: 2 })) });
      expect(r.body.data.task_result.map((x: Json) => x.err)).to.deep.equal(['', '', '']);
    });

    it('types 3-7 take cron expressions (and macros); a bad one is the item err', async () => {
      const res = await add([
        item({ type: 3, start_time: '0 0 * * * *' }),
        item({ type: 4, start_time: '0 30 8 * * *' }),
        item({ type: 5, start_time: '@monthly' }),
        item({ type: 6, start_time: '0 0 0 1 1 *' }),
        item({ type: 7, start_time: '0 0 9 * * MON' }),
        item({ type: 4, start_time: '61 * * * * *' }),
        item({ type: 4, start_time: '3600' }),
      ]);
      expect(res.slice(0, 5).map((x) => x.err)).to.deep.equal(['', '', '', '', '']);
      expect(res[5]!.err).to.match(/start_time '61 \* \* \* \* \*'.*second/);
      expect(res[5]!.task_id).to.equal('');
      expect(res[6]!.err).to.match(/only for type 2/);
    });

    it('enable 2 never fires (while an enabled twin fires twice)', async () => {
      const off = [await addOne(item({ enable: 2 })), await addOne(item({ enable: 2, type: 2, start_time: '@every 1s' }))];
      const on = await addOne(item({ type: 2, start_time: '@every 1s' }));
      await waitFor(() => ok.forTask(on).length >= 2, 'the enabled task fired twice');
      for (const id of off) expect(ok.forTask(id), id).to.have.length(0);
      expect((await nativeTask(off[0]!)).enabled).to.equal(false);
      await post(node, '/crontab/update_task', { task_list: [{ task_id: on, enable: 2 }] });
    });
  });

  describe('callbacks', () => {
    it('post sends the body as given: JSON by default, form with body_type 2', async () => {
      const json = await addOne(item({ body: '{"x": [1, 2]}', method: 'POST' }));
      const form = await addOne(item({ body: 'a=1&b=two', body_type: 2 }));
      await waitFor(() => ok.forTask(json).length && ok.forTask(form).length, 'both called');
      const [j] = ok.forTask(json);
      expect(j).to.include({ method: 'POST', body: '{"x": [1, 2]}' });
      expect(j!.headers['content-type']).to.equal('application/json');
      const [f] = ok.forTask(form);
      expect(f).to.include({ method: 'POST', body: 'a=1&b=two' });
      expect(f!.headers['content-type']).to.equal('application/x-www-form-urlencoded');
    });

    it('body_type 2 with a JSON object body sends its fields as a form, as the original did; a string form goes as it is', async () => {
      const before = urls.hits.length;
      const cb = (path: string) => `http://127.0.0.1:${urls.port}${path}`;
      // body as the document has it (a string holding JSON), and as a JSON object.
      const text = await addOne(item({ url: cb('/form/text'), body: '{"x":"1","y":"2"}', body_type: 2 }));
      await addOne(item({ url: cb('/form/object'), body: { x: '1', y: 2, ok: true, none: null, nested: { a: 'b c' }, 'k&=': 'v&=' }, body_type: '2' }));
      await addOne(item({ url: cb('/form/plain'), body: 'a=1&b=2', body_type: 2 }));
      await addOne(item({ method: 'get', url: cb('/form/get?k=v'), body: '{"x":"1","y":"2"}', body_type: 2 }));
      const hit = (path: string) => urls.hits.find((h) => h.url === path || h.url.startsWith(`${path}?`));
      await waitFor(() => urls.hits.length >= before + 4 && ['/form/text', '/form/object', '/form/plain', '/form/get'].every((p) => hit(p)), 'the four callbacks');
      expect(hit('/form/text')).to.include({ method: 'POST', contentType: 'application/x-www-form-urlencoded', body: 'x=1&y=2' });
      expect(hit('/form/object')).to.include({
        method: 'POST',
        contentType: 'application/x-www-form-urlencoded',
        body: 'x=1&y=2&ok=true&none=&nested=%7B%22a%22%3A%22b+c%22%7D&k%26%3D=v%26%3D',
      });
      expect(hit('/form/plain')).to.include({ method: 'POST', contentType: 'application/x-www-form-urlencoded', body: 'a=1&b=2' });
      expect(hit('/form/get')).to.include({ method: 'GET', url: '/form/get?k=v&x=1&y=2', body: '' });
      // The task holds a form body; query_task_status shows the body as it was given.
      expect((await nativeTask(text)).action.http.body).to.deep.equal({ form: { x: '1', y: '2' } });
      const [l] = await waitFor(async () => ((await logsOf(text)).some((x: Json) => x.status > 1) ? logsOf(text) : null), 'the form run ended');
      expect(l).to.include({ body: '{"x":"1","y":"2"}' });
      // update_task to body_type 2 turns a stored JSON object body into a form.
      const json = await addOne(item({ type: 6, start_time: '@yearly', body: '{"p":"q"}' }));
      expect((await nativeTask(json)).action.http.body).to.deep.equal({ raw: '{"p":"q"}', contentType: 'application/json' });
      await post(node, '/crontab/update_task', { task_list: [{ task_id: json, body_type: 2 }] });
      expect((await nativeTask(json)).action.http.body).to.deep.equal({ form: { p: 'q' } });
    });

    it('get puts a form body in the query string and sends a JSON body as the body', async () => {
      const before = urls.hits.length;
      await addOne(item({ method: 'get', url: `http://127.0.0.1:${urls.port}/get/form?k=v`, body: 'a=1&b=2', body_type: 2 }));
      await addOne(item({ method: 'Get', url: `http://127.0.0.1:${urls.port}/get/json`, body: '{"q":1}' }));
      await waitFor(() => urls.hits.length >= before + 2, 'both GETs');
      const form = urls.hits.find((h) => h.url.startsWith('/get/form'))!;
      expect(form).to.include({ method: 'GET', url: '/get/form?k=v&a=1&b=2', body: '' });
      const json = urls.hits.find((h) => h.url.startsWith('/get/json'))!;
      expect(json).to.include({ method: 'GET', url: '/get/json', body: '{"q":1}', contentType: 'application/json' });
    });

    it('rpc makes a JSON-RPC 2.0 call: POST to addr:port/ with method Handler.Func and the body as params', async () => {
      const id = await addOne(item({ method: 'rpc', url: `127.0.0.1:${urls.port}/Arith.Multiply`, body: '{"A":2,"B":3}', resp_regexp: '"result":6' }));
      const hit = await waitFor(() => urls.hits.find((h) => h.body.includes('Arith.Multiply')), 'the JSON-RPC call');
      expect(hit).to.include({ method: 'POST', url: '/', contentType: 'application/json' });
      const call = JSON.parse(hit.body);
      expect(call).to.deep.include({ jsonrpc: '2.0', method: 'Arith.Multiply', params: { A: 2, B: 3 } });
      expect(call.id).to.match(new RegExp(`^${id}-\\d+-1$`)); // the run id
      const [l] = await waitFor(async () => ((await logsOf(id)).some((x: Json) => x.status > 1) ? logsOf(id) : null), 'the rpc run ended');
      expect(l).to.include({ status: 2, url: `127.0.0.1:${urls.port}/Arith.Multiply` });
      expect(l.resp).to.contain('"result":6');
      // A JSON-RPC error is a failed run, even with HTTP 200.
      const failing = await addOne(item({ method: 'rpc', url: `127.0.0.1:${urls.port}/Arith.Fail` }));
      const [f] = await waitFor(async () => ((await logsOf(failing)).some((x: Json) => x.status > 1) ? logsOf(failing) : null), 'the failing rpc run ended');
      expect(f).to.include({ status: 3 });
      const bad = await add([item({ method: 'rpc', url: 'no-function-here' })]);
      expect(bad[0]!.err).to.match(/addr:port\/Handler\.Func/);
    });

    it('resp_regexp: a match succeeds, a mismatch fails the run, "*" is anything, an invalid one is refused at add time', async () => {
      const match = await addOne(item({ resp_regexp: 'o+k' }));
      const any = await addOne(item({ resp_regexp: '*' }));
      const miss = await addOne(item({ resp_regexp: '^fine$' }));
      const ended = async (id: string) => waitFor(async () => (await logsOf(id)).find((l: Json) => l.status > 1), `task ${id} ended`);
      expect((await ended(match)).status).to.equal(2);
      expect((await ended(any)).status).to.equal(2);
      const m = await ended(miss);
      expect(m).to.include({ status: 3, resp: 'ok' });
      expect(m.msg).to.contain('did not match');
      const [bad] = await add([item({ resp_regexp: '(unclosed' })]);
      expect(bad).to.include({ task_id: '' });
      expect(bad!.err).to.match(/resp_regexp is not a valid regular expression/);
    });

    it('redo_param retries after each failure; the retries show as run_type 2, newest first', async () => {
      const id = await addOne(item({ url: `${failing.url}/x`, redo_param: '1 1' }));
      expect((await nativeTask(id)).policies.retry).to.deep.equal({ delaysMs: [1000, 1000] });
      const logs = await waitFor(async () => {
        const l = await logsOf(id);
        return l.length === 3 && l.every((x: Json) => x.status === 3) ? l : null;
      }, 'three failed attempts');
      expect(logs.map((l: Json) => l.run_type)).to.deep.equal([2, 2, 1]);
      expect(logs.map((l: Json) => l.attempt)).to.deep.equal([3, 2, 1]);
      expect(failing.forTask(id)).to.have.length(3);
      const [bad] = await add([item({ redo_param: '2 x 8' })]);
      expect(bad!.err).to.match(/redo_param/);
    });
  });

  describe('update_task and run_again_task', () => {
    it('update by task_id changes only the given fields; the id stays', async () => {
      const name = uniq('upd');
      const id = await addOne(item({ name, type: 6, start_time: '0 0 0 1 1 *', url: `${failing.url}/old`, body: 'B1', module: 7, redo_param: '5' }));
      const before = await nativeTask(id);
      const r = await post(node, '/crontab/update_task', { task_list: [{ task_id: Number(id), url: `${ok.url}/new` }] });
      expect(r.body).to.deep.include({ state: 0 });
      expect(r.body.data.task_result).to.deep.equal([{ task_id: id, name, err: '' }]);
      const after = await nativeTask(id);
      expect(after.action.http).to.include({ url: `${ok.url}/new` });
      expect(after.action.http.body).to.deep.equal({ raw: 'B1', contentType: 'application/json' });
      expect(after.schedule).to.deep.equal(before.schedule);
      expect(after.policies.retry).to.deep.equal({ delaysMs: [5000] });
      expect(after.labels).to.include({ 'crontab.module': '7', 'crontab.url': `${ok.url}/new`, 'crontab.type': '6' });
      // The callback really moved.
      await post(node, '/crontab/run_again_task', { task_list: [{ task_id: id }] });
      await waitFor(() => ok.forTask(id).length === 1, 'the run went to the new url');
    });

    it('update by name (task_id invalid) changes body, retries, schedule and enable; the id stays', async () => {
      const name = uniq('upd');
      const id = await addOne(item({ name, type: 6, start_time: '0 0 0 1 1 *', body: 'B1', module: 3 }));
      const r = await post(node, '/crontab/update_task', { task_list: [{ task_id: 0, name, body: 'B2', redo_param: '2 4', type: 7, start_time: '0 0 9 * * MON', enable: 2 }] });
      expect(r.body.data.task_result).to.deep.equal([{ task_id: id, name, err: '' }]);
      const t = await nativeTask(id);
      expect(t.id).to.equal(id);
      expect(t.enabled).to.equal(false);
      expect(t.action.http.body).to.deep.equal({ raw: 'B2', contentType: 'application/json' });
      expect(t.action.http.url).to.equal(`${ok.url}/cb`);
      expect(t.policies.retry).to.deep.equal({ delaysMs: [2000, 4000] });
      expect(t.schedule).to.deep.equal({ cron: '0 0 9 * * MON', tz: 'UTC' });
      expect(t.labels).to.include({ 'crontab.module': '3', 'crontab.type': '7', 'crontab.body': 'B2' });
    });

    it('update and run_again of an unknown task, and a bad field, are the item err', async () => {
      const u = await post(node, '/crontab/update_task', { task_list: [{ task_id: 999999, url: 'http://x/' }, { name: uniq('nope') }, {}] });
      expect(u.body.state).to.equal(0);
      const errs = u.body.data.task_result.map((x: Json) => x.err);
      expect(errs[0]).to.match(/no task with task_id 999999/);
      expect(errs[1]).to.match(/no task named/);
      expect(errs[2]).to.match(/task_id or name is required/);
      const id = await addOne(item({ type: 6, start_time: '@yearly' }));
      const b = await post(node, '/crontab/update_task', { task_list: [{ task_id: id, type: 9 }, { task_id: id, resp_regexp: '(' }, { task_id: id, start_time: 'nonsense' }] });
      const bad = b.body.data.task_result.map((x: Json) => x.err);
      expect(bad[0]).to.match(/unknown type 9/);
      expect(bad[1]).to.match(/resp_regexp is not a valid regular expression/);
      expect(bad[2]).to.match(/start_time 'nonsense'/);
      expect((await nativeTask(id)).labels).to.include({ 'crontab.type': '6', 'crontab.start_time': '@yearly' });
      const a = await post(node, '/crontab/run_again_task', { task_list: [{ name: uniq('nope') }] });
      expect(a.body.state).to.equal(0);
      expect(a.body.data.task_result[0].err).to.match(/no task named/);
      const q = await post(node, '/crontab/query_task_status', { task_list: [{ task_id: '999998' }] });
      expect(q.body.state).to.equal(0);
      expect(q.body.msg).to.match(/no task with task_id 999998/);
      expect(q.body.data).to.deep.include({ log_list: [] });
      expect(q.body.data.task_result[0].err).to.match(/no task/);
    });

    it('run_again_task runs a disabled task once (run_type 3), with its retries', async () => {
      const name = uniq('again');
      const id = await addOne(item({ name, enable: 2, url: `${failing.url}/again`, redo_param: '1' }));
      const r = await post(node, '/crontab/run_again_task', { task_list: [{ name }] });
      expect(r.body.data.task_result).to.deep.equal([{ task_id: id, name, err: '' }]);
      const logs = await waitFor(async () => {
        const l = await logsOf(id);
        return l.length === 2 && l.every((x: Json) => x.status === 3) ? l : null;
      }, 'the manual run and its retry');
      expect(logs.map((l: Json) => l.run_type)).to.deep.equal([2, 3]);
      expect(failing.forTask(id)).to.have.length(2);
    });
  });

  describe('requests', () => {
    it('a duplicate name is that item err; the others go on', async () => {
      const name = uniq('dup');
      const res = await add([item({ name, type: 6, start_time: '@yearly' }), item({ name, type: 6, start_time: '@yearly' }), item({ type: 6, start_time: '@yearly' })]);
      expect(res[0]!.err).to.equal('');
      expect(res[1]).to.include({ task_id: '', name });
      expect(res[1]!.err).to.match(/already exists/);
      expect(res[2]!.err).to.equal('');
      const again = await add([item({ name, type: 6, start_time: '@yearly' })]);
      expect(again[0]!.err).to.match(/already exists/);
    });

    it('without module a task is made (no crontab.module label); without method the item is refused', async () => {
      const { module: _m, ...noModule } = item({});
      const id = await addOne(noModule);
      expect((await nativeTask(id)).labels).to.not.have.property('crontab.module');
      await waitFor(async () => (await logsOf(id)).some((l: Json) => l.status === 2), 'the task without module ran');
      const { method: _x, ...noMethod } = item({});
      const res = await add([noMethod, item({ method: '' }), item({ method: null })]);
      expect(res.map((r) => [r.task_id, r.err])).to.deep.equal([['', 'method is required'], ['', 'method is required'], ['', 'method is required']]);
      // update_task needs neither: the stored method stays.
      const u = await post(node, '/crontab/update_task', { task_list: [{ task_id: id, url: `${ok.url}/moved` }] });
      expect(u.body.data.task_result[0].err).to.equal('');
      expect((await nativeTask(id)).action.http).to.include({ method: 'POST', url: `${ok.url}/moved` });
    });

    it('unknown type, bad enable, bad method, bad url, missing fields: item errs with state 0', async () => {
      const res = await add([
        item({ type: 9 }),
        item({ enable: 3 }),
        item({ method: 'put' }),
        item({ url: 'ftp://x/y' }),
        { name: uniq('m') },
        'not an object',
      ]);
      expect(res.map((r) => r.task_id)).to.deep.equal(['', '', '', '', '', '']);
      expect(res[0]!.err).to.match(/unknown type 9/);
      expect(res[1]!.err).to.match(/enable must be 1 \(on\) or 2 \(off\)/);
      expect(res[2]!.err).to.match(/method must be post, get or rpc/);
      expect(res[3]!.err).to.match(/url must be an http or https URL/);
      expect(res[4]!.err).to.match(/type is required/);
      expect(res[5]!.err).to.match(/must be a JSON object/);
    });

    it('request-level problems give a non-zero state with a message, HTTP 200 (404 for an unknown path)', async () => {
      const cases: [string, unknown, { raw?: string; method?: string }, number, number, RegExp][] = [
        ['/crontab/add_task', undefined, { raw: '{"task_list": [' }, 200, 1, /invalid JSON/],
        ['/crontab/add_task', undefined, { raw: '[1]' }, 200, 1, /must be a JSON object/],
        ['/crontab/add_task', {}, {}, 200, 1, /task_list is required/],
        ['/crontab/update_task', { task_list: [] }, {}, 200, 1, /task_list is required/],
        ['/crontab/query_task_status', { task_list: 'x' }, {}, 200, 1, /task_list is required/],
        ['/crontab/run_again_task', undefined, { raw: '' }, 200, 1, /JSON object is required/],
        ['/crontab/add_task', undefined, { method: 'GET' }, 200, 4, /method not allowed: GET/],
        ['/crontab/delete_task', { task_list: [{}] }, {}, 404, 3, /no route/],
      ];
      for (const [path, body, opts, status, state, msg] of cases) {
        const r = await post(node, path, body, opts);
        expect(r.status, `${path} ${JSON.stringify(opts)}`).to.equal(status);
        expect(r.body.state, JSON.stringify(r.body)).to.equal(state);
        expect(r.body.msg).to.match(msg);
        expect(r.body.data).to.deep.equal({});
      }
    });

    it('unknown fields are ignored, never refused; task_id may be a number or a numeric string', async () => {
      const r = await post(node, '/crontab/add_task', { task_list: [item({ type: 6, start_time: '@yearly', colour: 'red', extra: { a: 1 } })], trace_id: 'abc' });
      expect(r.body.state).to.equal(0);
      const [res] = r.body.data.task_result;
      expect(res.err).to.equal('');
      const q = await post(node, '/crontab/query_task_status', { task_list: [{ task_id: res.task_id, other: 1 }, { task_id: Number(res.task_id) }] });
      expect(q.body.data.task_result.map((x: Json) => x.err)).to.deep.equal(['', '']);
    });

    it("the document's add_task and query_task_status examples (as valid JSON)", async () => {
      const name = uniq('任务名称');
      const r = await post(node, '/crontab/add_task', {
        task_list: [{ name, enable: 1, module: 2, type: 1, start_time: pastTs(), url: `${ok.url}/path/aa`, method: 'post', resp_regexp: '*', body: 'xxx', body_type: 1, redo_param: '2 4 8' }],
      });
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.include({ state: 0, msg: 'ok' });
      const [res] = r.body.data.task_result;
      expect(res).to.include({ name, err: '' });
      const logs = await waitFor(async () => {
        const q = await post(node, '/crontab/query_task_status', { task_list: [{ task_id: 0, name }] });
        return q.body.data.log_list.find((l: Json) => l.status === 2) ? q.body.data.log_list : null;
      }, 'the example task ran');
      expect(logs[0]).to.include({ task_id: res.task_id, name, run_type: 1, status: 2, url: `${ok.url}/path/aa`, body: 'xxx', resp: 'ok' });
      expect(ok.forTask(res.task_id)[0]).to.include({ body: 'xxx', method: 'POST' });
    });

    it('curl, as a user would (curl -d sends a form Content-Type; the body is read as JSON)', async () => {
      const name = uniq('curl');
      const body = JSON.stringify({ task_list: [{ name, enable: 1, module: 1, type: 2, start_time: '0 0 3 * * *', url: `${ok.url}/c`, method: 'post' }] });
      const { stdout } = await run('curl', ['-s', '-w', '\n%{http_code}', '-XPOST', `http://127.0.0.1:${node.port}/crontab/add_task`, '-d', body]);
      const nl = stdout.lastIndexOf('\n');
      expect(Number(stdout.slice(nl + 1))).to.equal(200);
      const reply = JSON.parse(stdout.slice(0, nl));
      expect(reply.state).to.equal(0);
      expect(reply.data.task_result[0]).to.include({ name, err: '' });
    });

    it('with tokens configured, the bearer token is required, in this envelope', async () => {
      const { endpoint, prefix } = await freshEtcd();
      const n = await startNode(endpoint, prefix, { auth: { tokens: { tA: 'a' }, required: true, operators: [] } });
      nodes.push(n);
      const none = await post(n, '/crontab/query_task_status', { task_list: [{ name: 'x' }] });
      expect(none.status).to.equal(401);
      expect(none.body).to.deep.include({ state: 2, data: {} });
      expect(none.body.msg).to.match(/bearer token/);
      const wrong = await post(n, '/crontab/query_task_status', { task_list: [{ name: 'x' }] }, { token: 'nope' });
      expect(wrong.body.state).to.equal(2);
      const good = await post(n, '/crontab/add_task', { task_list: [item({ type: 6, start_time: '@yearly' })] }, { token: 'tA' });
      expect(good.body.state).to.equal(0);
      expect(good.body.data.task_result[0].err).to.equal('');
    });
  });
});

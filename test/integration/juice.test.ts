import { expect } from 'chai';
import { request, type Reply } from '../support/http.js';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { startNode } from '../support/node.js';
import { scripted } from '../support/scripted.js';
import { markedPids } from '../support/procs.js';
import { tempDir } from '../support/tmp.js';
import type { RotaNode } from '../../src/node.js';
import type { Config } from '../../src/config.js';
import { DEFAULTS } from '../../src/config.js';

const run = promisify(execFile);

/**
 * The Juice dialect (/v1/tasks) against a real node: real etcd, scheduler, agent, processes and
 * callback receivers. The node offers 2 cpus and 1024 MB, so requests decide placement.
 */
describe('Juice dialect /v1/tasks (integration, real etcd, real processes)', function () {
  this.timeout(60_000);
  const nodes: RotaNode[] = [];
  let endpoint = '';
  let prefix = '';

  async function node(over: Partial<Config> = {}): Promise<RotaNode> {
    const n = await startNode(endpoint, prefix, { node: { ...DEFAULTS.node, id: 'n1', resources: { cpu: 2, memMb: 1024 }, runtimes: [] }, juice: { expireAfterMs: 60_000 }, ...over });
    nodes.push(n);
    return n;
  }

  async function j(n: RotaNode, method: string, path: string, body?: unknown, opts: { tenant?: string | null; token?: string; raw?: string } = {}): Promise<Reply> {
    const tenant = opts.tenant === undefined ? '10002' : opts.tenant;
    return request(n, method, path, { body, ...(opts.raw !== undefined ? { raw: opts.raw } : {}), ...(opts.token ? { token: opts.token } : {}), headers: tenant !== null ? { 'X-Tenant-Id': tenant } : {} });
  }

  const submit = async (n: RotaNode, body: Record<string, unknown>, tenant?: string): Promise<number> => {
    const r = await j(n, 'POST', '/v1/tasks', body, tenant ? { tenant } : {});
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(r.body).to.include({ status: 0, message: 'OK' });
    expect(r.body.data.taskId).to.be.a('number');
    return r.body.data.taskId as number;
  };
  const row = async (n: RotaNode, id: number, tenant?: string) => (await j(n, 'GET', `/v1/tasks?taskIds=${id}`, undefined, tenant ? { tenant } : {})).body.data[0];
  const statusOf = async (n: RotaNode, id: number) => (await row(n, id))?.taskStatus as number;
  const until = (n: RotaNode, id: number, status: number, what: string) => waitFor(async () => ((await statusOf(n, id)) === status ? row(n, id) : null), what);

  beforeEach(async () => {
    ({ endpoint, prefix } = await freshEtcd());
  });
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop().catch(() => undefined);
  });

  it('runs a commands task to FINISHED, reporting RUNNING then FINISHED to its callback (retried), as the document shows', async () => {
    const n = await node();
    const hook = await scripted([500]); // the first report fails once: retried
    try {
      // The document's "run commands" example, with its callback on loopback.
      const id = await submit(n, { callbackUrl: hook.url, taskName: 'demo-commands', env: { name: 'environment', value: 'dev' }, commands: 'echo "env=$environment"' });
      const done = await until(n, id, 2, 'FINISHED');
      expect(done).to.include({ taskId: id, taskName: 'demo-commands', tenantId: '10002', commands: 'echo "env=$environment"', taskStatus: 2, callbackUrl: hook.url });
      expect(done.message).to.equal('exit code 0');
      expect(done.submitAt).to.match(/^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M$/);
      expect(done).to.not.have.property('dockerImage');
      await waitFor(() => hook.bodies.length === 2, 'both reports');
      expect(hook.bodies).to.deep.equal([
        { taskId: id, result: 'RUNNING', message: 'task is running' },
        { taskId: id, result: 'FINISHED', message: 'exit code 0' },
      ]);
      const later = await waitFor(async () => ((await row(n, id)).callbackAt ? row(n, id) : null), 'callbackAt');
      expect(later.callbackAt).to.match(/ [AP]M$/);
    } finally {
      await hook.close();
    }
  });

  it('failed commands are FAILED with their exit code; retry runs them again first', async () => {
    const n = await node();
    const id = await submit(n, { taskName: 'fails', commands: 'exit 4', retry: 1, envs: [{ name: 'A', value: '1' }] });
    const r = await until(n, id, 3, 'FAILED');
    expect(r.message).to.equal('exit code 4');
    const runs = await n.service.listRuns({ tenant: '10002' }, String(id), 10);
    expect(runs.items.map((x) => [x.attempt, x.state])).to.deep.equal([[2, 'failed'], [1, 'failed']]);
  });

  it('kill stops the whole process group of a running task (nothing left), and answers submitKill:false once it ended', async () => {
    const n = await node();
    const mark = `jm${randomBytes(5).toString('hex')}`;
    const id = await submit(n, { taskName: 'long', commands: `export JMARK=${mark}; sleep 30 & sleep 30; wait` });
    await until(n, id, 1, 'RUNNING');
    await waitFor(() => markedPids(mark, 'JMARK').length >= 2, 'the shell and its children');
    const k = await j(n, 'POST', `/v1/tasks/kill?taskId=${id}`);
    expect(k.status).to.equal(200);
    expect(k.body).to.deep.equal({ status: 0, message: 'OK', data: { submitKill: true, resultMessage: 'task is killed', currentStatus: 6 } });
    await until(n, id, 6, 'KILLED');
    await waitFor(() => markedPids(mark, 'JMARK').length === 0, 'no process of the task left');
    const again = await j(n, 'POST', `/v1/tasks/kill?taskId=${id}`);
    expect(again.body.data).to.deep.include({ submitKill: false, currentStatus: 6 });
    const finished = await submit(n, { taskName: 'quick', commands: 'true' });
    await until(n, finished, 2, 'FINISHED');
    expect((await j(n, 'POST', `/v1/tasks/kill?taskId=${finished}`)).body.data).to.deep.include({ submitKill: false, currentStatus: 2 });
  });

  it('places by resources: waits NOT_START while cpu is taken, runs when it frees', async () => {
    const n = await node();
    // The hog holds its cpu until the test lets it end, so `next` is seen waiting for sure.
    const gate = join(tempDir('rota-juice-'), 'hog-may-end');
    const hog = await submit(n, { taskName: 'hog', commands: `while [ ! -e '${gate}' ]; do sleep 0.05; done`, resources: { cpu: 1.5, mem: 256 } });
    await until(n, hog, 1, 'the hog RUNNING');
    const next = await submit(n, { taskName: 'next', commands: 'true', resources: { cpu: 1, mem: 128 } });
    expect(await statusOf(n, next)).to.equal(-1); // 1.5 + 1 > 2 cpus
    expect((await row(n, next)).message).to.match(/waiting for a node that can take it \(cpu 1, mem 128 MB\)/);
    expect(await statusOf(n, hog)).to.equal(1);
    writeFileSync(gate, '');
    await until(n, next, 2, 'next FINISHED once the hog is done');
    const hogRun = (await n.service.listRuns({ tenant: '10002' }, String(hog), 1)).items[0]!;
    const nextRun = (await n.service.listRuns({ tenant: '10002' }, String(next), 1)).items[0]!;
    expect(hogRun.state).to.equal('succeeded');
    expect(nextRun.startedMs!).to.be.at.least(hogRun.endedMs!);
    // The defaults (1 cpu, 512 MB) fit.
    await until(n, await submit(n, { taskName: 'plain', commands: 'true' }), 2, 'plain FINISHED');
  });

  it('one that never fits waits NOT_START, then EXPIREs after the configured wait', async () => {
    const n = await node({ juice: { expireAfterMs: 4_000 } });
    const huge = await submit(n, { taskName: 'huge', commands: 'true', resources: { mem: 4096 } });
    expect(await statusOf(n, huge)).to.equal(-1);
    const expired = await until(n, huge, 12, 'EXPIRED');
    expect(expired.message).to.match(/expired: no node could take it within 4 s/);
  });

  it('a task killed while it waits for a node is KILLED and never runs', async () => {
    const n = await node(); // expires after 60 s: it is still waiting when the kill comes
    const waiting = await submit(n, { taskName: 'waiting', commands: 'true', constraints: [{ field: 'rack_id', values: ['r9'] }] });
    expect(await statusOf(n, waiting)).to.equal(-1);
    expect((await j(n, 'POST', `/v1/tasks/kill?taskId=${waiting}`)).body.data).to.deep.equal({ submitKill: true, resultMessage: 'task is killed', currentStatus: 6 });
    await until(n, waiting, 6, 'KILLED before it started');
    const runs = await n.service.listRuns({ tenant: '10002' }, String(waiting), 10);
    expect(runs.items.filter((r) => r.startedMs !== undefined), JSON.stringify(runs.items)).to.deep.equal([]);
    // Killed at once, maybe before the leader has planned it (then it never will: paused).
    const early = await submit(n, { taskName: 'early', commands: 'true', constraints: [{ field: 'rack_id', values: ['r9'] }] });
    expect((await j(n, 'POST', `/v1/tasks/kill?taskId=${early}`)).body.data).to.deep.include({ submitKill: true, currentStatus: 6 });
    await until(n, early, 6, 'KILLED at once');
    expect((await n.service.listRuns({ tenant: '10002' }, String(early), 10)).items.filter((r) => r.startedMs !== undefined)).to.deep.equal([]);
  });

  it('constraints pick nodes by hostname and rack; a container with no runtime in the cluster is ERROR', async () => {
    const n = await node({ juice: { expireAfterMs: 1_500 } });
    const here = (await (await fetch(`http://127.0.0.1:${n.port}/api/v1/nodes`)).json()) as { items: { hostname: string }[] };
    const hostname = here.items[0]!.hostname;
    await until(n, await submit(n, { taskName: 'here', commands: 'true', constraints: { field: 'hostname', values: [hostname, 'other'] } }), 2, 'FINISHED on a matching host');
    const elsewhere = await submit(n, { taskName: 'elsewhere', commands: 'true', constraints: [{ field: 'rack_id', values: ['r9'] }] });
    await until(n, elsewhere, 12, 'EXPIRED: no node in rack r9');
    // The document's container example: no node has a runtime here.
    const ctr = await submit(n, { taskName: 'demo-container', env: { name: 'environment', value: 'dev' }, args: ['this is a test'], container: { docker: { image: 'dockerhub.XXXX.com/demo-slice' }, type: 'DOCKER' } });
    const err = await until(n, ctr, 5, 'ERROR');
    expect(err.dockerImage).to.equal('dockerhub.XXXX.com/demo-slice');
    expect(err.message).to.match(/no node of the cluster has a container runtime/);
  });

  it('X-Tenant-Id scopes everything: required, another tenant\'s tasks are invisible and unkillable, tokens must match', async () => {
    const n = await node();
    const mine = await submit(n, { taskName: 'mine', commands: 'sleep 5' }, 'ta');
    expect((await j(n, 'GET', `/v1/tasks?taskIds=${mine}`, undefined, { tenant: null })).status).to.equal(400);
    const noTenant = await j(n, 'POST', '/v1/tasks', { taskName: 'x', commands: 'true' }, { tenant: null });
    expect(noTenant.status).to.equal(400);
    expect(noTenant.body).to.deep.equal({ status: 400, message: 'X-Tenant-Id header is required' });
    expect((await j(n, 'GET', `/v1/tasks?taskIds=${mine},999`, undefined, { tenant: 'tb' })).body).to.deep.equal({ status: 0, message: 'OK', data: [] });
    expect((await j(n, 'POST', `/v1/tasks/kill?taskId=${mine}`, undefined, { tenant: 'tb' })).status).to.equal(404);
    expect((await j(n, 'GET', `/v1/tasks?taskIds=${mine},999`, undefined, { tenant: 'ta' })).body.data.map((r: { taskId: number }) => r.taskId)).to.deep.equal([mine]);
    await j(n, 'POST', `/v1/tasks/kill?taskId=${mine}`, undefined, { tenant: 'ta' });
    await n.stop();
    nodes.length = 0;

    const secured = await node({ auth: { tokens: { tka: 'ta', tkb: 'tb' }, required: 'auto', operators: [] } });
    expect((await j(secured, 'GET', `/v1/tasks?taskIds=${mine}`, undefined, { tenant: 'ta' })).status).to.equal(401);
    expect((await j(secured, 'GET', `/v1/tasks?taskIds=${mine}`, undefined, { tenant: 'ta', token: 'tkb' })).status).to.equal(403);
    expect((await j(secured, 'GET', `/v1/tasks?taskIds=${mine}`, undefined, { tenant: 'ta', token: 'tka' })).body.data).to.have.length(1);
  });

  it('answers bad input with 400 and a message naming the problem; ignores unknown fields; curl works', async () => {
    const n = await node();
    const bad: [unknown, RegExp, string?][] = [
      [{ commands: 'true' }, /^taskName: is required$/],
      [{ taskName: 'x' }, /^neither commands nor container given/],
      [{ taskName: 'x', commands: 'true', container: { docker: { image: 'i' } } }, /either commands or container, not both/],
      [{ taskName: 'x', container: { docker: {} } }, /container.docker.image is required/],
      [{ taskName: 'x', commands: 'true', resources: { cpu: 'lots' } }, /^resources.cpu: must be a number$/],
      [{ taskName: 7, commands: 'true' }, /^taskName: must be a string$/],
      [{ taskName: 'x', commands: 'true', constraints: { field: 'zone', values: ['a'] } }, /field must be 'hostname' or 'rack_id'/],
      [{ taskName: 'x', commands: 'true', callbackUrl: 'ftp://x' }, /callback.url must be an http or https URL/],
      // An object where a variable's value goes (fuzz found it a 500).
      [{ taskName: 'x', commands: 'true', env: { B: { toString: 2 } } }, /^env\.B: must be a string or a number or a boolean or null$/],
      [{ taskName: 'x', commands: 'true', envs: [{ name: 'A', value: [1] }] }, /^envs\[0\]\.value: must be a string or a number or a boolean or null$/],
      [undefined, /^invalid JSON/, '{"taskName": '],
      [[1], /must be a JSON object/],
    ];
    for (const [body, msg, raw] of bad) {
      const r = await j(n, 'POST', '/v1/tasks', body, raw ? { raw } : {});
      expect(r.status, JSON.stringify(body ?? raw)).to.equal(400);
      expect(r.body.status).to.not.equal(0);
      expect(r.body.message, JSON.stringify(body ?? raw)).to.match(msg);
    }
    for (const q of ['taskIds=abc', 'taskIds=', '', 'taskIds=1,x2']) expect((await j(n, 'GET', `/v1/tasks?${q}`)).status, q).to.equal(400);
    expect((await j(n, 'POST', '/v1/tasks/kill?taskId=x')).status).to.equal(400);
    expect((await j(n, 'DELETE', '/v1/tasks')).status).to.equal(405);
    const id = await submit(n, { taskName: 'extra', commands: 'true', owner: 'someone', priority: 3 });
    expect(await row(n, id)).to.include({ taskName: 'extra', priority: 3 });
    const { stdout } = await run('curl', ['-s', '-XPOST', `http://127.0.0.1:${n.port}/v1/tasks`, '-H', 'X-Tenant-Id: 10002', '-d', '{"taskName":"by-curl","commands":"true"}']);
    expect(JSON.parse(stdout)).to.deep.include({ status: 0, message: 'OK' });
  });

  it('runs a container through the node\'s runtime when one works here (docker or podman)', async function () {
    const { detectRuntimes } = await import('../../src/runner/container.js');
    if (!(await detectRuntimes()).length) this.skip(); // no engine on this machine: the ERROR path above is what runs
    const n = await node({ node: { ...DEFAULTS.node, id: 'n1', resources: { cpu: 2, memMb: 1024 } } });
    const id = await submit(n, { taskName: 'ctr', container: { docker: { image: 'busybox' }, type: 'DOCKER' }, args: ['echo', 'hi'] });
    await waitFor(async () => [2, 3].includes(await statusOf(n, id)), 'the container ran', 120_000);
  });
});


import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../../src/config.js';
import type { RotaNode } from '../../src/node.js';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { call, LogCapture, nodeWithLog, type Reply } from '../support/security.js';

/**
 * A node exposed on 0.0.0.0 with two tenants' tokens. Every dialect and the native API must
 * refuse a request without a valid token in its own envelope; tenant A's tasks, made through
 * every API, must be invisible and untouchable to tenant B through every API; and no token text
 * reaches the log (captured at debug level, request lines included).
 */
describe('security: tokens on every dialect, tenant isolation, secrets not logged', function () {
  this.timeout(120_000);
  const TA = `ta-${randomBytes(12).toString('hex')}`;
  const TB = `tb-${randomBytes(12).toString('hex')}`;
  const log = new LogCapture();
  let node: RotaNode;
  let port: number;

  before(async () => {
    const { endpoint, prefix } = await freshEtcd();
    node = nodeWithLog(endpoint, prefix, { listen: { host: '0.0.0.0', port: 0 }, auth: { tokens: { [TA]: 'a', [TB]: 'b' }, required: 'auto', operators: [] } }, log);
    await node.start();
    port = node.port;
    await waitFor(async () => (await call(port, 'GET', '/readyz')).status === 200, 'node ready');
  });
  after(async () => {
    await node?.stop();
  });

  it('a node on 0.0.0.0 without tokens refuses to start', async () => {
    const { endpoint, prefix } = await freshEtcd();
    const bare = nodeWithLog(endpoint, prefix, { listen: { host: '0.0.0.0', port: 0 } }, new LogCapture());
    let err: unknown = null;
    await bare.start().catch((e: unknown) => (err = e));
    await bare.stop().catch(() => undefined);
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as Error).message).to.contain('requires API tokens');
  });

  it('every dialect and the native API refuse a missing or wrong token, each in its own envelope', async () => {
    const bad: { name: string; headers: Record<string, string> }[] = [
      { name: 'none', headers: {} },
      { name: 'wrong bearer', headers: { authorization: 'Bearer not-a-token' } },
      { name: 'basic', headers: { authorization: `Basic ${Buffer.from(`${TA}:`).toString('base64')}` } },
    ];
    for (const b of bad) {
      const h = b.headers;
      const native = await call(port, 'GET', '/api/v1/tasks', { headers: h });
      expect(native.status, b.name).to.equal(401);
      expect(native.body.error.code).to.equal('UNAUTHORIZED');
      const proc = await call(port, 'GET', '/proc', { headers: h });
      expect(proc.status, b.name).to.equal(401);
      expect(proc.body.code).to.equal(401);
      const procPost = await call(port, 'POST', '/proc', { headers: h, body: { name: 'x', cmd: 'id', type: 'once' } });
      expect(procPost.status).to.equal(401);
      const cron = await call(port, 'POST', '/crontab/add_task', { headers: h, body: { task_list: [{ name: 'x', enable: 1, module: 2, type: 6, start_time: '@yearly', url: 'http://127.0.0.1:9/' }] } });
      expect(cron.body.state, b.name).to.not.equal(0);
      const sched = await call(port, 'POST', '/all', { headers: h, body: {} });
      expect(sched.body.error, b.name).to.equal(1);
      const put = await call(port, 'POST', '/put', { headers: h, body: { identity: 'x', start: true, entries: { e: { cron_time: '0 0 0 1 1 *', url: 'http://127.0.0.1:9/' } } } });
      expect(put.body.error).to.equal(1);
      for (const [method, path, body] of [
        ['GET', '/api2/jobs/x.do', undefined],
        ['POST', '/api2/tasks.do', { job: 'x' }],
        ['POST', '/api2/jobs/on.do', { jobs: ['x'] }],
        ['GET', '/api2/workers/x.do', undefined],
      ] as const) {
        const q = await call(port, method, path, { headers: { ...h, ...(b.name === 'wrong bearer' ? { 'Q-Server-Token': 'not-a-token' } : {}) }, ...(body ? { body } : {}) });
        expect(q.body, `${b.name} ${path}`).to.deep.equal({ ret: false, message: '授权失败' });
      }
      const juice = await call(port, 'GET', '/v1/tasks?taskIds=1', { headers: { ...h, 'X-Tenant-Id': 'a' } });
      expect(juice.status, b.name).to.equal(401);
      const juicePost = await call(port, 'POST', '/v1/tasks', { headers: { ...h, 'X-Tenant-Id': 'a' }, body: { taskName: 'x', commands: 'id' } });
      expect(juicePost.status).to.equal(401);
    }
    // Juice: a valid token for another tenant than X-Tenant-Id is 403.
    expect((await call(port, 'GET', '/v1/tasks?taskIds=1', { token: TB, headers: { 'X-Tenant-Id': 'a' } })).status).to.equal(403);
    // And the valid token is accepted everywhere (read-only calls).
    expect((await call(port, 'GET', '/api/v1/tasks', { token: TA })).status).to.equal(200);
    expect((await call(port, 'GET', '/proc', { token: TA })).status).to.equal(200);
    expect((await call(port, 'POST', '/all', { token: TA, body: {} })).body.error).to.equal(0);
    expect((await call(port, 'GET', '/v1/tasks?taskIds=1', { token: TA, headers: { 'X-Tenant-Id': 'a' } })).status).to.equal(200);
    expect((await call(port, 'GET', '/api2/jobs/none.do', { headers: { 'Q-Server-Token': TA } })).body).to.deep.equal({ ret: false, message: 'job不存在' });
  });

  it("tenant A's tasks, made through every API, are invisible and untouchable to tenant B through every API", async () => {
    const A = { token: TA };
    const B = { token: TB };
    const far = 'http://127.0.0.1:9/never';
    // Native.
    const nat = await call(port, 'POST', '/api/v1/tasks', { ...A, body: { name: 'a-native', schedule: { cron: '0 0 0 1 1 *' }, action: { http: { url: far } } } });
    expect(nat.status, JSON.stringify(nat.body)).to.equal(201);
    // /proc (a cron process task, so nothing runs now).
    const proc = await call(port, 'POST', '/proc', { ...A, body: { name: 'a-proc', cmd: 'sleep 30', type: 'cron', cron: '0 0 1 1 *' } });
    expect(proc.body, JSON.stringify(proc.body)).to.deep.equal({ code: 200, msg: 'OK' });
    // crontab.
    const cron = await call(port, 'POST', '/crontab/add_task', { ...A, body: { task_list: [{ name: 'a-crontab', enable: 1, module: 2, type: 6, start_time: '@yearly', url: far, method: 'post' }] } });
    expect(cron.body.state, JSON.stringify(cron.body)).to.equal(0);
    const cronId = Number(cron.body.data.task_result[0].task_id);
    // schedule-api.
    const sched = await call(port, 'POST', '/put', { ...A, body: { identity: 'a-identity', time_zone: 'UTC', start: true, entries: { e: { cron_time: '0 0 0 1 1 *', url: far } } } });
    expect(sched.body.error, JSON.stringify(sched.body)).to.equal(0);
    // qschedule: a job is made through the native API under the app's token.
    const qjob = await call(port, 'POST', '/api/v1/tasks', { ...A, body: { name: 'a-qjob', schedule: { manual: true }, action: { http: { url: far } } } });
    expect(qjob.status).to.equal(201);
    expect((await call(port, 'GET', '/api2/jobs/a-qjob.do', { headers: { 'Q-Server-Token': TA } })).body.ret).to.equal(true);
    // Juice, tenant from X-Tenant-Id; a command that waits, so it is still there to kill.
    const juice = await call(port, 'POST', '/v1/tasks', { ...A, headers: { 'X-Tenant-Id': 'a' }, body: { taskName: 'a-juice', commands: 'sleep 20' } });
    expect(juice.body.status, JSON.stringify(juice.body)).to.equal(0);
    const juiceId = juice.body.data.taskId as number;

    const aTasks = (await call(port, 'GET', '/api/v1/tasks?limit=100', A)).body.items as { id: string; name: string; updatedMs: number; enabled: boolean }[];
    expect(aTasks.length).to.be.at.least(6);
    const before = JSON.stringify(aTasks.map((t) => [t.id, t.name, t.updatedMs, t.enabled]));
    const aNames = aTasks.map((t) => t.name);
    const secretBits = [...aNames, 'a-identity', 'a-proc', 'a-crontab', 'a-qjob', 'a-juice', 'sleep 30', 'sleep 20', far];
    /** B's reply must not mention any of A's names, identities, commands or URLs. */
    const blind = (r: Reply, what: string) => {
      const text = JSON.stringify(r.body);
      for (const s of secretBits) expect(text, `${what} leaks '${s}': ${text}`).to.not.contain(s);
    };

    // Native: every id of A's is 404 to B, every verb; B's lists show nothing.
    for (const t of aTasks) {
      for (const [method, path, body] of [
        ['GET', `/api/v1/tasks/${t.id}`, undefined],
        ['PATCH', `/api/v1/tasks/${t.id}`, { enabled: false }],
        ['PUT', `/api/v1/tasks/${t.id}`, { name: 'taken', schedule: { manual: true }, action: { http: { url: far } } }],
        ['POST', `/api/v1/tasks/${t.id}/pause`, undefined],
        ['POST', `/api/v1/tasks/${t.id}/resume`, undefined],
        ['POST', `/api/v1/tasks/${t.id}/trigger`, undefined],
        ['GET', `/api/v1/tasks/${t.id}/runs`, undefined],
        ['DELETE', `/api/v1/tasks/${t.id}`, undefined],
      ] as const) {
        const r = await call(port, method, path, { ...B, ...(body ? { body } : {}) });
        expect(r.status, `${method} ${path}`).to.equal(404);
        blind(r, `${method} ${path}`);
      }
    }
    for (const path of ['/api/v1/tasks?limit=100', '/api/v1/events', '/api/v1/runs/inflight', '/api/v1/nodes']) {
      const r = await call(port, 'GET', path, B);
      blind(r, path);
    }
    expect((await call(port, 'GET', '/api/v1/tasks', B)).body.items).to.deep.equal([]);

    // /proc: B's list is empty; restart, stop and output of A's names are refused.
    const plist = await call(port, 'GET', '/proc', B);
    expect(plist.status).to.equal(200);
    blind(plist, 'GET /proc');
    for (const name of aNames) {
      for (const [method, path] of [['PUT', `/proc?name=${name}`], ['DELETE', `/proc?name=${name}`], ['GET', `/proc/output?name=${name}`]] as const) {
        // Indistinguishable from a name nobody ever used (the reply may echo the name B sent).
        const r = await call(port, method, path, B);
        const never = await call(port, method, path.replace(name, 'never-used-name'), B);
        expect(r.status, `${method} ${path}`).to.not.equal(200);
        expect(r.status).to.equal(never.status);
        expect(JSON.stringify(r.body)).to.equal(JSON.stringify(never.body).replace('never-used-name', name));
      }
    }

    // crontab: by id (A's, from every API) and by name, query/update/run are per-item errors.
    const ids = aTasks.map((t) => Number(t.id)).filter((n) => Number.isInteger(n));
    expect(ids).to.include(cronId);
    for (const [path, item] of [
      ['/crontab/query_task_status', (id: number) => ({ task_id: id })],
      ['/crontab/update_task', (id: number) => ({ task_id: id, enable: 2 })],
      ['/crontab/run_again_task', (id: number) => ({ task_id: id })],
    ] as const) {
      const r = await call(port, 'POST', path, { ...B, body: { task_list: ids.map(item) } });
      for (const res of (r.body.data?.task_result ?? []) as { err: string }[]) expect(res.err, `${path} ${JSON.stringify(r.body)}`).to.not.equal('');
      expect(r.body.data?.log_list ?? []).to.deep.equal([]);
      blind(r, path);
    }
    const byName = await call(port, 'POST', '/crontab/query_task_status', { ...B, body: { task_list: aNames.map((name) => ({ name })) } });
    expect(byName.body.data?.log_list ?? []).to.deep.equal([]);

    // schedule-api: A's identity does not exist for B.
    expect((await call(port, 'POST', '/all', { ...B, body: {} })).body.data).to.not.include('a-identity');
    expect((await call(port, 'POST', '/get', { ...B, body: { identity: 'a-identity' } })).body).to.deep.equal({ error: 0, data: null });
    for (const [path, body] of [
      ['/lists', { identity: ['a-identity'] }],
      ['/running', { identity: 'a-identity', running: false }],
      ['/delete', { identity: 'a-identity' }],
      ['/search', { identity: 'a-identity' }],
      ['/clear', { identity: 'a-identity' }],
    ] as const) {
      const r = await call(port, 'POST', path, { ...B, body });
      if (path === '/running' || path === '/delete') expect(r.body.error, path).to.not.equal(0);
      // Indistinguishable from an identity nobody ever used.
      const never = await call(port, 'POST', path, { ...B, body: JSON.parse(JSON.stringify(body).replace('a-identity', 'never-used-id')) });
      expect(JSON.stringify(r.body), path).to.equal(JSON.stringify(never.body).replace('never-used-id', 'a-identity'));
    }

    // qschedule: every name of A's is job不存在 to app B.
    for (const name of aNames) {
      for (const [method, path, body] of [
        ['GET', `/api2/jobs/${name}.do`, undefined],
        ['POST', '/api2/tasks.do', { job: name, param: {} }],
        ['POST', '/api2/jobs/off.do', { jobs: [name] }],
        ['POST', '/api2/workers/state.do', { jobName: name, workers: JSON.stringify({ '127.0.0.1:1': false }) }],
        ['GET', `/api2/workers/${name}.do`, undefined],
      ] as const) {
        const r = await call(port, method, path, { headers: { 'Q-Server-Token': TB }, ...(body ? { body } : {}) });
        expect(r.body, `${method} ${path}`).to.deep.equal({ ret: false, message: 'job不存在' });
      }
    }

    // Juice: B (its own tenant header) sees no row of A's and cannot kill it; claiming A's
    // tenant with B's token is 403.
    const allIds = [juiceId, ...ids].join(',');
    const rows = await call(port, 'GET', `/v1/tasks?taskIds=${allIds}`, { ...B, headers: { 'X-Tenant-Id': 'b' } });
    expect(rows.body.data).to.deep.equal([]);
    const kill = await call(port, 'POST', `/v1/tasks/kill?taskId=${juiceId}`, { ...B, headers: { 'X-Tenant-Id': 'b' } });
    expect(kill.body.status, JSON.stringify(kill.body)).to.not.equal(0);
    blind(kill, 'juice kill');
    expect((await call(port, 'POST', `/v1/tasks/kill?taskId=${juiceId}`, { ...B, headers: { 'X-Tenant-Id': 'a' } })).status).to.equal(403);

    // B creating a task of the same name gets its own, not A's.
    expect((await call(port, 'POST', '/proc', { ...B, body: { name: 'a-proc', cmd: 'true', type: 'cron', cron: '0 0 1 1 *' } })).body.code).to.equal(200);
    // Nothing of A's changed or disappeared.
    const after = (await call(port, 'GET', '/api/v1/tasks?limit=100', A)).body.items as typeof aTasks;
    expect(JSON.stringify(after.map((t) => [t.id, t.name, t.updatedMs, t.enabled]))).to.equal(before);
    expect((await call(port, 'POST', '/get', { ...A, body: { identity: 'a-identity' } })).body.data).to.not.equal(null);
    expect((await call(port, 'GET', `/v1/tasks?taskIds=${juiceId}`, { ...A, headers: { 'X-Tenant-Id': 'a' } })).body.data).to.have.length(1);
    await call(port, 'POST', `/v1/tasks/kill?taskId=${juiceId}`, { ...A, headers: { 'X-Tenant-Id': 'a' } });
  });

  it('no token text reaches the log (start-up, requests on each dialect, failed auth)', async () => {
    await node.stop();
    const text = log.text();
    expect(text).to.contain('"configuration"');
    expect(text).to.contain('"request"');
    expect(text).to.contain('[redacted]');
    for (const secret of [TA, TB]) expect(text).to.not.contain(secret);
  });
});

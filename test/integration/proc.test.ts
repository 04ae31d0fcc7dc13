import { expect } from 'chai';
import { request, type Reply } from '../support/http.js';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { api, startNode } from '../support/node.js';
import { markedPids } from '../support/procs.js';
import { tempDir } from '../support/tmp.js';
import type { RotaNode } from '../../src/node.js';
import type { Config } from '../../src/config.js';

const run = promisify(execFile);

/**
 * The Meproc dialect (/proc) against a real node: real etcd, real scheduler and agent, real
 * child processes, checked in the real process table.
 */

async function call(node: RotaNode, method: string, path: string, body?: unknown, opts: { raw?: string; token?: string; type?: string } = {}): Promise<Reply> {
  return request(node, method, path, { body, ...opts });
}

/** The seed document's curl commands, as given (curl -d sends a form Content-Type). */
async function curl(node: RotaNode, args: string[]): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const withPort = args.map((a) => a.replace('127.1:8606', `127.1:${node.port}`));
  const { stdout } = await run('curl', ['-s', '-w', '\n%{http_code}', ...withPort]);
  const nl = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(nl + 1)), body: JSON.parse(stdout.slice(0, nl)) };
}

const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

/**
 * Promises of the dialect that code outside it breaks today (reported; see the leader's deps
 * check and ReplicaService.restart). ROTA_KNOWN_BUGS=1 runs them.
 */

describe('Meproc dialect /proc (integration, real etcd, real processes)', function () {
  this.timeout(60_000);
  const nodes: RotaNode[] = [];
  const marks: string[] = [];
  let endpoint = '';
  let prefix = '';

  /** A fresh marker; a command exporting it marks the whole process tree of a task. */
  function mark(): { mark: string; env: string } {
    const m = `pm${randomBytes(6).toString('hex')}`;
    marks.push(m);
    return { mark: m, env: `export PROCMARK=${m};` };
  }

  async function node(over: Partial<Config> = {}, id = 'n1'): Promise<RotaNode> {
    const n = await startNode(endpoint, prefix, over, id);
    nodes.push(n);
    return n;
  }

  const list = async (n: RotaNode, token?: string) => (await call(n, 'GET', '/proc', undefined, { token })).body.data;
  const start = async (n: RotaNode, body: Record<string, unknown>, token?: string) => {
    const r = await call(n, 'POST', '/proc', body, { token });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(r.body).to.deep.equal({ code: 200, msg: 'OK' });
  };
  const taskId = async (n: RotaNode, name: string): Promise<string> => (await api(n, 'GET', `/api/v1/tasks?name=${name}`)).body.items.find((t: { name: string }) => t.name === name).id;
  const runsOf = async (n: RotaNode, name: string) => (await api(n, 'GET', `/api/v1/tasks/${await taskId(n, name)}/runs?limit=100`)).body.items as { state: string; replica?: number; startedMs?: number; endedMs?: number; message?: string }[];

  beforeEach(async () => {
    ({ endpoint, prefix } = await freshEtcd());
  });

  afterEach(async () => {
    for (const n of nodes.splice(0)) {
      try {
        const data = await list(n);
        for (const name of Object.keys(data?.tasks ?? {})) await call(n, 'DELETE', `/proc?name=${encodeURIComponent(name)}`);
        await waitFor(() => marks.every((m) => markedPids(m).length === 0), 'no process of the test left', 10_000).catch(() => undefined);
      } catch {
        /* the node is gone already */
      }
      await n.stop().catch(() => undefined);
    }
    // Whatever survived (a failed test) is ours: end it by pid.
    for (const m of marks.splice(0)) for (const pid of markedPids(m)) process.kill(pid, 'SIGKILL');
  });

  it("runs the seed document's curl examples", async () => {
    const n = await node();
    const me = userInfo().username;
    const example = { name: 'task1', cmd: 'sleep 5', type: 'once', replica: 2, user: 'guest', deps: ['task0'] };
    // "guest" is not on this node's run-as allowlist.
    const guest = await curl(n, ['-XPOST', 'http://127.1:8606/proc', '-d', JSON.stringify(example)]);
    expect(guest.status).to.equal(400);
    expect(guest.body).to.deep.equal({ code: 400, msg: "user 'guest' is not in the run-as allowlist" });

    const post = await curl(n, ['-XPOST', 'http://127.1:8606/proc', '-d', JSON.stringify({ ...example, user: me })]);
    expect(post).to.deep.equal({ status: 200, body: { code: 200, msg: 'OK' } });
    const first = await waitFor(async () => {
      const d = await list(n);
      return d.running.length === 2 ? d : null;
    }, 'both replicas running');
    expect(first.running.map((r: { alias: string }) => r.alias).sort()).to.deep.equal(['task1:0', 'task1:1']);
    for (const r of first.running) {
      expect(r).to.include({ command: 'sleep 5', node: 'n1' });
      expect(alive(r.pid)).to.equal(true);
      // The command's own process, as Meproc showed, not the lease guard around it.
      expect(readFileSync(`/proc/${r.pid}/cmdline`, 'utf8')).to.not.contain('rota-guard');
    }
    const t = first.tasks.task1;
    expect(Object.keys(t).sort()).to.deep.equal(['cmd', 'deps', 'group', 'interval', 'last_time', 'name', 'replica', 'run_flag', 'running', 'start_time', 'type', 'user']);
    expect(t).to.deep.include({ name: 'task1', cmd: 'sleep 5', type: 'once', replica: 2, user: me, group: null, deps: ['task0'], interval: 3, run_flag: false, running: 2 });
    const now = Math.floor(Date.now() / 1000);
    expect(t.last_time).to.be.within(now - 10, now);
    expect(t.start_time).to.be.within(t.last_time - 1, now);

    // PUT: stop, then start again (new processes).
    const oldPids = first.running.map((r: { pid: number }) => r.pid);
    const put = await curl(n, ['-XPUT', 'http://127.1:8606/proc?name=task1']);
    expect(put).to.deep.equal({ status: 200, body: { code: 200, msg: 'OK' } });
    const again = await waitFor(async () => {
      const d = await list(n);
      return d.running.length === 2 && d.running.every((r: { pid: number }) => !oldPids.includes(r.pid)) ? d : null;
    }, 'restarted replicas');
    await waitFor(() => oldPids.every((p: number) => !alive(p)), 'the old processes gone');

    // DELETE: SIGTERM to every process, then the task is forgotten.
    const del = await curl(n, ['-XDELETE', 'http://127.1:8606/proc?name=task1']);
    expect(del).to.deep.equal({ status: 200, body: { code: 200, msg: 'OK' } });
    await waitFor(() => again.running.every((r: { pid: number }) => !alive(r.pid)), 'the processes gone');
    const after = await curl(n, ['-XGET', 'http://127.1:8606/proc']);
    expect(after).to.deep.equal({ status: 200, body: { code: 200, msg: 'OK', data: { running: [], tasks: {} } } });
  });

  it('once with replica 2 runs each replica once, stays registered, PUT runs it again, output shows what it printed', async () => {
    const n = await node();
    const { mark: m, env } = mark();
    // Each replica runs until the test lets it end, so both are seen running however slow the machine.
    const gate = join(tempDir('rota-proc-'), 'may-end');
    await start(n, { name: 'twice', cmd: `${env} echo "run $ROTA_RUN_ID"; while [ ! -e '${gate}' ]; do sleep 0.05; done`, type: 'once', replica: 2 });
    const seen = await waitFor(async () => {
      const d = await list(n);
      return d.running.length === 2 ? d.running : null;
    }, 'both replicas running');
    expect(seen.map((r: { alias: string }) => r.alias).sort()).to.deep.equal(['twice:0', 'twice:1']);
    expect(markedPids(m).length).to.be.greaterThan(0);
    writeFileSync(gate, '');
    await waitFor(async () => (await runsOf(n, 'twice')).filter((r) => r.state === 'succeeded').length === 2, 'two runs done');
    const done = await waitFor(async () => {
      const d = await list(n);
      return d.tasks.twice.running === 0 ? d : null;
    }, 'nothing running');
    expect(done.running).to.deep.equal([]);
    expect(done.tasks.twice).to.include({ type: 'once', replica: 2, run_flag: false, running: 0 });
    expect(done.tasks.twice.last_time).to.be.greaterThan(0);
    await waitFor(() => markedPids(m).length === 0, 'processes exited');

    const out = await call(n, 'GET', '/proc/output?name=twice&encoding=text');
    expect(out.status).to.equal(200);
    expect(Object.keys(out.body.data).sort()).to.deep.equal(['twice:0', 'twice:1']);
    for (const text of Object.values(out.body.data)) expect(text).to.match(/^run \d+-\d+-1(-r1)?\n$/);
    const firstOut = out.body.data;

    const put = await call(n, 'PUT', '/proc?name=twice');
    expect(put.body).to.deep.equal({ code: 200, msg: 'OK' });
    await waitFor(async () => (await runsOf(n, 'twice')).filter((r) => r.state === 'succeeded').length === 4, 'ran again');
    const out2 = await call(n, 'GET', '/proc/output?name=twice&replica=1&encoding=text');
    expect(Object.keys(out2.body.data)).to.deep.equal(['twice:1']);
    expect(out2.body.data['twice:1']).to.match(/^run \d+-\d+-1-r1\n$/);
    expect(out2.body.data['twice:1']).to.not.equal(firstOut['twice:1']);
    const full = (await call(n, 'GET', '/proc/output?name=twice&replica=0&encoding=text')).body.data['twice:0'] as string;
    // base64 is the default, as Meproc answered; encoding=base64 says the same explicitly.
    for (const enc of ['', '&encoding=base64']) {
      const tail = await call(n, 'GET', `/proc/output?name=twice&replica=0&bytes=3${enc}`);
      expect(Buffer.from(tail.body.data['twice:0'], 'base64').toString()).to.equal(full.slice(-3));
    }
    expect((await call(n, 'GET', '/proc/output?name=twice&encoding=hex')).status).to.equal(400);

    for (const [path, status] of [['/proc/output?name=nope', 403], ['/proc/output?name=twice&replica=2', 400], ['/proc/output?name=twice&bytes=0', 400], ['/proc/output', 400]] as const) {
      const r = await call(n, 'GET', path);
      expect(r.status, path).to.equal(status);
      expect(r.body.code, path).to.equal(status);
    }
  });

  it('daemon replicas are started again `interval` after each exit, independently', async () => {
    const n = await node();
    const { env } = mark();
    await start(n, { name: 'd', cmd: `${env} echo up; sleep 0.3`, type: 'daemon', replica: 2, interval: 1 });
    const id = await taskId(n, 'd');
    const t0 = (await list(n)).tasks.d;
    expect(t0).to.include({ type: 'daemon', interval: 1, replica: 2 });
    await waitFor(async () => {
      const rs = (await api(n, 'GET', `/api/v1/tasks/${id}/replicas`)).body.items as { restarts: number }[];
      return rs.length === 2 && rs.every((r) => r.restarts >= 2);
    }, 'each replica restarted twice', 30_000);
    const runs = (await runsOf(n, 'd')).filter((r) => r.state !== 'running' && r.startedMs && r.endedMs);
    for (const replica of [0, 1]) {
      const mine = runs.filter((r) => (r.replica ?? 0) === replica).sort((a, b) => a.startedMs! - b.startedMs!);
      expect(mine.length, `replica ${replica}`).to.be.at.least(2);
      for (let i = 1; i < mine.length; i++) expect(mine[i]!.startedMs! - mine[i - 1]!.endedMs!).to.be.at.least(950); // never sooner than interval
    }
    const t1 = (await list(n)).tasks.d;
    expect(t1.last_time).to.be.at.least(t0.last_time);
    expect(t1.start_time).to.be.at.least(t1.last_time);
  });

  it('DELETE stops every process of the task, children and SIGTERM-ignoring ones included, and forgets it', async () => {
    const n = await node();
    const a = mark();
    const b = mark();
    await start(n, { name: 'tree', cmd: `${a.env} sleep 300 & sleep 300 & wait`, type: 'once', replica: 2 });
    // A daemon whose whole tree ignores SIGTERM: the kill escalates to SIGKILL after the grace.
    await start(n, { name: 'stubborn', cmd: `${b.env} trap '' TERM; sleep 300 & sleep 300 & wait`, type: 'daemon' });
    await waitFor(() => markedPids(a.mark).length >= 6 && markedPids(b.mark).length >= 3, 'process trees up'); // per replica: 2 shells + 2 sleeps
    const before = { a: markedPids(a.mark), b: markedPids(b.mark) };
    for (const name of ['tree', 'stubborn']) expect((await call(n, 'DELETE', `/proc?name=${name}`)).body).to.deep.equal({ code: 200, msg: 'OK' });
    await waitFor(() => markedPids(a.mark).length === 0 && markedPids(b.mark).length === 0, 'every marked process gone', 10_000);
    for (const pid of [...before.a, ...before.b]) expect(alive(pid), String(pid)).to.equal(false);
    expect(await list(n)).to.deep.equal({ running: [], tasks: {} });
    for (const method of ['PUT', 'DELETE']) {
      const r = await call(n, method, '/proc?name=tree');
      expect(r.status).to.equal(403);
      expect(r.body).to.deep.equal({ code: 403, msg: 'tree does not exist, start it first' });
    }
  });

  it('answers errors in the envelope: 400, 403, 404, 405', async () => {
    const n = await node();
    const ok = { name: 'e', cmd: 'true', type: 'once' };
    await start(n, ok);
    const dup = await call(n, 'POST', '/proc', ok);
    expect(dup.status).to.equal(403);
    expect(dup.body).to.deep.equal({ code: 403, msg: 'e exists, stop it first' });

    const bad: [string, unknown, RegExp][] = [
      ['{"name": "x", "cmd": ', undefined, /^invalid JSON/],
      ['', { name: 'x', type: 'once' }, /^cmd: is required$/],
      ['', { cmd: 'true', type: 'once' }, /^name: is required$/],
      ['', { name: 'x', cmd: 'true' }, /^type: is required$/],
      ['', { name: 'x', cmd: 'true', type: 'coroutine' }, /^type: must be one of "once", "daemon", "cron"$/],
      ['', { name: 'x', cmd: 'true', type: 'once', replica: 0 }, /^replica: /],
      ['', { name: 'x', cmd: 'true', type: 'once', replica: '2' }, /^replica: must be an integer$/],
      ['', { name: 'x', cmd: 'true', type: 'daemon', interval: -1 }, /^interval: /],
      ['', { name: 'x', cmd: 'true', type: 'cron', cron: '61 * * * *' }, /minute/],
      ['', { name: 'x', cmd: 'true', type: 'cron', cron: '* *' }, /5 or 6 fields/],
      ['', { name: 'x', cmd: 'true', type: 'once', deps: 'e' }, /^deps: must be an array/],
      ['', { name: 'x', cmd: 'true', type: 'once', group: 'no-such-group-here' }, /not in the run-as allowlist/],
      ['', ['x'], /must be a JSON object/],
      ['', undefined, /a JSON object is required/],
    ];
    for (const [raw, body, msg] of bad) {
      const r = await call(n, 'POST', '/proc', body, raw ? { raw } : {});
      expect(r.status, JSON.stringify(body ?? raw)).to.equal(400);
      expect(r.body.code).to.equal(400);
      expect(r.body.msg, JSON.stringify(body ?? raw)).to.match(msg);
    }
    expect(Object.keys((await list(n)).tasks)).to.deep.equal(['e']);

    // Unknown fields are ignored, as Meproc ignored them (a client written for it sends them).
    await start(n, { name: 'u', cmd: 'true', type: 'once', colour: 'red', nested: { x: 1 } });
    expect((await list(n)).tasks.u).to.include({ name: 'u', cmd: 'true', type: 'once' });
    expect((await list(n)).tasks.u).to.not.have.property('colour');

    // A dependency cycle is refused.
    await start(n, { name: 'a', cmd: 'true', type: 'once', deps: ['b'] });
    const cycle = await call(n, 'POST', '/proc', { name: 'b', cmd: 'true', type: 'once', deps: ['a'] });
    expect(cycle.status).to.equal(400);
    expect(cycle.body.msg).to.equal('deps form a cycle: b -> a -> b');

    for (const [method, path] of [['PUT', '/proc'], ['DELETE', '/proc?name='], ['PUT', '/proc?name=a&name=b']]) {
      const r = await call(n, method!, path!);
      expect(r.status, `${method} ${path}`).to.equal(400);
    }
    for (const [method, path, allow] of [['PATCH', '/proc', 'GET, POST, PUT, DELETE'], ['OPTIONS', '/proc', 'GET, POST, PUT, DELETE'], ['POST', '/proc/output', 'GET'], ['DELETE', '/proc/output?name=e', 'GET']]) {
      const r = await call(n, method!, path!);
      expect(r.status, `${method} ${path}`).to.equal(405);
      expect(r.body.code).to.equal(405);
      expect(r.body.msg).to.match(/^method not allowed/);
      expect(r.headers.get('allow')).to.equal(allow);
    }
    const nowhere = await call(n, 'GET', '/proc/nowhere');
    expect(nowhere.status).to.equal(404);
    expect(nowhere.body.code).to.equal(404);
  });

  /** A node running daemon A (marked a), and a mark b for the task that will depend on it. */
  async function daemonA() {
    const n = await node();
    const a = mark();
    const b = mark();
    await start(n, { name: 'A', cmd: `${a.env} sleep 300`, type: 'daemon' });
    await waitFor(async () => (await list(n)).tasks.A.running === 1, 'A running');
    return { n, a, b };
  }

  it('deps: a task waits (run_flag) while a dep has a live process and launches once the dep is deleted', async () => {
    const { n, a, b } = await daemonA();
    await start(n, { name: 'B', cmd: `${b.env} echo B ran; sleep 300`, type: 'once', deps: ['A'] });
    const pending = await waitFor(async () => {
      const d = await list(n);
      return d.tasks.B?.run_flag === true ? d.tasks.B : null;
    }, 'B pending');
    expect(pending).to.include({ running: 0, last_time: 0 });
    expect(pending.start_time).to.be.greaterThan(0);
    // C waits on B only, but the closure of its deps reaches A.
    await start(n, { name: 'C', cmd: 'echo C ran', type: 'once', deps: ['B'] });
    await waitFor(async () => (await list(n)).tasks.C.run_flag === true, 'C pending');
    expect(markedPids(b.mark)).to.deep.equal([]);
    expect((await call(n, 'GET', '/proc/output?name=B&encoding=text')).body.data).to.deep.equal({ 'B:0': '' });

    expect((await call(n, 'DELETE', '/proc?name=A')).status).to.equal(200);
    await waitFor(() => markedPids(a.mark).length === 0, 'A gone');
    const launched = await waitFor(async () => {
      const d = await list(n);
      // The process count includes a replica being started; its pid (and entry) follows.
      return d.tasks.B.running === 1 && d.running.some((r: { alias: string }) => r.alias === 'B:0') ? d : null;
    }, 'B launched');
    expect(launched.tasks.B.run_flag).to.equal(false);
    expect(launched.tasks.B.last_time).to.be.greaterThan(0);
    expect(launched.running.map((r: { alias: string }) => r.alias).filter((a: string) => a.startsWith('B:'))).to.deep.equal(['B:0']);
    expect(markedPids(b.mark).length).to.be.greaterThan(0);
    await waitFor(async () => (await call(n, 'GET', '/proc/output?name=B&encoding=text')).body.data['B:0'] === 'B ran\n', "B's output");
  });

  it('deps: a task whose dep is itself pending waits for it too (not launched alongside it)', async () => {
    const { n, b } = await daemonA();
    await start(n, { name: 'B', cmd: `${b.env} sleep 300`, type: 'once', deps: ['A'] });
    await start(n, { name: 'C', cmd: 'echo C ran', type: 'once', deps: ['B'] });
    await waitFor(async () => {
      const d = await list(n);
      return d.tasks.B.run_flag && d.tasks.C.run_flag;
    }, 'B and C pending');
    expect((await call(n, 'DELETE', '/proc?name=A')).status).to.equal(200);
    const launched = await waitFor(async () => {
      const d = await list(n);
      // The process count includes a replica being started; its pid (and entry) follows.
      return d.tasks.B.running === 1 && d.running.some((r: { alias: string }) => r.alias === 'B:0') ? d : null;
    }, 'B launched');
    // B is alive now, so C (deps [B]) must still wait.
    expect(launched.tasks.C).to.include({ run_flag: true, last_time: 0 });
  });

  it("DELETE stops a task's processes even while one of its deps is alive (the original left them running)", async () => {
    const n = await node();
    const a = mark();
    const b = mark();
    // B starts first (its dep does not exist yet, so nothing blocks it), then A starts.
    await start(n, { name: 'B', cmd: `${b.env} sleep 300`, type: 'daemon', deps: ['A'] });
    await waitFor(() => markedPids(b.mark).length > 0, 'B running');
    await start(n, { name: 'A', cmd: `${a.env} sleep 300`, type: 'daemon' });
    await waitFor(() => markedPids(a.mark).length > 0, 'A running');
    expect((await call(n, 'DELETE', '/proc?name=B')).status).to.equal(200);
    await waitFor(() => markedPids(b.mark).length === 0, "B's processes gone");
    expect(markedPids(a.mark).length).to.be.greaterThan(0);
    expect(Object.keys((await list(n)).tasks)).to.deep.equal(['A']);
  });

  it('cron: POST only registers; firings run on time, never overlap; PUT runs it now', async () => {
    const n = await node();
    const y = mark();
    const s = mark();
    await start(n, { name: 'yearly', cmd: `${y.env} echo yearly ran; sleep 300`, type: 'cron', cron: '0 0 1 1 *' });
    await start(n, { name: 'secondly', cmd: `${s.env} echo tick; sleep 3`, type: 'cron', cron: '* * * * * *' });
    let most = 0;
    const sampler = setInterval(() => {
      // The task's own `sleep 3`, nothing else: the lease guard's watcher, a fork of a shell whose
      // argv carries the mark, runs `sleep 0.2`; a fork caught before its exec matched the mark
      // and was `sleep 0.2` by the time its cmdline was read again (a false second copy).
      const sleeping = markedPids(s.mark).filter((p) => {
        try {
          const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
          return argv[0] === 'sleep' && argv[1] === '3';
        } catch {
          return false;
        }
      });
      most = Math.max(most, sleeping.length);
    }, 50);
    try {
      await waitFor(async () => {
        const runs = await runsOf(n, 'secondly');
        return runs.filter((r) => r.state === 'succeeded').length >= 1 && runs.some((r) => r.state === 'skipped' && /overlap/.test(r.message ?? ''));
      }, 'a finished run and a firing skipped while one was alive', 30_000);
    } finally {
      clearInterval(sampler);
    }
    expect(most).to.equal(1);
    const d = await list(n);
    expect(d.tasks.yearly).to.include({ type: 'cron', cron: '0 0 1 1 *', running: 0, run_flag: false, last_time: 0, start_time: 0, interval: 3 });
    expect(d.tasks.secondly).to.include({ type: 'cron', cron: '* * * * * *' });
    expect(markedPids(y.mark)).to.deep.equal([]);
    expect(await runsOf(n, 'yearly')).to.deep.equal([]);

    expect((await call(n, 'PUT', '/proc?name=yearly')).status).to.equal(200);
    const ran = await waitFor(async () => {
      const x = await list(n);
      return x.tasks.yearly.running === 1 ? x : null;
    }, 'yearly runs now');
    expect(ran.tasks.yearly.last_time).to.be.greaterThan(0);
    await waitFor(async () => (await call(n, 'GET', '/proc/output?name=yearly&encoding=text')).body.data['yearly:0'] === 'yearly ran\n', 'its output');
  });

  it('PUT on a cron task whose run is alive stops it and starts it again', async () => {
    const n = await node();
    const y = mark();
    await start(n, { name: 'yearly', cmd: `${y.env} sleep 300`, type: 'cron', cron: '0 0 1 1 *' });
    expect((await call(n, 'PUT', '/proc?name=yearly')).status).to.equal(200);
    const first = await waitFor(async () => (await list(n)).running[0]?.pid as number | undefined, 'first run');
    expect((await call(n, 'PUT', '/proc?name=yearly')).status).to.equal(200);
    await waitFor(() => !alive(first), 'the first run stopped');
    const second = await waitFor(async () => {
      const r = (await list(n)).running[0];
      return r && r.pid !== first ? r.pid : null;
    }, 'a second run', 10_000);
    expect(alive(second)).to.equal(true);
  });

  it('tasks survive a node restart', async () => {
    let n = await node();
    const d = mark();
    await start(n, { name: 'daemon', cmd: `${d.env} sleep 300`, type: 'daemon', replica: 2, interval: 5 });
    await start(n, { name: 'cron', cmd: 'echo hi', type: 'cron', cron: '0 0 1 1 *', user: userInfo().username });
    await start(n, { name: 'once', cmd: 'echo once', type: 'once', deps: ['cron'] });
    await waitFor(async () => (await list(n)).tasks.daemon.running === 2, 'daemon up');
    const before = (await list(n)).tasks;
    await n.stop();
    nodes.splice(nodes.indexOf(n), 1);
    n = await node({}, 'n2');
    const after = await waitFor(async () => {
      const x = await list(n);
      return x.running.length === 2 ? x : null;
    }, 'the daemon running again on the new node');
    const definition = (t: Record<string, unknown>) => ({ ...t, last_time: 0, start_time: 0, running: 0, run_flag: false });
    for (const name of ['daemon', 'cron', 'once']) expect(definition(after.tasks[name]), name).to.deep.equal(definition(before[name]));
    expect(after.tasks.daemon).to.include({ interval: 5, replica: 2 });
    expect(after.running.map((r: { node: string }) => r.node)).to.deep.equal(['n2', 'n2']);
  });

  it('with tokens configured, the bearer token picks the tenant; errors stay in the envelope', async () => {
    const n = await node({ auth: { tokens: { tA: 'a', tB: 'b' }, required: true, operators: [] } });
    const none = await call(n, 'GET', '/proc');
    expect(none.status).to.equal(401);
    expect(none.body.code).to.equal(401);
    expect(none.headers.get('www-authenticate')).to.match(/^Bearer/);
    expect((await call(n, 'POST', '/proc', { name: 'x', cmd: 'true', type: 'once' }, { token: 'wrong' })).status).to.equal(401);
    await start(n, { name: 'x', cmd: 'true', type: 'once' }, 'tA');
    expect(Object.keys((await list(n, 'tA')).tasks)).to.deep.equal(['x']);
    expect((await list(n, 'tB')).tasks).to.deep.equal({});
    expect((await call(n, 'DELETE', '/proc?name=x', undefined, { token: 'tB' })).status).to.equal(403);
    await start(n, { name: 'x', cmd: 'true', type: 'once' }, 'tB'); // names are per tenant
    expect((await call(n, 'DELETE', '/proc?name=x', undefined, { token: 'tA' })).status).to.equal(200);
    expect(Object.keys((await list(n, 'tB')).tasks)).to.deep.equal(['x']);
    expect((await call(n, 'DELETE', '/proc?name=x', undefined, { token: 'tB' })).status).to.equal(200);
  });
});

/**
 * The built `rota` CLI (dist/src/cli.js) run as a child process against real nodes on a real
 * etcd: every command's happy path, its main error paths and their exit codes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer as createHttpsServer } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import YAML from 'yaml';
import { DEFAULTS } from '../../src/config.js';
import type { RotaNode } from '../../src/node.js';
import { freePort } from '../../src/store/etcd-process.js';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { startNode } from '../support/node.js';
import { tempDir } from '../support/tmp.js';
import { makePki } from '../support/security.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const OPS = 'tok-ops'; // tenant default, an operator
const OTHER = 'tok-other'; // tenant other, not an operator
const auth = { auth: { ...DEFAULTS.auth, tokens: { [OPS]: 'default', [OTHER]: 'other' } } };

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A running CLI: its output so far, and its end. */
interface Child {
  out: () => string;
  err: () => string;
  done: Promise<Result>;
}

function start(node: RotaNode, args: string[], opts: { env?: Record<string, string | undefined>; input?: string } = {}): Child {
  // No config file of the machine's user: a context there must not change what the tests talk to.
  const env: Record<string, string | undefined> = { ...process.env, ROTA_SERVER: `127.0.0.1:${node.port}`, ROTA_TOKEN: OPS, ROTA_CONFIG: '/nonexistent/rota-config.yaml', ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const child = spawn(process.execPath, [CLI, ...args], { env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(opts.input ?? '');
  const done = new Promise<Result>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { out: () => stdout, err: () => stderr, done };
}

const rota = (node: RotaNode, args: string[], opts: { env?: Record<string, string | undefined>; input?: string } = {}): Promise<Result> => start(node, args, opts).done;

/** Runs the CLI and expects exit 0, returning its stdout (parsed when -o json). */
async function ok(node: RotaNode, args: string[], opts: { env?: Record<string, string | undefined>; input?: string } = {}): Promise<string> {
  const r = await rota(node, args, opts);
  expect(r.code, `rota ${args.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(0);
  return r.stdout;
}
const okJson = async (node: RotaNode, args: string[], opts: { env?: Record<string, string | undefined>; input?: string } = {}): Promise<any> => JSON.parse(await ok(node, [...args, '-o', 'json'], opts));

async function apiGet(node: RotaNode, path: string): Promise<any> {
  const r = await fetch(`http://127.0.0.1:${node.port}${path}`, { headers: { authorization: `Bearer ${OPS}` } });
  return r.json();
}

describe('rota CLI (built, against a real node)', function () {
  this.timeout(60_000);
  let node: RotaNode;
  let dir: string;

  before(async () => {
    const { endpoint, prefix } = await freshEtcd();
    node = await startNode(endpoint, prefix, auth);
    dir = tempDir('rota-cli-');
  });
  after(async () => node?.stop());

  describe('usage', () => {
    it('rota --help lists the commands, exit codes and environment; each command has its help', async () => {
      const help = await ok(node, ['--help']);
      for (const w of ['task', 'runs', 'why', 'nodes', 'check', 'cluster', 'export', 'import', 'serve', 'ROTA_SERVER', 'ROTA_TOKEN', 'Exit codes']) expect(help).to.include(w);
      expect(await ok(node, ['task', 'add', '--help'])).to.include('--cron <expr>');
      expect(await ok(node, ['nodes', 'drain', '--help'])).to.include('--no-wait');
      expect(await ok(node, ['runs', '--help'])).to.include('--follow');
    });

    it('rota serve --help still prints serve usage', async () => {
      const out = await ok(node, ['serve', '--help']);
      expect(out).to.match(/^usage: rota serve \[--config FILE\]/);
    });

    it('unknown options, commands and formats are usage errors (exit 2), nothing sent', async () => {
      for (const args of [['task', 'ls', '--bogus'], ['frobnicate'], ['task'], ['task', 'ls', '-o', 'xml'], ['task', 'add', '--name', 'x'], ['runs', '--state', 'nope']]) {
        const r = await rota(node, args);
        expect(r.code, args.join(' ')).to.equal(2);
        expect(r.stderr, args.join(' ')).to.not.equal('');
      }
      const r = await rota(node, ['task', 'add', '--name', 'x']);
      expect(r.stderr).to.include('a task needs schedule, action');
    });
  });

  describe('server and token', () => {
    it('an unreachable server exits 3 and says what to do', async () => {
      const port = await freePort();
      const r = await rota(node, ['task', 'ls'], { env: { ROTA_SERVER: `127.0.0.1:${port}` } });
      expect(r.code).to.equal(3);
      expect(r.stderr).to.include(`cannot reach http://127.0.0.1:${port}`);
      expect(r.stderr).to.include('set --server or ROTA_SERVER');
      const flag = await rota(node, ['--server', `http://127.0.0.1:${port}/`, 'cluster']);
      expect(flag.code).to.equal(3);
    });

    it('--server with or without http:// reaches the node', async () => {
      await ok(node, ['--server', `http://127.0.0.1:${node.port}`, 'task', 'ls'], { env: { ROTA_SERVER: undefined } });
      await ok(node, ['task', 'ls', '--server', `127.0.0.1:${node.port}`], { env: { ROTA_SERVER: '127.0.0.1:1' } });
    });

    it('tokens: ROTA_TOKEN and --token are sent; a missing or bad token exits 1 with a clear message', async () => {
      const none = await rota(node, ['task', 'ls'], { env: { ROTA_TOKEN: undefined } });
      expect(none.code).to.equal(1);
      expect(none.stderr).to.include('UNAUTHORIZED').and.include('set --token or ROTA_TOKEN');
      const bad = await rota(node, ['task', 'ls'], { env: { ROTA_TOKEN: 'wrong' } });
      expect(bad.code).to.equal(1);
      expect(bad.stderr).to.include('the token was refused');
      await ok(node, ['--token', OPS, 'task', 'ls'], { env: { ROTA_TOKEN: undefined } });
      await ok(node, ['task', 'ls', '-t', OPS], { env: { ROTA_TOKEN: 'wrong' } });
    });
  });

  describe('tasks', () => {
    it('add from flags, from a YAML file and from stdin; a duplicate name exits 1', async () => {
      const out = await ok(node, ['task', 'add', '--name', 'ping', '--every', '1h', '--http', 'http://127.0.0.1:9/hook', '--label', 'team=ops']);
      expect(out).to.match(/^created task \d+ \(ping\)/);
      const file = join(dir, 'nightly.yaml');
      writeFileSync(file, YAML.stringify({ name: 'nightly', schedule: { cron: '0 30 2 * * *', tz: 'Europe/Berlin' }, action: { process: { command: 'echo nightly' } }, policies: { overlap: 'forbid' } }));
      const created = await okJson(node, ['task', 'add', '-f', file]);
      expect(created).to.include({ name: 'nightly', enabled: true });
      expect(created.schedule).to.deep.equal({ cron: '0 30 2 * * *', tz: 'Europe/Berlin' });
      const fromStdin = await okJson(node, ['task', 'add', '-f', '-', '--name', 'stdin-task'], { input: JSON.stringify({ name: 'ignored', schedule: { manual: true }, action: { http: { url: 'http://127.0.0.1:9/' } } }) });
      expect(fromStdin.name).to.equal('stdin-task');
      const dup = await rota(node, ['task', 'add', '--name', 'ping', '--manual', '--command', 'true']);
      expect(dup.code).to.equal(1);
      expect(dup.stderr).to.include('CONFLICT');
      const invalid = await rota(node, ['task', 'add', '--name', 'bad-cron', '--cron', '0 99 * * *', '--command', 'true']);
      expect(invalid.code).to.equal(1);
      expect(invalid.stderr).to.include('INVALID_SCHEDULE');
    });

    it('ls prints an aligned table, and every task with -o json', async () => {
      const table = await ok(node, ['task', 'ls']);
      const lines = table.trimEnd().split('\n');
      expect(lines[0]).to.match(/^ID\s+NAME\s+GROUP\s+STATE\s+SCHEDULE\s+LAST\s+ACTION$/);
      const nameCol = lines[0]!.indexOf('NAME');
      for (const l of lines.slice(1)) expect(l.slice(nameCol).split(/\s+/)[0]).to.be.oneOf(['ping', 'nightly', 'stdin-task']);
      expect(table).to.include('every 1h').and.include('cron 0 30 2 * * * (Europe/Berlin)');
      const json = await okJson(node, ['task', 'ls']);
      expect(json.items.map((t: { name: string }) => t.name)).to.have.members(['ping', 'nightly', 'stdin-task']);
      const only = await okJson(node, ['task', 'ls', '--kind', 'process']);
      expect(only.items.map((t: { name: string }) => t.name)).to.deep.equal(['nightly']);
      // Ordered by the server (paged by offset), filtered on the runs: nothing has run yet.
      expect((await okJson(node, ['task', 'ls', '--sort', 'name'])).items.map((t: { name: string }) => t.name)).to.deep.equal(['nightly', 'ping', 'stdin-task']);
      expect((await okJson(node, ['task', 'ls', '--sort', 'last', '--failing'])).items).to.deep.equal([]);
      expect((await okJson(node, ['task', 'ls', '--running'])).items).to.deep.equal([]);
      expect(json.items.every((t: { lastRun: unknown; running: number }) => t.lastRun === null && t.running === 0)).to.equal(true);
    });

    it('get by id and by name; an unknown task exits 1', async () => {
      const byName = await okJson(node, ['task', 'get', 'nightly']);
      const byId = await okJson(node, ['task', 'get', byName.id]);
      expect(byId).to.deep.equal(byName);
      const yaml = YAML.parse(await ok(node, ['task', 'get', 'nightly', '-o', 'yaml']));
      expect(yaml.id).to.equal(byName.id);
      const text = await ok(node, ['task', 'get', 'ping']);
      expect(text).to.match(/name:\s+ping/).and.include('labels:').and.include('team=ops');
      const missing = await rota(node, ['task', 'get', 'no-such-task']);
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.include("no task with id or name 'no-such-task'");
      expect((await rota(node, ['task', 'get', '999999'])).code).to.equal(1);
    });

    it('edit patches fields from flags and from a file', async () => {
      const t = await okJson(node, ['task', 'edit', 'ping', '--every', '2h']);
      expect(t.schedule).to.deep.equal({ everyMs: 7_200_000 });
      expect(t.labels).to.deep.equal({ team: 'ops' });
      const tz = await okJson(node, ['task', 'edit', 'nightly', '--tz', 'America/New_York', '--timeout', '10m']);
      expect(tz.schedule).to.deep.equal({ cron: '0 30 2 * * *', tz: 'America/New_York' });
      expect(tz.policies).to.include({ overlap: 'forbid', timeoutMs: 600_000 });
      const file = join(dir, 'patch.yaml');
      writeFileSync(file, 'group: reports\nlabels: {owner: me}\n');
      const f = await okJson(node, ['task', 'edit', t.id, '-f', file]);
      expect(f).to.include({ group: 'reports', name: 'ping' });
      expect(f.labels).to.deep.equal({ owner: 'me' });
      expect((await rota(node, ['task', 'edit', 'ping'])).code).to.equal(2);
      const bad = await rota(node, ['task', 'edit', 'ping', '--every', 'soon']);
      expect(bad.code).to.equal(1);
      expect(bad.stderr).to.include("'soon'");
    });

    it('pause and resume', async () => {
      expect(await ok(node, ['task', 'pause', 'ping', 'nightly'])).to.include('paused task').and.include('(nightly)');
      expect((await okJson(node, ['task', 'get', 'ping'])).enabled).to.equal(false);
      expect(await ok(node, ['task', 'ls', '--paused'])).to.include('ping');
      await ok(node, ['task', 'resume', 'ping', 'nightly']);
      expect((await okJson(node, ['task', 'get', 'ping'])).enabled).to.equal(true);
      expect((await rota(node, ['task', 'pause', 'nope'])).code).to.equal(1);
    });

    it('rm deletes by name or id; the task is gone', async () => {
      const t = await okJson(node, ['task', 'add', '--name', 'doomed', '--manual', '--command', 'true']);
      expect(await ok(node, ['task', 'rm', 'doomed'])).to.include(`deleted task ${t.id} (doomed)`);
      expect((await rota(node, ['task', 'get', t.id])).code).to.equal(1);
      expect((await rota(node, ['task', 'rm', 'doomed'])).code).to.equal(1);
    });
  });

  describe('runs', () => {
    it('run fires a task; runs lists it, filtered by task, state, trigger and time', async () => {
      await ok(node, ['task', 'add', '--name', 'hello', '--manual', '--command', 'echo hello from rota']);
      const { runId } = await okJson(node, ['task', 'run', 'hello']);
      expect(runId).to.match(/^\d+-\d+-\d+$/);
      await waitFor(async () => (await apiGet(node, `/api/v1/runs/${runId}`)).state === 'succeeded', 'the run to succeed');
      const table = await ok(node, ['runs', 'hello']);
      expect(table.split('\n')[0]).to.match(/^RUN\s+TASK\s+STATE\s+TRIGGER\s+NODE\s+STARTED\s+TOOK\s+MESSAGE$/);
      expect(table).to.include(runId).and.include('succeeded').and.include('manual');
      const json = await okJson(node, ['runs', 'hello', '--state', 'succeeded', '--trigger', 'manual', '--since', '1h']);
      expect(json.items.map((r: { id: string }) => r.id)).to.deep.equal([runId]);
      expect(json.items[0].outputTail).to.include('hello from rota');
      expect((await okJson(node, ['runs', 'hello', '--state', 'failed'])).items).to.deep.equal([]);
      expect((await okJson(node, ['runs', 'hello', '--node', 'n1'])).items.map((r: { id: string }) => r.id)).to.deep.equal([runId]);
      expect((await okJson(node, ['runs', 'hello', '--node', 'n9'])).items).to.deep.equal([]);
      expect((await okJson(node, ['runs', '--until', String(Date.now() - 3_600_000)])).items).to.deep.equal([]);
      expect((await okJson(node, ['runs'])).items.map((r: { id: string }) => r.id)).to.include(runId);
      expect((await rota(node, ['runs', 'hello', '--since', 'yesterday-ish'])).code).to.equal(2);
    });

    it('runs --follow streams a live run\'s output and exits when the run ends', async () => {
      // The run prints line1, then waits for the test before the rest: it is surely still going when line1 is seen.
      const gate = join(tempDir('rota-cli-'), 'may-go-on');
      await ok(node, ['task', 'add', '--name', 'slow', '--manual', '--command', `echo line1; while [ ! -e '${gate}' ]; do sleep 0.05; done; for i in 2 3 4 5; do echo line$i; done`]);
      const { runId } = await okJson(node, ['task', 'run', 'slow']);
      await waitFor(async () => (await apiGet(node, `/api/v1/runs/${runId}`)).state === 'running', 'the run to start');
      const follow = start(node, ['runs', 'slow', '--follow']);
      await waitFor(() => follow.out().includes('line1'), 'the first line');
      // The output arrived while the run was still going.
      expect((await apiGet(node, `/api/v1/runs/${runId}`)).state).to.equal('running');
      writeFileSync(gate, '');
      const r = await follow.done;
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal('line1\nline2\nline3\nline4\nline5\n');
      expect(r.stderr).to.include(`run ${runId}`).and.include('succeeded');
      expect((await apiGet(node, `/api/v1/runs/${runId}`)).state).to.equal('succeeded');
    });

    it('task run --follow fires and follows; a failing run exits 5', async () => {
      await ok(node, ['task', 'add', '--name', 'fails', '--manual', '--command', 'echo oops; exit 3']);
      const r = await rota(node, ['task', 'run', 'fails', '--follow']);
      expect(r.code, r.stderr).to.equal(5);
      expect(r.stdout, `stderr: ${r.stderr}`).to.equal('oops\n');
      expect(r.stderr).to.include('failed').and.include('exit code 3');
      expect((await rota(node, ['runs', 'stdin-task', '--follow'])).code).to.equal(1);
    });

    it('runs get shows one run in full; runs kill ends a live one killed; an unknown run exits 1', async () => {
      await ok(node, ['task', 'add', '--name', 'sleeper', '--manual', '--command', 'echo started; sleep 30']);
      const { runId } = await okJson(node, ['task', 'run', 'sleeper']);
      await waitFor(async () => (await apiGet(node, `/api/v1/runs/${runId}`)).state === 'running', 'the run to start');
      const shown = await ok(node, ['runs', 'get', runId]);
      expect(shown).to.match(new RegExp(`^run:\\s+${runId}$`, 'm')).and.match(/^state:\s+running$/m).and.match(/^node:\s+n1$/m).and.match(/^trigger:\s+manual$/m);
      expect((await okJson(node, ['runs', 'get', runId])).id).to.equal(runId);
      expect(await ok(node, ['runs', 'kill', runId])).to.include(`kill asked of run ${runId}`);
      await waitFor(async () => (await apiGet(node, `/api/v1/runs/${runId}`)).state === 'killed', 'the run killed');
      const ended = await ok(node, ['runs', 'get', runId]);
      expect(ended).to.match(/^state:\s+killed$/m).and.match(/^took:/m).and.include('output (last part):\nstarted\n');
      const missing = await rota(node, ['runs', 'get', 'no-such-run']);
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.match(/no-such-run/);
      // A task may be named like the subcommands: its runs are listed by id.
      expect((await okJson(node, ['runs', 'sleeper'])).items.map((r: { id: string }) => r.id)).to.include(runId);
    });

    it("logs prints a run's whole output (past the record's 4 KiB tail), --follow as it is written; the API answers it as a download", async () => {
      // 3,000 numbered lines (~26 KiB): the run record keeps only the last part.
      await ok(node, ['task', 'add', '--name', 'long-output', '--manual', '--command', 'seq -f "line %g" 1 3000']);
      const { runId } = await okJson(node, ['task', 'run', 'long-output']);
      await waitFor(async () => (await apiGet(node, `/api/v1/runs/${runId}`)).state === 'succeeded', 'the run to end');
      const want = Array.from({ length: 3000 }, (_, i) => `line ${i + 1}\n`).join('');
      expect((await apiGet(node, `/api/v1/runs/${runId}`)).outputTail.length).to.be.below(want.length);
      const r = await rota(node, ['logs', runId]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal(want);
      const dl = await fetch(`http://127.0.0.1:${node.port}/api/v1/runs/${runId}/output?download=true`, { headers: { authorization: `Bearer ${OPS}` } });
      expect(dl.headers.get('content-disposition')).to.equal(`attachment; filename="${runId}.log"`);
      expect(dl.headers.get('content-type')).to.equal('text/plain; charset=utf-8');
      expect(await dl.text()).to.equal(want);

      const gate = join(tempDir('rota-cli-'), 'may-go-on');
      await ok(node, ['task', 'add', '--name', 'logs-live', '--manual', '--command', `echo first; while [ ! -e '${gate}' ]; do sleep 0.05; done; echo last; exit 2`]);
      const live = (await okJson(node, ['task', 'run', 'logs-live'])).runId as string;
      const follow = start(node, ['logs', live, '--follow']);
      await waitFor(() => follow.out().includes('first'), 'the first line, followed');
      expect((await apiGet(node, `/api/v1/runs/${live}`)).state).to.equal('running');
      writeFileSync(gate, '');
      const f = await follow.done;
      expect(f.code, f.stderr).to.equal(5);
      expect(f.stdout).to.equal('first\nlast\n');
      expect(f.stderr).to.include(`run ${live}`).and.include('exit code 2');

      const missing = await rota(node, ['logs', `${runId.split('-')[0]}-1-1`]);
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.include('no run with id');
      expect((await rota(node, ['logs', runId, '--timeout', '5s'])).code).to.equal(2);
      expect((await rota(node, ['logs', runId], { env: { ROTA_TOKEN: OTHER } })).code, "another tenant's run").to.equal(1);
    });

    it('task replicas lists a daemon\'s replicas; logs TASK:N prints a replica\'s output; task restart --replica N restarts that one', async () => {
      await ok(node, ['task', 'add', '--name', 'cli-daemon', '--daemon', '--replicas', '2', '--command', 'echo replica $ROTA_RUN_ID; sleep 600']);
      const both = await waitFor(async () => {
        const rs = (await okJson(node, ['task', 'replicas', 'cli-daemon'])).items as { replica: number; state: string; pid?: number; runId?: string }[];
        return rs.length === 2 && rs.every((r) => r.state === 'running' && r.pid) ? rs : null;
      }, 'both replicas running');
      expect((await ok(node, ['task', 'replicas', 'cli-daemon'])).split('\n')[0]).to.match(/^REPLICA\s+STATE\s+NODE\s+PID\s+RESTARTS\s+LAST-EXIT\s+RUN$/);
      await waitFor(async () => (await rota(node, ['logs', 'cli-daemon:1'])).stdout === `replica ${both[1]!.runId}\n`, "replica 1's output");
      expect(await ok(node, ['task', 'restart', 'cli-daemon', '--replica', '1'])).to.include('restarting replica 1');
      await waitFor(async () => {
        const rs = (await okJson(node, ['task', 'replicas', 'cli-daemon'])).items as { state: string; runId?: string }[];
        return rs[1]?.state === 'running' && rs[1].runId !== both[1]!.runId && rs[0]?.runId === both[0]!.runId;
      }, 'replica 1 restarted alone');
      expect((await rota(node, ['logs', 'cli-daemon:5'])).code).to.equal(1);
      expect((await rota(node, ['task', 'restart', 'cli-daemon', '--replica', 'x'])).code).to.equal(2);
      await ok(node, ['task', 'rm', 'cli-daemon']);
    });

    it('task restart fires a non-daemon task now; events lists who did what, for one task or all', async () => {
      await ok(node, ['task', 'add', '--name', 'restartable', '--manual', '--command', 'true']);
      expect(await ok(node, ['task', 'restart', 'restartable'])).to.include('restarted task').and.include('(restartable)');
      await waitFor(async () => (await apiGet(node, '/api/v1/log?kinds=manual&limit=500')).items.some((e: { task?: { name: string } }) => e.task?.name === 'restartable'), 'the restart fired it');
      const table = await ok(node, ['events', 'restartable']);
      expect(table.split('\n')[0]).to.match(/^TIME\s+ACTION\s+TASK\s+ID\s+BY\s+DETAIL$/);
      expect(table).to.include('restartable');
      const all = await okJson(node, ['events', '--limit', '500']);
      expect(all.items.some((e: { taskName?: string; action: string }) => e.taskName === 'restartable' && e.action === 'create')).to.equal(true);
      expect((await rota(node, ['events', '--limit', '0'])).code).to.equal(2);
    });
  });

  describe('why', () => {
    it("why lists a task's slots with outcome and reason; why TASK TIME explains one instant with its runs", async () => {
      await ok(node, ['task', 'add', '--name', 'why-fails', '--every', '1s', '--command', 'echo no; exit 4']);
      await waitFor(async () => (await okJson(node, ['why', 'why-fails', '--since', '1m'])).items.some((s: { outcome: string }) => s.outcome === 'failed'), 'a failed slot');
      await ok(node, ['task', 'pause', 'why-fails']);
      const table = await ok(node, ['why', 'why-fails', '--since', '1m']);
      expect(table.split('\n')[0]).to.match(/^INSTANT\s+TRIGGER\s+OUTCOME\s+RUNS\s+REASON$/);
      expect(table).to.include('failed (exit code 4)');
      const slots = (await okJson(node, ['why', 'why-fails', '--since', '1m'])).items as { scheduledAt: number; outcome: string }[];
      const failed = slots.find((s) => s.outcome === 'failed')!;
      const one = await ok(node, ['why', 'why-fails', new Date(failed.scheduledAt).toISOString()]);
      expect(one).to.include(': failed').and.include('exit code 4').and.match(/ATTEMPT\s+STATE\s+NODE\s+LATE\s+MESSAGE/);
      expect((await rota(node, ['why', 'no-such-task'])).code).to.equal(1);
      expect((await rota(node, ['why', 'why-fails', '--limit', '0'])).code).to.equal(2);
    });
  });

  describe('nodes and cluster', () => {
    it('cluster shows the leader, members and etcd health', async () => {
      const text = await ok(node, ['cluster']);
      expect(text).to.match(/leader:\s+n1 \(127\.0\.0\.1:\d+\)/).and.match(/etcd:\s+healthy/);
      const json = await okJson(node, ['cluster']);
      expect(json.leader.id).to.equal('n1');
      expect(json.etcd.healthy).to.equal(true);
    });

    it('nodes ls lists the members with the leader marked', async () => {
      const text = await ok(node, ['nodes', 'ls']);
      expect(text.split('\n')[0]).to.match(/^ID\s+ADDRESS\s+HOST\s+STATE\s+CAPACITY\s+CLOCK\s+VERSION\s+STARTED\s+LEADER$/);
      expect(text.split('\n')[1]).to.match(/^n1\s+127\.0\.0\.1:\d+\s+.*active.*\*$/);
      const json = await okJson(node, ['nodes', 'ls']);
      expect(json.leader).to.equal('n1');
      expect(json.items.map((n: { id: string }) => n.id)).to.deep.equal(['n1']);
    });

    it('check HOST lists in-flight work; drain waits for it with progress; undrain', async () => {
      const forbidden = await rota(node, ['nodes', 'drain', 'n1'], { env: { ROTA_TOKEN: OTHER } });
      expect(forbidden.code).to.equal(1);
      expect(forbidden.stderr).to.include('FORBIDDEN').and.include('operator');
      const unknown = await rota(node, ['nodes', 'drain', 'n9']);
      expect(unknown.code).to.equal(1);
      expect(unknown.stderr).to.include('NOT_FOUND');

      // Long enough to still run when the drain starts, a few CLI calls later.
      await ok(node, ['task', 'add', '--name', 'busy', '--manual', '--command', 'sleep 8; echo done']);
      const { runId } = await okJson(node, ['task', 'run', 'busy']);
      await waitFor(async () => (await apiGet(node, `/api/v1/runs/${runId}`)).state === 'running', 'the run to start');
      const check = await okJson(node, ['check', '127.0.0.1']);
      expect(check.items.map((i: { runId: string }) => i.runId)).to.include(runId);
      expect(await ok(node, ['check', '127.0.0.1'])).to.include(runId).and.match(/^RUN\s+TASK\s+NODE\s+STATE/);
      const timedOut = await rota(node, ['check', '127.0.0.1', '--wait', '--timeout', '1s']);
      expect(timedOut.code).to.equal(4);
      expect(timedOut.stderr).to.include('host 127.0.0.1: 1 run in flight').and.include('still 1 run in flight').and.include('after 1 s');

      const drain = await rota(node, ['nodes', 'drain', 'n1']);
      expect(drain.code, drain.stderr).to.equal(0);
      expect(drain.stderr).to.include('node n1: 1 run in flight').and.include(runId);
      expect(drain.stderr).to.include('node n1: nothing in flight');
      expect(drain.stdout).to.include('node n1 drained');
      expect((await apiGet(node, '/api/v1/nodes/n1/inflight')).items).to.deep.equal([]);
      expect((await apiGet(node, `/api/v1/runs/${runId}`)).state).to.equal('succeeded');
      expect(await ok(node, ['check', '127.0.0.1'])).to.equal('nothing in flight\n');
      expect((await okJson(node, ['nodes', 'ls'])).items[0].state).to.equal('draining');
      // The only node drained: nobody leads, and `rota cluster` says so with exit code 6.
      await waitFor(async () => (await apiGet(node, '/api/v1/cluster')).leader === null, 'no leader while drained');
      const unhealthy = await rota(node, ['cluster']);
      expect(unhealthy.code).to.equal(6);
      expect(unhealthy.stdout).to.include('NONE: no node leads');
      expect(unhealthy.stderr).to.include('cluster unhealthy: no node leads');

      expect(await ok(node, ['nodes', 'undrain', 'n1'])).to.include('node n1 active');
      await waitFor(async () => (await apiGet(node, '/api/v1/nodes')).items[0].state === 'active', 'n1 active again');
      const noWait = await okJson(node, ['nodes', 'drain', 'n1', '--no-wait']);
      expect(noWait).to.deep.include({ id: 'n1', draining: true, waited: false });
      await ok(node, ['nodes', 'undrain', 'n1']);
      await waitFor(async () => (await apiGet(node, '/api/v1/cluster')).leader?.id === 'n1', 'n1 to lead again');
    });
  });

  describe('export and import', () => {
    let target: RotaNode;
    before(async () => {
      const { endpoint, prefix } = await freshEtcd();
      target = await startNode(endpoint, prefix, auth);
      await ok(node, ['task', 'add', '--name', 'later', '--at', new Date(Date.now() + 86_400_000).toISOString(), '--http', 'http://127.0.0.1:9/later', '--method', 'post']);
      await ok(node, ['task', 'add', '--name', 'quiet', '--disabled', '--every', '30m', '--command', 'true', '--overlap', 'forbid']);
      await ok(node, ['task', 'add', '-f', '-'], { input: JSON.stringify({ name: 'after-quiet', deps: ['quiet'], schedule: { every: '45m' }, action: { process: { command: 'true' } }, policies: { retry: { delaysMs: ['5s', '30s'] } } }) });
    });
    after(async () => target?.stop());

    it('export writes every task; import into a fresh cluster creates them all, --dry-run first changes nothing', async () => {
      const source = (await okJson(node, ['task', 'ls'])).items;
      const file = join(dir, 'export.yaml');
      await ok(node, ['export', '-o', 'yaml', '-f', file]);
      const doc = YAML.parse(readFileSync(file, 'utf8'));
      expect(doc.version).to.equal(1);
      expect(doc.tasks.map((t: { name: string }) => t.name)).to.have.members(source.map((t: { name: string }) => t.name));
      expect(doc.tasks[0]).to.not.have.any.keys('id', 'tenant', 'createdMs', 'updatedMs');

      const dry = await ok(target, ['import', file, '--dry-run']);
      expect(dry).to.include(`${source.length} would be created, 0 would be updated, 0 unchanged (dry run: nothing changed)`);
      expect((await okJson(target, ['task', 'ls'])).items).to.deep.equal([]);

      const first = await okJson(target, ['import', file]);
      expect(first.created).to.have.members(source.map((t: { name: string }) => t.name));
      expect(first).to.deep.include({ updated: [], unchanged: [], failed: [], dryRun: false });
      const copied = (await okJson(target, ['task', 'ls'])).items;
      // The definitions, without what the server made or what the list adds of the runs (the copies have none).
      const strip = ({ id: _i, createdMs: _c, updatedMs: _u, createdAt: _ca, updatedAt: _ua, lastRun: _l, running: _r, ...rest }: Record<string, unknown>) => rest;
      const byName = (ts: Record<string, unknown>[]) => Object.fromEntries(ts.map((t) => [t.name as string, strip(t)]));
      expect(byName(copied)).to.deep.equal(byName(source));
      expect((await okJson(target, ['task', 'get', 'quiet'])).enabled).to.equal(false);

      const second = await ok(target, ['import', file]);
      expect(second).to.include(`0 created, 0 updated, ${source.length} unchanged`);
      const after = (await okJson(target, ['task', 'ls'])).items;
      expect(after.map((t: { updatedMs: number }) => t.updatedMs)).to.deep.equal(copied.map((t: { updatedMs: number }) => t.updatedMs));
    });

    it('import from stdin (JSON) updates what differs and leaves the rest alone; bad input exits 2', async () => {
      const json = await ok(node, ['export']);
      await ok(target, ['task', 'edit', 'ping', '--every', '3h']);
      const r = await okJson(target, ['import', '-'], { input: json });
      expect(r.updated).to.deep.equal(['ping']);
      expect(r.created).to.deep.equal([]);
      expect(r.unchanged).to.have.length(JSON.parse(json).tasks.length - 1);
      expect((await okJson(target, ['task', 'get', 'ping'])).schedule).to.deep.equal({ everyMs: 7_200_000 });
      // A hand-written file meaning the same as what is stored is unchanged too.
      const hand = join(dir, 'hand.yaml');
      writeFileSync(hand, YAML.stringify({ tasks: [{ name: 'after-quiet', deps: ['quiet'], schedule: { every: '45m' }, action: { process: { command: 'true' } }, policies: { retry: { delaysMs: ['5s', '30s'] } } }] }));
      expect((await okJson(target, ['import', hand])).unchanged).to.deep.equal(['after-quiet']);

      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, 'just: text\n');
      expect((await rota(target, ['import', bad])).code).to.equal(2);
      expect((await rota(target, ['import', join(dir, 'missing.json')])).code).to.equal(2);
      const invalid = await rota(target, ['import', '-'], { input: JSON.stringify([{ name: 'broken', schedule: { cron: 'nope' }, action: { process: { command: 'true' } } }]) });
      expect(invalid.code).to.equal(1);
      expect(invalid.stdout).to.include('FAILED').and.include('broken');
    });
  });

  describe('habits: contexts, -o wide, --no-headers, --watch, completion, --ca-cert', () => {
    const noEnv = { ROTA_SERVER: undefined, ROTA_TOKEN: undefined, ROTA_CONTEXT: undefined, ROTA_CA_CERT: undefined };

    it('contexts in a config file: set, use, list, --context and the environment over them; the file is 0600 and shows no token', async () => {
      const cfg = join(tempDir('rota-cli-cfg-'), 'config.yaml');
      const env = { ...noEnv, ROTA_CONFIG: cfg };
      expect(await ok(node, ['config', 'set-context', 'local', '--server', `127.0.0.1:${node.port}`, '--token', OPS], { env })).to.include('context local saved').and.include('(current)');
      expect(statSync(cfg).mode & 0o777).to.equal(0o600);
      await ok(node, ['config', 'set-context', 'dead', '--server', '127.0.0.1:1'], { env });
      await ok(node, ['task', 'add', '--name', 'ctx-task', '--manual', '--command', 'true'], { env });
      const list = await okJson(node, ['config', 'get-contexts'], { env });
      expect(list.current).to.equal('local');
      expect(list.items).to.deep.include({ name: 'local', current: true, server: `127.0.0.1:${node.port}`, token: '(set)' });
      expect(await ok(node, ['config', 'view'], { env })).to.not.include(OPS);
      expect(await ok(node, ['config', 'use-context', 'dead'], { env })).to.include('switched to context dead');
      expect((await ok(node, ['config', 'current-context'], { env })).trim()).to.equal('dead');
      expect((await rota(node, ['task', 'ls'], { env })).code, 'the dead context is used').to.equal(3);
      expect(await ok(node, ['--context', 'local', 'task', 'ls'], { env })).to.include('ctx-task');
      expect(await ok(node, ['task', 'ls'], { env: { ...env, ROTA_CONTEXT: 'local' } })).to.include('ctx-task');
      expect(await ok(node, ['task', 'ls'], { env: { ...env, ROTA_SERVER: `127.0.0.1:${node.port}`, ROTA_TOKEN: OPS } }), 'the environment beats the context').to.include('ctx-task');
      expect((await rota(node, ['--context', 'nope', 'task', 'ls'], { env })).code).to.equal(2);
      expect((await rota(node, ['config', 'use-context', 'nope'], { env })).code).to.equal(1);
      await ok(node, ['config', 'delete-context', 'dead'], { env });
      expect((await rota(node, ['config', 'current-context'], { env })).code).to.equal(1);
      writeFileSync(cfg, 'contexts: [1, 2');
      const bad = await rota(node, ['task', 'ls'], { env });
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.include(cfg);
    });

    it('-o wide adds columns; --no-headers drops the header row and the empty-list notes', async () => {
      await ok(node, ['task', 'add', '--name', 'wide-task', '--manual', '--command', 'true']);
      const wide = (await ok(node, ['task', 'ls', '-o', 'wide'])).split('\n');
      expect(wide[0]).to.match(/^ID\s+NAME\s+GROUP\s+STATE\s+SCHEDULE\s+LAST\s+REPLICAS\s+OVERLAP\s+LABELS\s+UPDATED\s+ACTION$/);
      expect((await ok(node, ['task', 'ls'])).split('\n')[0]).to.match(/^ID\s+NAME\s+GROUP\s+STATE\s+SCHEDULE\s+LAST\s+ACTION$/);
      const bare = (await ok(node, ['task', 'ls', '--no-headers'])).split('\n').filter(Boolean);
      expect(bare.every((l) => /^\d+\s/.test(l)), bare.join('\n')).to.equal(true);
      expect(bare.some((l) => l.includes('wide-task'))).to.equal(true);
      expect(await ok(node, ['runs', 'wide-task', '--no-headers'])).to.equal('');
      expect(await ok(node, ['runs', 'wide-task'])).to.equal('no runs\n');
      expect((await ok(node, ['nodes', 'ls', '-o', 'wide'])).split('\n')[0]).to.include('ATTRIBUTES');
      expect((await rota(node, ['task', 'ls', '-o', 'xml'])).code).to.equal(2);
    });

    it('--watch runs the command again every interval, clearing the screen, until stopped', async () => {
      const env: Record<string, string | undefined> = { ...process.env, ROTA_SERVER: `127.0.0.1:${node.port}`, ROTA_TOKEN: OPS };
      const child = spawn(process.execPath, [CLI, 'task', 'ls', '--watch', '0.5'], { env: env as NodeJS.ProcessEnv });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      try {
        // Three rounds printed whole: three tables under three headers.
        await waitFor(() => (out.match(/^ID\s+NAME/gm) ?? []).length >= 3, 'three rounds');
      } finally {
        child.kill('SIGINT');
      }
      expect(out).to.include('\x1b[2J');
      expect((out.match(/Every 0\.5s: rota task ls/g) ?? []).length).to.be.at.least(3);
      expect((await rota(node, ['task', 'ls', '--watch', '0.1'])).code).to.equal(2);
    });

    it('completion: a bash script that completes commands, subcommands and flags; zsh through bashcompinit', async () => {
      const script = join(tempDir('rota-cli-'), 'rota.bash');
      writeFileSync(script, await ok(node, ['completion', 'bash']));
      const complete = (line: string) => {
        const words = line.split(' ');
        const r = spawnSync('bash', ['-c', `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _rota; echo "\${COMPREPLY[*]}"`], { encoding: 'utf8' });
        expect(r.status, r.stderr).to.equal(0);
        return r.stdout.trim().split(' ').filter(Boolean).sort();
      };
      expect(complete('rota ta')).to.deep.equal(['task']);
      expect(complete('rota task re')).to.deep.equal(['replicas', 'restart', 'resume']);
      expect(complete('rota logs 7-1-1 --f')).to.deep.equal(['--follow']);
      expect(complete('rota -o json task restart --rep')).to.deep.equal(['--replica']);
      expect(complete('rota config use')).to.deep.equal(['use-context']);
      expect(await ok(node, ['completion', 'zsh'])).to.match(/^#compdef rota\nautoload -U \+X bashcompinit && bashcompinit\n/);
      expect((await rota(node, ['completion', 'fish'])).code).to.equal(2);
    });

    it('--ca-cert: HTTPS through a proxy whose certificate a private CA signed (flag, environment or context)', async () => {
      const pki = makePki();
      const proxy = createHttpsServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) }, (req, res) => {
        const up = httpRequest({ host: '127.0.0.1', port: node.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        req.pipe(up);
      });
      await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
      const url = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      try {
        const refused = await rota(node, ['--server', url, 'task', 'ls']);
        expect(refused.code, 'an unknown CA').to.equal(3);
        expect(await ok(node, ['--server', url, '--ca-cert', pki.ca, 'task', 'ls'])).to.match(/^ID\s+NAME/);
        expect(await ok(node, ['--server', url, 'task', 'ls'], { env: { ROTA_CA_CERT: pki.ca } })).to.match(/^ID\s+NAME/);
        const cfg = join(tempDir('rota-cli-cfg-'), 'config.yaml');
        await ok(node, ['config', 'set-context', 'tls', '--server', url, '--token', OPS, '--ca-cert', pki.ca], { env: { ...noEnv, ROTA_CONFIG: cfg } });
        expect(await ok(node, ['task', 'ls', '-o', 'json'], { env: { ...noEnv, ROTA_CONFIG: cfg } })).to.include('"items"');
        expect((await rota(node, ['--server', url, '--ca-cert', '/nonexistent.pem', 'task', 'ls'])).code).to.equal(2);
      } finally {
        await new Promise((r) => proxy.close(r));
      }
    });
  });
});

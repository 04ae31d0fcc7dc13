import { expect } from 'chai';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { ProcessAction } from '../../src/domain/task.js';
import { checkRunAs, execute } from '../../src/runner/index.js';
import { listGroupPids } from '../../src/runner/process-group.js';
import type { RunContext } from '../../src/runner/types.js';

/** Polls `cond` until true or the deadline passes. */
async function waitFor(cond: () => boolean, deadlineMs = 5000): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** A pid that exists and is not a zombie (an unreaped zombie is not a survivor). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function groupSize(pgid: number): number {
  return listGroupPids(pgid)?.length ?? 0;
}

describe('runner: process', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'rota-runner-proc-'))));
  after(async () => rm(dir, { recursive: true, force: true }));

  let n = 0;
  function ctx(over: Partial<RunContext> = {}): RunContext {
    n++;
    return {
      taskId: 'task-p', runId: `run-${n}`, scheduledMs: 1_700_000_000_456, attempt: 3,
      logFile: join(dir, `r${n}`, 'nested', 'out.log'), outputCapBytes: 10_000, tailBytes: 4096, killGraceMs: 300,
      signal: new AbortController().signal, allowedUsers: [], ...over,
    };
  }
  const proc = (command: string, over: Partial<ProcessAction> = {}): { process: ProcessAction } => ({ process: { command, env: {}, ...over } });

  it('succeeds on exit 0 and reports the pid once spawned', async () => {
    let pid: number | undefined;
    const out = await execute(proc('true'), ctx({ onStart: (i) => (pid = i.pid) }));
    expect(out).to.include({ state: 'succeeded', exitCode: 0, message: 'exit code 0' });
    expect(pid).to.be.a('number');
  });

  it('fails on a non-zero exit code', async () => {
    expect(await execute(proc('exit 3'), ctx())).to.include({ state: 'failed', exitCode: 3, message: 'exit code 3' });
  });

  it('writes stdout and stderr to the log file and returns the tail', async () => {
    const c = ctx({ tailBytes: 10 });
    const out = await execute(proc('echo one; echo two >&2; echo three'), c);
    expect(out.outputTail).to.equal('two\nthree\n');
    expect(await readFile(c.logFile, 'utf8')).to.equal('one\ntwo\nthree\n');
  });

  it('caps the log file with one truncation line', async () => {
    const c = ctx({ outputCapBytes: 1000, tailBytes: 8 });
    const out = await execute(proc(`i=0; while [ $i -lt 500 ]; do echo 0123456789; i=$((i+1)); done; printf END`), c);
    expect(out).to.include({ state: 'succeeded', outputTail: '456789\nEND'.slice(-8) });
    const log = await readFile(c.logFile, 'utf8');
    expect(log).to.equal('0123456789\n'.repeat(91).slice(0, 1000) + '\n[output truncated at 1000 bytes]\n');
  });

  it('passes the ROTA_* variables and the action env over process.env', async () => {
    const out = await execute(
      proc('echo "$ROTA_TASK_ID $ROTA_RUN_ID $ROTA_SCHEDULED_AT $ROTA_ATTEMPT $FOO ${PATH:+has-path}"', { env: { FOO: 'bar baz' } }),
      ctx({ runId: 'run-env' }),
    );
    expect(out.outputTail).to.equal('task-p run-env 1700000000456 3 bar baz has-path\n');
  });

  it('runs in cwd and refuses a missing one', async () => {
    const out = await execute(proc('pwd', { cwd: dir }), ctx());
    expect(out.outputTail).to.equal(`${await realpath(dir)}\n`);
    const missing = await execute(proc('pwd', { cwd: join(dir, 'nope') }), ctx());
    expect(missing.state).to.equal('failed');
    expect(missing.message).to.match(/does not exist/);
  });

  it('on timeout, terminates the whole process group', async () => {
    let pgid = 0;
    // No bound on how long it took: had the timeout not cut the 300 s sleeps short, mocha's own
    // timeout would fail the test.
    const out = await execute(proc(`sh -c 'sleep 300 & sleep 300 & wait'`), ctx({ timeoutMs: 300, onStart: (i) => (pgid = i.pid ?? 0) }));
    expect(out).to.include({ state: 'failed', timedOut: true, message: 'timed out after 0.3s' });
    expect(pgid).to.be.greaterThan(0);
    expect(groupSize(pgid)).to.equal(0);
  });

  it('on operator kill, terminates the whole process group', async () => {
    const ac = new AbortController();
    let pgid = 0;
    const run = execute(proc(`sh -c 'sleep 300 & sleep 300 & wait'`), ctx({ signal: ac.signal, onStart: (i) => (pgid = i.pid ?? 0) }));
    // outer sh, inner sh and two sleeps
    expect(await waitFor(() => pgid > 0 && groupSize(pgid) >= 4)).to.equal(true);
    const members = listGroupPids(pgid) ?? [];
    ac.abort();
    const out = await run;
    expect(out).to.include({ state: 'killed', message: 'killed by operator' });
    expect(groupSize(pgid)).to.equal(0);
    expect(members.filter(alive)).to.deep.equal([]);
  });

  it('SIGKILLs a process that ignores SIGTERM after the grace period', async () => {
    const ac = new AbortController();
    let pgid = 0;
    const run = execute(proc(`trap '' TERM; sleep 300 & wait; wait`), ctx({ signal: ac.signal, killGraceMs: 300, onStart: (i) => (pgid = i.pid ?? 0) }));
    expect(await waitFor(() => pgid > 0 && groupSize(pgid) >= 2)).to.equal(true);
    const killedAt = Date.now();
    ac.abort();
    const out = await run;
    expect(Date.now() - killedAt).to.be.at.least(300);
    expect(out).to.include({ state: 'killed', signal: 'SIGKILL' });
    expect(groupSize(pgid)).to.equal(0);
  });

  it('cleans up processes left behind when the shell exits', async () => {
    let pgid = 0;
    const out = await execute(proc('sleep 300 & echo done'), ctx({ onStart: (i) => (pgid = i.pid ?? 0) }));
    expect(out).to.include({ state: 'succeeded', exitCode: 0, outputTail: 'done\n' });
    expect(groupSize(pgid)).to.equal(0);
  });

  it('refuses a user or group outside the run-as allowlist', async () => {
    const out = await execute(proc('id', { user: 'mallory' }), ctx());
    expect(out).to.deep.equal({ state: 'failed', message: "user 'mallory' is not in the run-as allowlist" });
    expect(checkRunAs('mallory', undefined, [])).to.equal("user 'mallory' is not in the run-as allowlist");
    expect(checkRunAs(undefined, 'wheel', ['mallory'])).to.equal("group 'wheel' is not in the run-as allowlist");
    expect(checkRunAs(userInfo().username, undefined, [])).to.equal(null);
    expect(checkRunAs('mallory', undefined, ['mallory'])).to.equal(null);
    const unknown = await execute(proc('id', { user: 'no-such-user-rota' }), ctx({ allowedUsers: ['no-such-user-rota'] }));
    expect(unknown).to.include({ state: 'failed', message: "user 'no-such-user-rota' does not exist on this node" });
  });

  it('runs as an allowed user', async function () {
    if (process.getuid?.() !== 0) this.skip();
    const out = await execute(proc('id -u; echo "$USER"', { user: 'nobody' }), ctx({ allowedUsers: ['nobody'] }));
    expect(out).to.include({ state: 'succeeded', outputTail: '65534\nnobody\n' });
  });

  it('with a lease deadline file, runs normally while the deadline is ahead and passes the exit code through', async () => {
    const file = join(dir, 'deadline-ok');
    writeFileSync(file, String(Date.now() + 60_000));
    const out = await execute(proc('echo guarded; exit 4'), ctx({ deadlineFile: file }));
    expect(out).to.include({ state: 'failed', exitCode: 4 });
    expect(out.outputTail).to.contain('guarded');
  });

  it('with a lease deadline file, stops the whole group by itself once the deadline passes', async () => {
    const file = join(dir, 'deadline-pass');
    writeFileSync(file, String(Date.now() + 800));
    let pgid = 0;
    const pgrpOf = (pid: number) => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    };
    const out = await execute(proc(`sh -c 'sleep 300 & sleep 300 & wait'`), ctx({ deadlineFile: file, onStart: (i) => (pgid = pgrpOf(i.pid!)) }));
    expect(out.state).to.equal('failed');
    expect(out.outputTail).to.contain('lease deadline passed');
    expect(pgid).to.be.greaterThan(0);
    expect(groupSize(pgid)).to.equal(0);
  });

  it('with a lease deadline file that is removed (a dead node\'s data directory deleted), stops the group as if the deadline passed', async () => {
    const file = join(dir, 'deadline-gone');
    writeFileSync(file, String(Date.now() + 3_600_000));
    let started = false;
    const running = execute(proc(`sh -c 'sleep 300 & sleep 300 & wait'`), ctx({ deadlineFile: file, onStart: () => (started = true) }));
    expect(await waitFor(() => started)).to.equal(true);
    unlinkSync(file);
    const out = await running;
    expect(out.state).to.equal('failed');
    expect(out.outputTail).to.contain('deadline file is gone');
  });

  it('with a lease deadline file, reports the command\'s own pid, not the guard shell\'s', async () => {
    const file = join(dir, 'deadline-pid');
    writeFileSync(file, String(Date.now() + 60_000));
    let info: { pid: number; cmdline: string; pgrp: number } | null = null;
    const out = await execute(proc('echo "self=$$"; sleep 0.3'), ctx({
      deadlineFile: file,
      onStart: (i) => {
        info = { pid: i.pid!, cmdline: readFileSync(`/proc/${i.pid}/cmdline`, 'utf8').replace(/\0/g, ' '), pgrp: 0 };
      },
    }));
    expect(out.state).to.equal('succeeded');
    expect(info).to.not.equal(null);
    const got = info as unknown as { pid: number; cmdline: string };
    expect(got.cmdline).to.not.contain('rota-guard');
    expect(out.outputTail).to.contain(`self=${got.pid}`); // $$ of the command's shell
  });

  it('returns killed without spawning when already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    expect(await execute(proc('true'), ctx({ signal: ac.signal }))).to.include({ state: 'killed' });
  });
});

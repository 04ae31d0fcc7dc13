import { expect } from 'chai';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { Receiver } from '../support/receiver.js';
import { startNode, api } from '../support/node.js';
import { firingInstants } from '../support/witness.js';
import type { RotaNode } from '../../src/node.js';

/** One node end to end: schedules fire through etcd firings, callbacks carry their identity. */
describe('scheduling on one node (integration, real etcd)', function () {
  this.timeout(60_000);
  let rx: Receiver;
  const nodes: RotaNode[] = [];
  beforeEach(async () => {
    rx = await new Receiver().start();
  });
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop().catch(() => undefined);
    await rx.stop();
  });

  it('fires a */1 * * * * * HTTP task once per second with the identity headers, no duplicates', async () => {
    const { endpoint, prefix } = await freshEtcd();
    const node = await startNode(endpoint, prefix);
    nodes.push(node);
    const created = await api(node, 'POST', '/api/v1/tasks', {
      name: 'ping',
      schedule: { cron: '*/1 * * * * *', tz: 'UTC' },
      action: { http: { url: `${rx.url}/hook` } },
    });
    expect(created.status).to.equal(201);
    const id = created.body.id as string;
    await waitFor(() => rx.forTask(id).length >= 4, '4 hits');
    const hits = rx.forTask(id);
    for (const h of hits) {
      expect(h.scheduledMs % 1000).to.equal(0);
      expect(h.runId).to.equal(`${id}-${h.scheduledMs}-1`);
      expect(h.attempt).to.equal(1);
      expect(h.method).to.equal('POST');
    }
    expect(rx.duplicates(id)).to.deep.equal([]);
    const times = hits.map((h) => h.scheduledMs).sort((a, b) => a - b);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).to.equal(1000);
    const runs = await waitFor(async () => {
      const r = await api(node, 'GET', `/api/v1/tasks/${id}/runs`);
      return r.body.items.filter((x: { state: string }) => x.state === 'succeeded').length >= 3 ? r.body.items : null;
    }, 'succeeded run records');
    expect(runs[0].scheduledMs).to.be.greaterThan(runs[1].scheduledMs); // newest first
    expect(runs[0].httpStatus ?? runs[1].httpStatus).to.equal(200);
  });

  it('after a restart, catches up missed firings by misfire run-all and skips them by skip', async () => {
    const { endpoint, prefix, handle: h } = await freshEtcd();
    let node = await startNode(endpoint, prefix);
    const all = await api(node, 'POST', '/api/v1/tasks', {
      name: 'catch-up',
      schedule: { cron: '* * * * * *' },
      action: { http: { url: `${rx.url}/a` } },
      policies: { misfire: { mode: 'run-all', graceMs: 500, windowMs: 60_000 } },
    });
    const skip = await api(node, 'POST', '/api/v1/tasks', {
      name: 'skipper',
      schedule: { cron: '* * * * * *' },
      action: { http: { url: `${rx.url}/s` } },
      policies: { misfire: { mode: 'skip', graceMs: 500 } },
    });
    const aId = all.body.id as string;
    const sId = skip.body.id as string;
    await waitFor(() => rx.forTask(aId).length >= 2 && rx.forTask(sId).length >= 2, 'first hits');
    await node.stop();
    const stoppedAt = Date.now();
    // The outage itself, not a wait for an outcome: with no node running nothing happens that
    // could mark its end, and the seconds it lasts are the firings the policies must handle.
    await new Promise((r) => setTimeout(r, 3_000));
    node = await startNode(endpoint, prefix);
    nodes.push(node);
    const restartedAt = Date.now();
    await waitFor(() => rx.forTask(aId).some((h) => h.scheduledMs > restartedAt + 1000), 'firings after restart');
    await waitFor(() => rx.forTask(sId).some((h) => h.scheduledMs > restartedAt + 1000), 'skip task fires again');
    // run-all: the outage's seconds were planned before it; they run late, when the new leader's
    // backstop looks over the plans whose turns passed (in steps over 3 s or more after it leads).
    const firstA = Math.min(...rx.forTask(aId).map((x) => x.scheduledMs));
    await waitFor(() => {
      const have = new Set(rx.forTask(aId).map((x) => x.scheduledMs));
      for (let t = firstA; t <= restartedAt + 1000; t += 1000) if (!have.has(t)) return false;
      return true;
    }, 'every second of the run-all task up to the restart, the outage included', 20_000, 200);
    // The catch-up firings were planned at the restart, before those: once none at or before the
    // newest hit is left in etcd, each has its outcome and its hit has landed.
    for (const id of [aId, sId]) {
      const newest = Math.max(...rx.forTask(id).map((x) => x.scheduledMs));
      await waitFor(async () => (await firingInstants(h, id)).every((ms) => ms > newest), `every firing of ${id} up to the newest hit ended`);
    }

    // run-all: every second from the first hit on is there exactly once.
    const a = rx.forTask(aId).map((h) => h.scheduledMs).sort((x, y) => x - y);
    expect(rx.duplicates(aId)).to.deep.equal([]);
    for (let i = 1; i < a.length; i++) expect(a[i]! - a[i - 1]!).to.equal(1000);
    expect(rx.forTask(aId).some((h) => h.scheduledMs > stoppedAt && h.scheduledMs < restartedAt - 1000)).to.equal(true);

    // skip: a gap where the node was down, and a skipped run record saying so.
    const s = rx.forTask(sId).map((h) => h.scheduledMs).sort((x, y) => x - y);
    expect(rx.duplicates(sId)).to.deep.equal([]);
    const gaps = s.slice(1).map((t, i) => t - s[i]!);
    expect(Math.max(...gaps)).to.be.greaterThan(2000);
    // The seconds of the outage were planned before it: the new leader's backstop finds them too
    // late and records them skipped, looking over the plans in steps of 3 s or more after it leads.
    const skipped = await waitFor(async () => {
      const runs = await api(node, 'GET', `/api/v1/tasks/${sId}/runs?limit=100`);
      const found = runs.body.items.filter((r: { state: string }) => r.state === 'skipped');
      return found.length ? found : null;
    }, 'a skipped run record for the outage', 20_000, 200);
    expect(skipped[0].message).to.match(/misfire policy 'skip'/);
  });

  it('retries a failing process by its policy and records every attempt', async () => {
    const { endpoint, prefix } = await freshEtcd();
    const node = await startNode(endpoint, prefix);
    nodes.push(node);
    const t = await api(node, 'POST', '/api/v1/tasks', {
      name: 'flaky',
      schedule: { manual: true },
      action: { process: { command: 'echo trying; exit 3' } },
      policies: { retry: { delaysMs: ['100ms', '200ms'] } },
    });
    const trig = await api(node, 'POST', `/api/v1/tasks/${t.body.id}/trigger`);
    expect(trig.status).to.equal(202);
    const runs = await waitFor(async () => {
      const r = await api(node, 'GET', `/api/v1/tasks/${t.body.id}/runs`);
      const done = r.body.items.filter((x: { state: string }) => x.state === 'failed');
      return done.length === 3 ? r.body.items : null;
    }, 'three failed attempts');
    expect(runs.map((r: { attempt: number }) => r.attempt).sort()).to.deep.equal([1, 2, 3]);
    expect(runs.map((r: { trigger: string }) => r.trigger).sort()).to.deep.equal(['manual', 'retry', 'retry']);
    for (const r of runs) {
      expect(r.exitCode).to.equal(3);
      expect(r.outputTail).to.contain('trying');
    }
    const first = await api(node, 'GET', `/api/v1/runs/${trig.body.runId}`);
    expect(first.body.state).to.equal('failed');
  });

  it('kills a running process on request and forbids overlapping runs', async () => {
    const { endpoint, prefix } = await freshEtcd();
    const node = await startNode(endpoint, prefix);
    nodes.push(node);
    const t = await api(node, 'POST', '/api/v1/tasks', {
      name: 'sleeper',
      schedule: { every: '1s' },
      action: { process: { command: 'sleep 30' } },
      policies: { overlap: 'forbid' },
    });
    const id = t.body.id as string;
    const running = await waitFor(async () => {
      const r = await api(node, 'GET', `/api/v1/tasks/${id}/runs`);
      return r.body.items.find((x: { state: string }) => x.state === 'running');
    }, 'a running run');
    await waitFor(async () => {
      const r = await api(node, 'GET', `/api/v1/tasks/${id}/runs`);
      return r.body.items.some((x: { state: string; message?: string }) => x.state === 'skipped' && /overlap forbid/.test(x.message ?? ''));
    }, 'an overlap-skipped firing');
    const k = await api(node, 'POST', `/api/v1/runs/${running.id}/kill`);
    expect(k.status).to.equal(202);
    await waitFor(async () => (await api(node, 'GET', `/api/v1/runs/${running.id}`)).body.state === 'killed', 'killed');
    const all = await api(node, 'GET', `/api/v1/tasks/${id}/runs?limit=100`);
    expect(all.body.items.filter((x: { state: string }) => x.state === 'running').length).to.be.at.most(1);
  });

  it('keeps running what it had across pause/resume and fires a one-shot at its time once', async () => {
    const { endpoint, prefix } = await freshEtcd();
    const node = await startNode(endpoint, prefix);
    nodes.push(node);
    const at = Date.now() + 1500;
    const once = await api(node, 'POST', '/api/v1/tasks', { name: 'once', schedule: { at: new Date(at).toISOString() }, action: { http: { url: rx.url } } });
    const now = await api(node, 'POST', '/api/v1/tasks', { name: 'now', schedule: { now: true }, action: { http: { url: rx.url } } });
    await waitFor(() => rx.forTask(once.body.id).length === 1 && rx.forTask(now.body.id).length === 1, 'one-shots');
    expect(rx.forTask(once.body.id)[0]!.scheduledMs).to.equal(at);
    const p = await api(node, 'POST', '/api/v1/tasks', { name: 'tick', schedule: { every: '1s' }, action: { http: { url: rx.url } } });
    // Fires on while tick is paused: its hits show how far the scheduler got meanwhile.
    const beat = await api(node, 'POST', '/api/v1/tasks', { name: 'beat', schedule: { every: '1s' }, action: { http: { url: rx.url } } });
    await waitFor(() => rx.forTask(p.body.id).length >= 1, 'tick fires');
    const paused = (await api(node, 'POST', `/api/v1/tasks/${p.body.id}/pause`)).body;
    expect(paused.enabled).to.equal(false);
    // Firings planned before the pause never fire after it (a candidate's claim compares the
    // task's revision): nothing of tick's after the pause may run. Stay paused until the beat
    // has fired at or after tick's second instant past it: two of tick's instants came and went.
    const plannedUpTo = paused.updatedMs as number;
    await waitFor(() => rx.forTask(beat.body.id).some((x) => x.scheduledMs >= plannedUpTo + 2000), 'the beat past two instants of the paused tick');
    const resumedAt = Date.now();
    await api(node, 'POST', `/api/v1/tasks/${p.body.id}/resume`);
    await waitFor(() => rx.forTask(p.body.id).some((h) => h.scheduledMs > resumedAt), 'fires after resume');
    // Nothing planned after the pause ran while paused, and resume does not catch the pause up.
    expect(rx.forTask(p.body.id).filter((h) => h.scheduledMs > plannedUpTo && h.scheduledMs <= resumedAt)).to.deep.equal([]);
    expect(rx.forTask(once.body.id).length).to.equal(1);
    expect(rx.duplicates()).to.deep.equal([]);
  });

  it('a pause and resume within the write-ahead window loses no firing after the resume', async () => {
    const { endpoint, prefix } = await freshEtcd();
    const node = await startNode(endpoint, prefix);
    nodes.push(node);
    const t = await api(node, 'POST', '/api/v1/tasks', { name: 'sec', schedule: { cron: '* * * * * *', tz: 'UTC' }, action: { http: { url: rx.url } } });
    await waitFor(() => rx.forTask(t.body.id).length >= 2, 'firing every second');
    // Firings are written and claimed up to 1.5 s ahead: pausing drops those (the leader drops
    // the unclaimed ones, a node hands back the ones it claimed); resuming at once must plan them
    // again (they are after the resume), not leave the cursor past them. Rounds at several
    // points of the second: the drops race the resume differently in each.
    const rounds = Number(process.env.ROTA_PAUSE_ROUNDS ?? 3);
    for (let round = 0; round < rounds; round++) {
      const offset = (round * 330 + 100) % 1000;
      // Not a wait for an outcome: it picks the point of the second the pause is sent at.
      await new Promise((r) => setTimeout(r, (offset - (Date.now() % 1000) + 1000) % 1000));
      await api(node, 'POST', `/api/v1/tasks/${t.body.id}/pause`);
      const resumedAt = Date.now();
      await api(node, 'POST', `/api/v1/tasks/${t.body.id}/resume`);
      const firstAfter = Math.ceil((resumedAt + 1) / 1000) * 1000;
      const wanted = [0, 1, 2].map((i) => firstAfter + i * 1000);
      await waitFor(() => rx.forTask(t.body.id).some((h) => h.scheduledMs >= wanted[2]!), `round ${round}: three seconds after the resume`);
      const got = new Set(rx.forTask(t.body.id).map((h) => h.scheduledMs));
      expect(wanted.filter((ms) => !got.has(ms)), `round ${round} (resumed ${resumedAt % 1000} ms into the second): seconds after the resume that never fired`).to.deep.equal([]);
    }
    expect(rx.duplicates()).to.deep.equal([]);
  });

  it('a trigger sent right after the task is created runs, even when the leader hears of the trigger first', async () => {
    // Tasks and triggers reach the leader on two watches: a trigger may arrive before its task.
    const { endpoint } = await freshEtcd();
    for (let i = 0; i < 8; i++) {
      const node = await startNode(endpoint, `/trig-${i}-${Date.now()}/`);
      nodes.push(node);
      const t = await api(node, 'POST', '/api/v1/tasks', { name: 'now', schedule: { manual: true }, action: { http: { url: rx.url } } });
      const trig = await api(node, 'POST', `/api/v1/tasks/${t.body.id}/trigger`);
      expect(trig.status).to.equal(202);
      await waitFor(async () => (await api(node, 'GET', `/api/v1/runs/${trig.body.runId}`)).body?.state === 'succeeded', `round ${i}: the triggered run`, 10_000);
      await node.stop();
      nodes.pop();
    }
  });
});


import { expect } from 'chai';
import { clusterFixture } from '../support/cluster.js';
import { waitFor } from '../support/etcd.js';
import { secondTasks } from '../support/load.js';

interface RunRec {
  id: string;
  scheduledMs: number;
  attempt: number;
  state: string;
  message?: string;
  node?: string;
}

/**
 * Issue 13: a callback receiver that stops answering during a rolling restart. Runs stuck in it
 * outlive each node's drain grace; what they are owed: every second delivery of a (task, second)
 * is a recorded retry (a higher X-Rota-Attempt, the earlier attempt `lost`), and every (task,
 * second) never delivered has a run record that says why.
 */
describe('cluster: a receiver that stalls during a rolling restart (3 nodes)', function () {
  this.timeout(240_000);
  const f = clusterFixture(false, { shutdown: { graceMs: Number(process.env.STALL_GRACE_MS ?? 3_000) } });

  for (const mode of ['stall', 'freeze'] as const) {
  it(`${mode === 'stall' ? 'reads but never answers' : 'reads nothing (stopped)'}: every repeat delivery is a recorded retry, every undelivered second has a run that says why`, async () => {
    const { c, rx } = f;
    const ids = await secondTasks(c, rx, Number(process.env.STALL_TASKS ?? 4), mode);
    const from = Date.now() + 1000;
    await waitFor(() => ids.every((id) => rx.forTask(id).some((h) => h.scheduledMs >= from + 1000)), 'steady firing');
    if (mode === 'stall') rx.stall();
    else rx.freeze();
    const stalledAt = Date.now();
    for (const n of c.nodes) {
      expect(await n.stop(), `${n.id} exit code`).to.equal(0);
      await n.start();
    }
    rx.resume();
    const resumedAt = Date.now();
    // Let retries and catch-ups land, then stop the tasks.
    await waitFor(() => ids.every((id) => rx.forTask(id).some((h) => h.scheduledMs >= resumedAt + 3000)), 'firing again after the resume', 60_000, 200);
    for (const id of ids) await c.api('POST', `/api/v1/tasks/${id}/pause`);
    const to = resumedAt + 2000;
    // The records settle: nothing in flight for these tasks any more.
    await waitFor(async () => (await c.api('GET', '/api/v1/inflight?host=127.0.0.1')).body.items.filter((i: { taskId: string; scheduledMs: number }) => ids.includes(i.taskId) && i.scheduledMs <= to).length === 0, 'in-flight settled', 60_000, 200);

    const first = Math.ceil(from / 1000) * 1000;
    const problems: string[] = [];
    let repeats = 0;
    let undelivered = 0;
    for (const id of ids) {
      const runs = (await c.api('GET', `/api/v1/tasks/${id}/runs?limit=500`)).body.items as RunRec[];
      for (let t = first; t <= to; t += 1000) {
        const hits = rx.forTask(id).filter((h) => h.scheduledMs === t);
        const recs = runs.filter((r) => r.scheduledMs === t);
        const attempts = hits.map((h) => h.attempt);
        if (new Set(attempts).size !== attempts.length) problems.push(`${id}@${t}: the same attempt delivered twice (${attempts.join(',')})`);
        if (hits.length > 1) {
          repeats++;
          for (const a of attempts.filter((x) => x > 1)) {
            const prev = recs.find((r) => r.attempt === a - 1);
            if (!prev || !['lost', 'failed'].includes(prev.state)) problems.push(`${id}@${t}: attempt ${a} delivered but attempt ${a - 1} is ${prev?.state ?? 'unrecorded'}`);
          }
        }
        if (hits.length === 0) {
          undelivered++;
          const why = recs.find((r) => ['skipped', 'failed', 'lost', 'expired', 'killed'].includes(r.state) && r.message);
          if (!why) problems.push(`${id}@${t}: never delivered and no run record says why (${recs.map((r) => `${r.attempt}:${r.state}`).join(' ') || 'no record'})`);
        }
      }
    }
    console.log(`      stalled ${Math.round((resumedAt - stalledAt) / 1000)} s across the restarts: ${repeats} seconds delivered more than once (each a recorded retry), ${undelivered} never delivered (each with a run saying why)`);
    expect(problems).to.deep.equal([]);
    for (const id of ids) await c.api('DELETE', `/api/v1/tasks/${id}`);
  });
  }
});

import { expect } from 'chai';
import { clusterFixture, type RotaProcess, type TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/etcd.js';
import type { Receiver } from '../support/receiver.js';
import { expectSeriesClean, secondTasks, settle } from '../support/load.js';

/**
 * Protocol v2's promises on a real cluster (docs/architecture.md): firings planned ahead are
 * claimed at their instant by the first candidate that can, so neither the leader's death nor a
 * candidate's waits for anyone to notice it; every firing runs once.
 */
describe('cluster: candidates claim at the instant (3 nodes, 3 etcd members)', function () {
  this.timeout(150_000);
  const f = clusterFixture(true);

  /** The first time `seen` holds, polled every 100 ms (the moment something became visible). */
  async function momentOf(what: string, seen: () => Promise<boolean>): Promise<number> {
    await waitFor(seen, what, 30_000, 100);
    return Date.now();
  }

  /** Every task's firings due in (fromMs, toMs]: each one received before `beforeMs`. Returns how many. */
  function ranBefore(rx: Receiver, ids: string[], fromMs: number, toMs: number, beforeMs: number): number {
    let n = 0;
    for (const id of ids) {
      for (let t = Math.ceil(fromMs / 1000) * 1000; t <= toMs; t += 1000) {
        const hit = rx.forTask(id).find((h) => h.scheduledMs === t && h.attempt === 1);
        expect(hit, `${id}@${t} ran`).to.not.equal(undefined);
        expect(hit!.receivedMs, `${id}@${t} ran before ${beforeMs}`).to.be.below(beforeMs);
        n++;
      }
    }
    return n;
  }

  async function steady(c: TestCluster, rx: Receiver, k: number, name: string): Promise<{ ids: string[]; from: number }> {
    const ids = await secondTasks(c, rx, k, name);
    const from = Date.now() + 1000;
    await waitFor(() => ids.every((id) => rx.forTask(id).some((h) => h.scheduledMs >= from + 2000)), 'steady firing');
    return { ids, from };
  }

  async function finish(c: TestCluster, rx: Receiver, ids: string[], from: number): Promise<void> {
    const end = Date.now() + 3000;
    await settle(rx, ids, end);
    await expectSeriesClean(c, rx, ids, from, end);
  }

  it('leader SIGKILL inside the horizon: the firings due while no node leads run from the plans, before a new leader is elected', async () => {
    const { c, rx } = f;
    const { ids, from } = await steady(c, rx, 5, 'lk');
    const old = await c.leader();
    const other = c.nodes.find((n) => n !== old)!;
    await old.kill();
    const killedAt = Date.now();
    const ledAgainAt = await momentOf('a new leader', async () => {
      const r = await other.api('GET', '/api/v1/cluster').catch(() => null);
      return !!r?.body.leader && r.body.leader.id !== old.id;
    });
    const n = ranBefore(rx, ids, killedAt + 500, ledAgainAt - 500, ledAgainAt);
    console.log(`      leader ${old.id} killed; new leader seen after ${ledAgainAt - killedAt} ms; ${n} firings ran meanwhile`);
    expect(n, 'firings due while no node led').to.be.at.least(ids.length * 2);
    await finish(c, rx, ids, from);
  });

  it('a candidate SIGKILLed (not the leader): the next candidates take its turns before the leader hears it is gone', async () => {
    const { c, rx } = f;
    const { ids, from } = await steady(c, rx, 6, 'wk');
    const leader = await c.leader();
    const victim = c.nodes.find((n) => n !== leader)!;
    await victim.kill();
    const killedAt = Date.now();
    const goneAt = await momentOf('the dead node out of the membership', async () => {
      const r = await leader.api('GET', '/api/v1/nodes').catch(() => null);
      return !!r && !r.body.items.some((n: { id: string }) => n.id === victim.id);
    });
    const n = ranBefore(rx, ids, killedAt + 500, goneAt - 500, goneAt);
    console.log(`      ${victim.id} killed; its lease gone after ${goneAt - killedAt} ms; ${n} firings ran meanwhile`);
    expect(n).to.be.at.least(ids.length * 2);
    const metrics = await Promise.all(c.nodes.filter((n) => n.alive).map(async (n) => (await fetch(`${n.url}/metrics`)).text()));
    expect(metrics.join('\n'), 'some turns taken by a second candidate').to.match(/rota_candidate_claims_total\{rank="1"\} [1-9]/);
    await finish(c, rx, ids, from);
  });

  it('a candidate frozen (SIGSTOP) for 2 s, then resumed with its turns overdue: nothing missed, nothing run twice', async () => {
    const { c, rx } = f;
    const { ids, from } = await steady(c, rx, 6, 'fz');
    const leader = await c.leader();
    const victim = c.nodes.find((n) => n !== leader)!;
    victim.signal('SIGSTOP');
    const frozenAt = Date.now();
    await settle(rx, ids, frozenAt + 2000);
    victim.signal('SIGCONT');
    await finish(c, rx, ids, from);
  });
});

/**
 * Upgrading: a node of the previous version (protocol 1: assignments only, no candidacy) in a
 * cluster of v2 nodes, leading and following, with every firing run once across the changes.
 */
describe('cluster: a rolling upgrade with a protocol-1 node (3 nodes, 3 etcd members)', function () {
  this.timeout(150_000);
  const f = clusterFixture(false, {}, { n3: { scheduler: { candidates: false } } });

  const drain = (c: TestCluster, n: RotaProcess, on: boolean) => c.api('POST', `/api/v1/nodes/${n.id}/${on ? 'drain' : 'undrain'}`);

  it('v2 leader -> the v1 node leads (v2 nodes take its assignments) -> v2 leads again: nothing missed, nothing run twice', async () => {
    const { c, rx } = f;
    const ids = await secondTasks(c, rx, 4, 'up');
    const from = Date.now() + 1000;
    const [n1, n2, n3] = [c.node('n1'), c.node('n2'), c.node('n3')];
    // The v1 node leads once the others step aside.
    if ((await c.leader()) !== n3) {
      await drain(c, n1, true);
      await drain(c, n2, true);
      await waitFor(async () => (await c.leader()) === n3, 'n3 leads');
      await drain(c, n1, false);
      await drain(c, n2, false);
    }
    await settle(rx, ids, Date.now() + 4000);
    const underV1 = await n3.api('GET', '/api/v1/cluster');
    expect(underV1.body.leader.id).to.equal('n3');
    // v2 nodes ran firings the v1 leader assigned them.
    const seconds = Date.now() - 3000;
    const byNode = new Set<string>();
    for (const id of ids) {
      const r = await c.api('GET', `/api/v1/tasks/${id}/runs?limit=5`);
      for (const run of r.body.items as { node?: string; scheduledMs: number }[]) if (run.scheduledMs >= seconds - 2000 && run.node) byNode.add(run.node);
    }
    expect([...byNode].some((n) => n !== 'n3'), `nodes that ran under the v1 leader: ${[...byNode]}`).to.equal(true);
    // The v1 node goes (the last step of its upgrade): a v2 node leads and plans again.
    await n3.kill();
    await waitFor(async () => (await c.leader()) !== n3, 'a v2 leader');
    const end = Date.now() + 6000;
    await settle(rx, ids, end);
    await expectSeriesClean(c, rx, ids, from, end);
  });
});

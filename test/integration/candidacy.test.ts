import { expect } from 'chai';
import { Candidacy } from '../../src/agent/candidacy.js';
import { PlanStore, encodeChunk } from '../../src/store/plan-store.js';
import { NodeFirings } from '../../src/store/node-firings.js';
import { NodeSession } from '../../src/store/session.js';
import { K } from '../../src/store/keys.js';
import { systemClock } from '../../src/domain/clock.js';
import type { PlannedFiring } from '../../src/domain/candidates.js';
import type { Firing } from '../../src/domain/firing.js';
import { silentLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { FakeClock } from '../support/fake-clock.js';
import { freshEtcd, waitFor } from '../support/etcd.js';
import type { EtcdHandle } from '../../src/store/etcd.js';

/**
 * A second candidate's turn, on a real etcd with the node's clock in the test's hands: one step
 * after the first's when the first is quick (or says nothing), later when the first says its
 * claims land late (it is alive but slow: looking at one step would race it).
 */
describe('protocol v2: a later candidate waits for a slow first one (agent/candidacy.ts, real etcd, fake clock)', function () {
  this.timeout(20_000);
  let h: EtcdHandle;
  let session: NodeSession;
  let candidacy: Candidacy | null = null;

  beforeEach(async () => {
    h = (await freshEtcd()).handle;
    session = new NodeSession(h, systemClock, 10, silentLogger);
    await session.start({ id: 'n2', address: '127.0.0.1:1', ip: '127.0.0.1', hostname: 'h', attributes: {}, capacity: 10, state: 'active', version: 't', startedMs: 0 });
  });
  afterEach(async () => {
    await candidacy?.close();
    await session.close();
    h.close();
  });

  it("claims a step after the first candidate's turn, or when the first says its claims land (900 ms), never before", async () => {
    const t0 = Date.UTC(2031, 0, 1, 0, 0, 0);
    const clock = new FakeClock(t0);
    let firstClaimMs = 0; // how late n1 says its claims land
    const taken: { running: Firing; atMs: number }[] = [];
    candidacy = new Candidacy({
      h,
      plans: new PlanStore(h),
      firings: new NodeFirings(h),
      session,
      clock,
      log: silentLogger,
      metrics: new Metrics(),
      stepMs: 250,
      leadMs: 0,
      capacity: 10,
      draining: () => false,
      skewed: () => false,
      inflight: () => 0,
      fullPeers: () => new Set(),
      claimMsOf: (node) => (node === 'n1' ? firstClaimMs : 0),
      take: (running, claim) => {
        taken.push({ running, atMs: clock.now() });
        void claim();
      },
    });
    await candidacy.start();
    const rev = Number((await h.ns.put(K.task('t')).value(JSON.stringify({ id: 't', tenant: 'default', name: 't' })).exec()).header.revision);
    const planned = (ms: number): PlannedFiring => ({ taskId: 't', tenant: 'default', scheduledMs: ms, replica: 0, trigger: 'schedule', taskRev: rev, candidates: ['n1', 'n2'], lateUntilMs: ms + 60_000 });
    const [a, b] = [t0 + 5_000, t0 + 10_000];
    await h.ns.put(K.planChunk(b, 'test-1')).value(encodeChunk([planned(a), planned(b)])).exec();
    await waitFor(() => clock.nextTimer() === a + 250, "n2's turn for the first firing armed");

    // n1 quick (or silent: dead): n2 looks one step after the instant and claims.
    await clock.advance(a + 249 - t0);
    expect(taken).to.have.length(0);
    await clock.advance(1);
    await waitFor(() => taken.length === 1, 'the first firing claimed by n2');
    expect(taken[0]!.atMs).to.equal(a + 250);

    // n1 says its claims land 900 ms after its turn: n2 waits till then, not a step.
    firstClaimMs = 900;
    await clock.advance(b + 250 - clock.now());
    expect(taken, 'not at one step').to.have.length(1);
    expect(clock.nextTimer()).to.equal(b + 900);
    await clock.advance(649);
    expect(taken).to.have.length(1);
    await clock.advance(1);
    await waitFor(() => taken.length === 2, 'the second firing claimed by n2');
    expect(taken[1]!.atMs).to.equal(b + 900);
    await waitFor(async () => (await new NodeFirings(h).getFiring('t', b, 0))?.firing.node === 'n2', "the claim stored as n2's");
  });
});

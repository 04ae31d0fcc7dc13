import { expect } from 'chai';
import { GRPCUnavailableError, GRPCInvalidArgumentError } from 'etcd3';
import { MAX_MEMBER_SKIPS, MAX_PAUSED_RETRIES, memberRetries } from '../../src/store/etcd.js';

/** etcd3's global policy (store/etcd.ts): which failures are retried, after what pause, and how many. */
describe('etcd calls retried on the next member', () => {
  const refused = () => new GRPCUnavailableError('14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1');
  const noLeader = () => new GRPCUnavailableError('etcdserver: no leader');

  /** Runs `outcomes` (an error to throw, or 'ok') as the successive attempts; the pauses slept. */
  async function run(outcomes: (Error | 'ok')[]): Promise<{ result: string; attempts: number; pauses: number[] }> {
    const pauses: number[] = [];
    let attempts = 0;
    const policy = memberRetries(async (ms) => void pauses.push(ms));
    const result = await policy
      .execute(async () => {
        const o = outcomes[attempts++];
        if (o === undefined) throw new Error('more attempts than the test planned');
        if (o !== 'ok') throw o;
        return 'ok';
      })
      .catch((e: Error) => `failed: ${e.message}`);
    return { result, attempts, pauses };
  }

  it('a member not reached: the next one at once; an answer etcd cannot serve now: after 200 ms doubling to 2 s', async () => {
    const r = await run([refused(), noLeader(), noLeader(), refused(), noLeader(), noLeader(), noLeader(), noLeader(), 'ok']);
    expect(r.result).to.equal('ok');
    expect(r.pauses, 'none for the refusals').to.deep.equal([200, 400, 800, 1600, 2000, 2000]);
  });

  it('a killed member does not use up the retries that wait for the election: each kind has its own budget', async () => {
    // Every other attempt reaches the killed member, through the whole paused budget.
    const attempts: (Error | 'ok')[] = [];
    for (let i = 0; i < MAX_PAUSED_RETRIES; i++) attempts.push(refused(), noLeader());
    attempts.push('ok');
    expect(MAX_MEMBER_SKIPS).to.be.at.least(MAX_PAUSED_RETRIES);
    const r = await run(attempts);
    expect(r.result).to.equal('ok');
    expect(r.pauses).to.have.length(MAX_PAUSED_RETRIES);
  });

  it('gives up after its budgets, and at once on a refusal that is not transient', async () => {
    const waits = await run(Array.from({ length: MAX_PAUSED_RETRIES + 1 }, noLeader));
    expect(waits.result).to.match(/failed: etcdserver: no leader/);
    expect(waits.attempts).to.equal(MAX_PAUSED_RETRIES + 1);
    const skips = await run(Array.from({ length: MAX_MEMBER_SKIPS + 1 }, refused));
    expect(skips.result).to.match(/ECONNREFUSED/);
    expect(skips.pauses).to.deep.equal([]);
    const bad = await run([new GRPCInvalidArgumentError('etcdserver: too many operations in txn request')]);
    expect(bad.attempts).to.equal(1);
  });
});

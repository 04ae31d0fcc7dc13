import { expect } from 'chai';
import { slotsOf, type SlotFacts } from '../../src/domain/slots.js';
import type { Firing } from '../../src/domain/firing.js';
import type { Run } from '../../src/domain/task.js';

const S = 1000;
const run = (ms: number, extra: Partial<Run> = {}): Run => ({ id: `7-${ms}-1`, taskId: '7', tenant: 'default', scheduledMs: ms, attempt: 1, trigger: 'schedule', state: 'succeeded', node: 'n1', startedMs: ms + 12, endedMs: ms + 40, ...extra });
const facts = (over: Partial<SlotFacts>): SlotFacts => ({ instants: [], runs: [], firings: [], pauses: [], cursorMs: 100 * S, oldestKeptMs: null, nowMs: 100 * S, fromMs: 0, toMs: 200 * S, ...over });
const one = (over: Partial<SlotFacts>) => slotsOf(facts(over))[0]!;

describe('slots: why did this instant (not) run', () => {
  it('a success: no reason; its run with the lateness', () => {
    const s = one({ instants: [10 * S], runs: [run(10 * S)] });
    expect(s).to.deep.include({ scheduledAt: 10 * S, trigger: 'schedule', outcome: 'succeeded' });
    expect(s.reason).to.equal(undefined);
    expect(s.runs).to.deep.equal([{ attempt: 1, node: 'n1', state: 'succeeded', trigger: 'schedule', latenessMs: 12 }]);
  });

  it('failed after retries: the last attempt decides, the reason names the exit code and the earlier attempts', () => {
    const s = one({ instants: [10 * S], runs: [run(10 * S, { state: 'failed', exitCode: 2 }), run(10 * S, { id: '7-10000-2', attempt: 2, trigger: 'retry', state: 'failed', exitCode: 3, message: 'boom' })] });
    expect(s.outcome).to.equal('failed');
    expect(s.reason).to.equal('failed (exit code 3): boom (attempt 2; earlier attempts: failed)');
    expect(s.runs.map((r) => r.attempt)).to.deep.equal([1, 2]);
  });

  it("skipped (overlap, misfire) and lost say their record's reason", () => {
    expect(one({ instants: [10 * S], runs: [run(10 * S, { state: 'skipped', message: 'skipped: overlap forbid (a run is still in flight)' })] })).to.deep.include({ outcome: 'skipped', reason: 'skipped: overlap forbid (a run is still in flight)' });
    expect(one({ instants: [10 * S], runs: [run(10 * S, { state: 'lost', message: 'node n2 vanished' })] })).to.deep.include({ outcome: 'lost', reason: 'node n2 vanished' });
  });

  it('in flight: running on a node, or waiting for one, or waiting to retry', () => {
    const f = (extra: Partial<Firing>): Firing => ({ taskId: '7', tenant: 'default', scheduledMs: 90 * S, attempt: 1, trigger: 'schedule', state: 'running', node: 'n3', lease: 'L', dueMs: 90 * S, startedMs: 90 * S + 5, ...extra });
    expect(one({ instants: [90 * S], firings: [f({})] })).to.deep.include({ outcome: 'running' });
    expect(one({ instants: [90 * S], firings: [f({ state: 'unassigned', node: undefined, startedMs: undefined })] }).reason).to.match(/waiting for a node/);
    expect(one({ instants: [90 * S], firings: [f({ state: 'retry-wait', attempt: 2, dueMs: 95 * S, startedMs: undefined })] }).reason).to.match(/attempt 2 waits to retry/);
  });

  it('nothing recorded: paused then, in the future, not planned yet, pruned, or missed', () => {
    expect(one({ instants: [50 * S], pauses: [{ fromMs: 40 * S, toMs: 60 * S }] })).to.deep.include({ outcome: 'paused' });
    expect(one({ instants: [150 * S] })).to.deep.include({ outcome: 'pending' });
    expect(one({ instants: [90 * S], cursorMs: 80 * S }).reason).to.match(/not planned yet/);
    expect(one({ instants: [99 * S] }).reason).to.match(/due just now/);
    expect(one({ instants: [20 * S], oldestKeptMs: 30 * S }).reason).to.match(/older than the history kept/);
    expect(one({ instants: [50 * S] })).to.deep.include({ outcome: 'missed' });
    // Still in a stored plan: not claimed yet (late), not lost.
    const late = one({ instants: [50 * S], plannedMs: [50 * S] });
    expect(late.outcome).to.equal('pending');
    expect(late.reason).to.equal("planned, not claimed yet (50 s late): no candidate has claimed it and the leader's backstop has not placed it yet");
    expect(one({ instants: [50 * S], plannedMs: [51 * S] })).to.deep.include({ outcome: 'missed' });
  });

  it('manual triggers are their own slots; the range bounds everything; newest first', () => {
    const slots = slotsOf(facts({ instants: [10 * S, 20 * S, 300 * S], runs: [run(10 * S), run(15 * S + 7, { trigger: 'manual' }), run(20 * S)], fromMs: 10 * S, toMs: 250 * S }));
    expect(slots.map((s) => [s.scheduledAt, s.trigger])).to.deep.equal([[20 * S, 'schedule'], [15 * S + 7, 'manual'], [10 * S, 'schedule']]);
  });
});

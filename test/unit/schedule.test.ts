import { expect } from 'chai';
import { formatDurationMs, parseDurationMs } from '../../src/domain/duration.js';
import { CRON_COUNT_CAP, compileSchedule, missedFirings, nextFire, upcomingFirings } from '../../src/domain/schedule.js';
import type { Schedule } from '../../src/domain/task.js';
import { expectInvalid } from '../support/expect-rota.js';

const at = (s: string) => Date.parse(s);


describe('durations', () => {
  it('parses units, compounds, fractions and milliseconds', () => {
    const cases: [string | number, number][] = [
      ['250ms', 250],
      ['30s', 30_000],
      ['5m', 300_000],
      ['1h30m', 5_400_000],
      ['2h', 7_200_000],
      ['1d', 86_400_000],
      ['1.5s', 1_500],
      ['30', 30],
      [' 1h 30m ', 5_400_000],
      ['0s', 0],
      [1_234, 1_234],
      [0, 0],
    ];
    for (const [input, ms] of cases) expect(parseDurationMs(input), String(input)).to.equal(ms);
  });

  it('rejects garbage, negatives and empty input', () => {
    for (const bad of ['', '  ', 'abc', '-5s', '5x', '1h30', 'h', '1.5.2s', '1,5s'] as const) {
      expectInvalid(() => parseDurationMs(bad), `invalid duration '${bad}': use e.g. 30s, 5m, 1h30m or milliseconds`);
    }
    expectInvalid(() => parseDurationMs(-1), "invalid duration '-1': use e.g. 30s, 5m, 1h30m or milliseconds");
    expectInvalid(() => parseDurationMs(1.5), "invalid duration '1.5': use e.g. 30s, 5m, 1h30m or milliseconds");
    expectInvalid(() => parseDurationMs(NaN), "invalid duration 'NaN': use e.g. 30s, 5m, 1h30m or milliseconds");
  });

  it('formats compactly and round-trips', () => {
    const formats: [number, string][] = [[5_400_000, '1h30m'], [30_000, '30s'], [250, '250ms'], [1_500, '1s500ms'], [90_000_000, '1d1h'], [0, '0s']];
    for (const [ms, text] of formats) expect(formatDurationMs(ms)).to.equal(text);
    for (const ms of [1, 999, 1_000, 61_001, 86_399_999, 123_456_789]) expect(parseDurationMs(formatDurationMs(ms))).to.equal(ms);
  });
});

describe('compileSchedule', () => {
  it('accepts every schedule kind', () => {
    expect(compileSchedule({ cron: '0 * * * *', tz: 'UTC' }).kind).to.equal('cron');
    expect(compileSchedule({ cron: '0 * * * *', tz: 'UTC' }).cron?.minutes).to.deep.equal([0]);
    expect(compileSchedule({ everyMs: 1_000 }).kind).to.equal('every');
    expect(compileSchedule({ atMs: 5 }).kind).to.equal('at');
    expect(compileSchedule({ now: true }).kind).to.equal('now');
    expect(compileSchedule({ manual: true }).kind).to.equal('manual');
    expect(compileSchedule({ daemon: true }).kind).to.equal('daemon');
  });

  it('rejects invalid schedules', () => {
    expectInvalid(() => compileSchedule({ everyMs: 999 }), 'every must be at least 1s');
    expectInvalid(() => compileSchedule({ everyMs: 1_000.5 }), 'every must be a whole number of milliseconds');
    expectInvalid(() => compileSchedule({ cron: '0 24 * * *', tz: 'UTC' }), "cron field 'hour' out of range: 24");
    expectInvalid(() => compileSchedule({ cron: '0 * * * *', tz: 'Mars/Base' }), "unknown time zone: 'Mars/Base'");
    expectInvalid(() => compileSchedule({ atMs: NaN }), 'at must be a valid point in time');
    expectInvalid(() => compileSchedule({} as Schedule), 'unknown schedule kind: use cron, every, at, now, manual or daemon');
    expectInvalid(() => compileSchedule({ now: false } as unknown as Schedule), 'now must be true');
  });
});

describe('nextFire', () => {
  const created = 1_000_000;

  it('cron: next matching instant', () => {
    const s: Schedule = { cron: '30 2 * * *', tz: 'America/New_York' };
    expect(nextFire(s, at('2026-03-08T00:00:00Z'), 0)).to.equal(at('2026-03-08T07:00:00Z'));
  });

  it('every: the grid createdMs + k*everyMs (k >= 1) strictly after afterMs', () => {
    const s: Schedule = { everyMs: 10_000 };
    expect(nextFire(s, created, created)).to.equal(created + 10_000);
    expect(nextFire(s, created - 50_000, created)).to.equal(created + 10_000);
    expect(nextFire(s, created + 9_999, created)).to.equal(created + 10_000);
    expect(nextFire(s, created + 10_000, created)).to.equal(created + 20_000);
    expect(nextFire(s, created + 1_234_567, created)).to.equal(created + 1_240_000);
    expectInvalid(() => nextFire({ everyMs: 10 }, 0, 0), 'every must be at least 1s');
  });

  it('at, now, manual, daemon', () => {
    expect(nextFire({ atMs: 500 }, 499, created)).to.equal(500);
    expect(nextFire({ atMs: 500 }, 500, created)).to.equal(null);
    expect(nextFire({ now: true }, created - 1, created)).to.equal(created);
    expect(nextFire({ now: true }, created, created)).to.equal(null);
    expect(nextFire({ manual: true }, 0, created)).to.equal(null);
    expect(nextFire({ daemon: true }, 0, created)).to.equal(null);
  });
});

describe('missedFirings', () => {
  it('every: arithmetic, newest `limit`, exact total even for huge ranges', () => {
    const s: Schedule = { everyMs: 1_000 };
    expect(missedFirings(s, 0, 5_000, 0, 10)).to.deep.equal({
      firings: [1_000, 2_000, 3_000, 4_000, 5_000],
      total: 5,
      totalExact: true,
    });
    expect(missedFirings(s, 500, 5_500, 0, 2)).to.deep.equal({ firings: [4_000, 5_000], total: 5, totalExact: true });
    const year = 365 * 86_400_000;
    const big = missedFirings(s, 0, year, 0, 3);
    expect(big.total).to.equal(365 * 86_400);
    expect(big.firings).to.deep.equal([year - 2_000, year - 1_000, year]);
    expect(missedFirings(s, 1_000, 1_999, 0, 10).total).to.equal(0);
    expect(missedFirings(s, 5_000, 1_000, 0, 10).total).to.equal(0);
  });

  it('cron: lists firings in (from, to]', () => {
    const s: Schedule = { cron: '0 * * * *', tz: 'UTC' };
    const r = missedFirings(s, at('2026-01-01T00:00:00Z'), at('2026-01-01T05:00:00Z'), 0, 2);
    expect(r).to.deep.equal({
      firings: [at('2026-01-01T04:00:00Z'), at('2026-01-01T05:00:00Z')],
      total: 5,
      totalExact: true,
    });
  });

  // Bounded: counting stops at CRON_COUNT_CAP whatever the range, and the newest firings come
  // from windows scanned back from `to`. How long it takes is bench/cron-speed.ts's to measure.
  it('cron: a huge every-second range is counted up to the cap only and still yields the newest firings', () => {
    const s: Schedule = { cron: '* * * * * *', tz: 'Europe/Berlin' };
    const to = at('2026-06-01T00:00:00Z');
    for (const days of [30, 5 * 365]) {
      const r = missedFirings(s, to - days * 86_400_000, to, 0, 5);
      expect(r, `${days} days`).to.deep.equal({ firings: [to - 4_000, to - 3_000, to - 2_000, to - 1_000, to], total: CRON_COUNT_CAP, totalExact: false });
    }
    // As many firings as the cap are still counted exactly; one more and the total is a lower bound.
    expect(missedFirings(s, to - CRON_COUNT_CAP * 1000, to, 0, 2)).to.deep.equal({ firings: [to - 1_000, to], total: CRON_COUNT_CAP, totalExact: true });
    expect(missedFirings(s, to - CRON_COUNT_CAP * 1000 - 1000, to, 0, 2)).to.deep.equal({ firings: [to - 1_000, to], total: CRON_COUNT_CAP, totalExact: false });
  });

  it('cron: sparse firings over a long range', () => {
    const s: Schedule = { cron: '0 0 1 1 *', tz: 'UTC' };
    const r = missedFirings(s, at('2020-06-01T00:00:00Z'), at('2026-06-01T00:00:00Z'), 0, 3);
    expect(r.total).to.equal(6);
    expect(r.firings).to.deep.equal([at('2024-01-01T00:00:00Z'), at('2025-01-01T00:00:00Z'), at('2026-01-01T00:00:00Z')]);
  });

  it('once-only kinds', () => {
    expect(missedFirings({ atMs: 50 }, 0, 100, 0, 5)).to.deep.equal({ firings: [50], total: 1, totalExact: true });
    expect(missedFirings({ atMs: 500 }, 0, 100, 0, 5).total).to.equal(0);
    expect(missedFirings({ now: true }, 0, 100, 10, 5).firings).to.deep.equal([10]);
    expect(missedFirings({ manual: true }, 0, 100, 10, 5).total).to.equal(0);
  });
});

describe('upcomingFirings', () => {
  const now = Date.UTC(2026, 0, 5, 10, 0, 30);
  const t = (id: string, name: string, schedule: Schedule, enabled = true) => ({ id, name, enabled, schedule, createdMs: now - 1000 });
  it('lists the enabled tasks\' instants in the window, soonest first, ties by name; paused, manual and daemon tasks have none', () => {
    const tasks = [
      t('1', 'b-minutely', { cron: '0 * * * * *', tz: 'UTC' }),
      t('2', 'a-minutely', { cron: '0 * * * * *', tz: 'UTC' }),
      t('3', 'paused', { cron: '* * * * * *', tz: 'UTC' }, false),
      t('4', 'manual', { manual: true }),
      t('5', 'daemon', { daemon: true }),
      t('6', 'later', { atMs: now + 3_600_000 }),
    ];
    const { items, more } = upcomingFirings(tasks, now, 149_000, 100);
    expect(items.map((i) => [i.name, i.ms - now])).to.deep.equal([
      ['a-minutely', 30_000], ['b-minutely', 30_000], ['a-minutely', 90_000], ['b-minutely', 90_000],
    ]);
    expect(more).to.equal(false);
  });
  it('cuts at the limit and says there is more', () => {
    const { items, more } = upcomingFirings([t('1', 'every-second', { cron: '* * * * * *', tz: 'UTC' })], now, 60_000, 10);
    expect(items).to.have.length(10);
    expect(items[0]!.ms).to.equal(now + 1000);
    expect(more).to.equal(true);
  });
});

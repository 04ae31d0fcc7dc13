/**
 * How long the schedule math takes per call, on one core, no I/O: nextCronFire stepping through
 * a few kinds of expression, and missedFirings over a range too large to count (the catch-up a
 * leader computes after a long outage of an every-second task). These figures used to be
 * assertions in test/unit/cron.test.ts (< 50 µs per every-second step) and
 * test/unit/schedule.test.ts (< 2 s for 30 days of every-second firings); the tests now check
 * what the calls return, and the speed is read here.
 *
 *   node dist/bench/cron-speed.js [--ms 500] [--json FILE]     (make bench-cron)
 *
 * Each row runs for about --ms milliseconds after a warm-up of the same length.
 */
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { nextCronFire, parseCron } from '../src/domain/cron.js';
import { missedFirings } from '../src/domain/schedule.js';
import type { Schedule } from '../src/domain/task.js';
import { machine } from './lib/common.js';

const { values } = parseArgs({ options: { ms: { type: 'string', default: '500' }, json: { type: 'string' } } });
const budgetMs = Number(values.ms);
const from = Date.parse('2026-06-01T00:00:00Z');
const DAY_MS = 86_400_000;

interface Row {
  workload: string;
  calls: number;
  usPerCall: number;
  /** What the old test asserted, for comparison (µs per call); absent where it asserted nothing. */
  formerLimitUs?: number;
}

/** Calls `step` in rounds of `batch` until the budget is spent (after a warm-up of the same length); µs per call. */
function measure(step: () => void, batch: number): { calls: number; usPerCall: number } {
  const spin = (ms: number) => {
    let calls = 0;
    const start = process.hrtime.bigint();
    const end = start + BigInt(Math.round(ms * 1e6));
    let now = start;
    while (now < end) {
      for (let i = 0; i < batch; i++) step();
      calls += batch;
      now = process.hrtime.bigint();
    }
    return { calls, ns: Number(now - start) };
  };
  spin(budgetMs);
  const { calls, ns } = spin(budgetMs);
  return { calls, usPerCall: ns / 1000 / calls };
}

/** nextCronFire stepping from one firing to the next (wrapping back to `from` after a year). */
function stepping(expr: string, tz: string): { calls: number; usPerCall: number } {
  const spec = parseCron(expr, tz);
  let t = from;
  return measure(() => {
    const next = nextCronFire(spec, t);
    t = next === null || next > from + 366 * DAY_MS ? from : next;
  }, 1000);
}

const rows: Row[] = [];
const cronRows: [string, string, string, number?][] = [
  ['every second, Europe/Berlin', '*/1 * * * * *', 'Europe/Berlin', 50],
  ['every 15 min, America/New_York', '*/15 * * * *', 'America/New_York'],
  ['weekdays 9-17 every 2 h, Jan-Mar, UTC', '0 9-17/2 * JAN-mar MON-FRI', 'UTC'],
  ['yearly, Australia/Lord_Howe', '0 0 1 1 *', 'Australia/Lord_Howe'],
];
for (const [workload, expr, tz, formerLimitUs] of cronRows) {
  rows.push({ workload: `nextCronFire: ${workload} (\`${expr}\`)`, ...stepping(expr, tz), ...(formerLimitUs ? { formerLimitUs } : {}) });
}

const perSecond: Schedule = { cron: '* * * * * *', tz: 'Europe/Berlin' };
for (const days of [1, 30, 365]) {
  const to = from + days * DAY_MS;
  rows.push({
    workload: `missedFirings: ${days} day(s) of every-second firings, newest 5`,
    ...measure(() => missedFirings(perSecond, to - days * DAY_MS, to, 0, 5), 1),
    ...(days === 30 ? { formerLimitUs: 2_000_000 } : {}),
  });
}

console.log(`\n### Schedule math per call (one core, ${budgetMs} ms per row after as long a warm-up)\n`);
console.log('| workload | calls | µs per call | former test limit (µs) |');
console.log('|---|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.workload} | ${r.calls} | ${r.usPerCall.toFixed(r.usPerCall < 10 ? 2 : 0)} | ${r.formerLimitUs ?? ''} |`);
if (values.json) writeFileSync(values.json, JSON.stringify({ machine: machine(), budgetMs, rows }, null, 2));

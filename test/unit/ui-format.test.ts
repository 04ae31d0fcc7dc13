import { expect } from 'chai';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

/** The dashboard's text helpers (plain browser modules without imports, so Node loads them as they are served). */
const here = dirname(fileURLToPath(import.meta.url));
const format = (await import(pathToFileURL(join(here, '../../../src/api/ui/static/format.js')).href)) as {
  scheduleWords(s: unknown): string;
  scheduleRaw(s: unknown): string;
};

describe('dashboard text: schedules in words', () => {
  it('an interval by its largest exact unit, in words and as typed', () => {
    const cases: [number, string, string][] = [
      [10_000, 'every 10 seconds', 'every 10s'],
      [1_000, 'every second', 'every 1s'],
      [90_000, 'every 90 seconds', 'every 90s'],
      [300_000, 'every 5 minutes', 'every 5m'],
      [3_600_000, 'every hour', 'every 1h'],
      [172_800_000, 'every 2 days', 'every 2d'],
      [1_500, 'every 1500 ms', 'every 1500ms'],
    ];
    for (const [ms, words, raw] of cases) expect([format.scheduleWords({ everyMs: ms }), format.scheduleRaw({ everyMs: ms })], String(ms)).to.deep.equal([words, raw]);
  });
});

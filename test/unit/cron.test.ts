import { expect } from 'chai';
import { isValidTimeZone, nextCronFire, parseCron } from '../../src/domain/cron.js';
import { expectInvalid } from '../support/expect-rota.js';

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const at = (s: string) => Date.parse(s);

/** All firings in (from, to] as ISO strings (seconds precision). */
function firings(expr: string, tz: string, from: string, to: string): string[] {
  const spec = parseCron(expr, tz);
  const out: string[] = [];
  const end = at(to);
  for (let t = nextCronFire(spec, at(from)); t !== null && t <= end; t = nextCronFire(spec, t)) out.push(iso(t));
  return out;
}


describe('cron parsing', () => {
  it('parses lists, ranges, steps and names', () => {
    const s = parseCron('0 9-17/2 * JAN-mar MON-FRI', 'UTC');
    expect(s.seconds).to.deep.equal([0]);
    expect(s.minutes).to.deep.equal([0]);
    expect(s.hours).to.deep.equal([9, 11, 13, 15, 17]);
    expect(s.months).to.deep.equal([1, 2, 3]);
    expect(s.daysOfWeek).to.deep.equal([1, 2, 3, 4, 5]);
    expect(s.domRestricted).to.equal(false);
    expect(s.dowRestricted).to.equal(true);
    expect(s.hourRestricted).to.equal(true);
    expect(parseCron('5/20 * * * *', 'UTC').minutes).to.deep.equal([5, 25, 45]);
    expect(parseCron('*/20 * * * *', 'UTC').minutes).to.deep.equal([0, 20, 40]);
    expect(parseCron('1,3,2,3 * * * *', 'UTC').minutes).to.deep.equal([1, 2, 3]);
  });

  it('treats day-of-week 7 as Sunday and ? as *', () => {
    expect(parseCron('0 0 * * 7', 'UTC').daysOfWeek).to.deep.equal([0]);
    expect(parseCron('0 0 * * 5-7', 'UTC').daysOfWeek).to.deep.equal([0, 5, 6]);
    expect(parseCron('0 0 * * SUN', 'UTC').daysOfWeek).to.deep.equal([0]);
    const q = parseCron('0 0 ? * ?', 'UTC');
    expect(q.daysOfMonth).to.have.length(31);
    expect(q.daysOfWeek).to.deep.equal([0, 1, 2, 3, 4, 5, 6]);
    expect(q.domRestricted).to.equal(false);
    expect(q.dowRestricted).to.equal(false);
  });

  it('reads 5 fields with second 0 and 6 fields with seconds first', () => {
    const five = parseCron('15 10 * * *', 'UTC');
    expect(five.seconds).to.deep.equal([0]);
    expect(five.minutes).to.deep.equal([15]);
    const six = parseCron('30 15 10 * * *', 'UTC');
    expect(six.seconds).to.deep.equal([30]);
    expect(six.minutes).to.deep.equal([15]);
    expect(six.hours).to.deep.equal([10]);
    expect(iso(nextCronFire(six, at('2026-01-01T00:00:00Z'))!)).to.equal('2026-01-01T10:15:30Z');
  });

  it('expands macros', () => {
    const cases: Record<string, string> = {
      '@yearly': '2027-01-01T00:00:00Z',
      '@annually': '2027-01-01T00:00:00Z',
      '@monthly': '2026-06-01T00:00:00Z',
      '@weekly': '2026-05-17T00:00:00Z',
      '@daily': '2026-05-14T00:00:00Z',
      '@midnight': '2026-05-14T00:00:00Z',
      '@hourly': '2026-05-13T11:00:00Z',
    };
    for (const [macro, next] of Object.entries(cases)) {
      expect(iso(nextCronFire(parseCron(macro, 'UTC'), at('2026-05-13T10:20:00Z'))!), macro).to.equal(next);
    }
    expect(parseCron('@HOURLY', 'UTC').hourRestricted).to.equal(false);
    expect(parseCron('@daily', 'UTC').hourRestricted).to.equal(true);
  });

  it('rejects bad expressions with messages naming the field', () => {
    expectInvalid(() => parseCron('0 25 * * *', 'UTC'), "cron field 'hour' out of range: 25");
    expectInvalid(() => parseCron('60 * * * *', 'UTC'), "cron field 'minute' out of range: 60");
    expectInvalid(() => parseCron('0 0 0 * *', 'UTC'), "cron field 'day-of-month' out of range: 0");
    expectInvalid(() => parseCron('0 0 * 13 *', 'UTC'), "cron field 'month' out of range: 13");
    expectInvalid(() => parseCron('0 0 * * 8', 'UTC'), "cron field 'day-of-week' out of range: 8");
    expectInvalid(() => parseCron('61 * * * * *', 'UTC'), "cron field 'second' out of range: 61");
    expectInvalid(() => parseCron('* * * * * * *', 'UTC'), 'cron expression must have 5 or 6 fields, got 7');
    expectInvalid(() => parseCron('* * * *', 'UTC'), 'cron expression must have 5 or 6 fields, got 4');
    expectInvalid(() => parseCron('   ', 'UTC'), 'cron expression must have 5 or 6 fields, got 0');
    expectInvalid(() => parseCron('x * * * *', 'UTC'), "cron field 'minute' invalid: 'x'");
    expectInvalid(() => parseCron('1,,2 * * * *', 'UTC'), "cron field 'minute' invalid: ''");
    expectInvalid(() => parseCron('*/0 * * * *', 'UTC'), "cron field 'minute' invalid: '*/0'");
    expectInvalid(() => parseCron('? * * * *', 'UTC'), "cron field 'minute' invalid: '?'");
    expectInvalid(() => parseCron('0 0 * FOO *', 'UTC'), "cron field 'month' invalid: 'FOO'");
    expectInvalid(() => parseCron('0 5-2 * * *', 'UTC'), "cron field 'hour' invalid: '5-2' (range start after end)");
    expectInvalid(() => parseCron('0 0 * * *', 'Mars/Base'), "unknown time zone: 'Mars/Base'");
    expectInvalid(() => parseCron('@every 5m', 'UTC'), "'@every' is not a cron expression: use an 'every' schedule instead");
    expectInvalid(() => parseCron('@fortnightly', 'UTC'), "unknown cron macro: '@fortnightly'");
  });

  it('validates time zones with Intl', () => {
    expect(isValidTimeZone('Europe/Berlin')).to.equal(true);
    expect(isValidTimeZone('UTC')).to.equal(true);
    expect(isValidTimeZone('Mars/Base')).to.equal(false);
    expect(isValidTimeZone('')).to.equal(false);
  });
});

describe('cron day matching', () => {
  it('fires when EITHER day field matches if both are restricted (Vixie)', () => {
    // 2026-02-13 is a Friday; Fridays in Feb 2026: 6, 13, 20, 27.
    expect(firings('0 0 13 * FRI', 'UTC', '2026-02-01T00:00:00Z', '2026-03-01T00:00:00Z')).to.deep.equal([
      '2026-02-06T00:00:00Z',
      '2026-02-13T00:00:00Z',
      '2026-02-20T00:00:00Z',
      '2026-02-27T00:00:00Z',
    ]);
    expect(firings('0 0 10,11 * FRI', 'UTC', '2026-02-01T00:00:00Z', '2026-02-15T00:00:00Z')).to.deep.equal([
      '2026-02-06T00:00:00Z',
      '2026-02-10T00:00:00Z',
      '2026-02-11T00:00:00Z',
      '2026-02-13T00:00:00Z',
    ]);
  });

  it('requires the restricted field only when the other is *', () => {
    expect(firings('0 0 13 * *', 'UTC', '2026-02-01T00:00:00Z', '2026-03-01T00:00:00Z')).to.deep.equal(['2026-02-13T00:00:00Z']);
    expect(firings('0 0 * * 5', 'UTC', '2026-02-01T00:00:00Z', '2026-02-14T00:00:00Z')).to.deep.equal([
      '2026-02-06T00:00:00Z',
      '2026-02-13T00:00:00Z',
    ]);
    // A field starting with * counts as unrestricted (Vixie): odd days that are Fridays.
    expect(firings('0 0 */2 * FRI', 'UTC', '2026-02-01T00:00:00Z', '2026-03-01T00:00:00Z')).to.deep.equal([
      '2026-02-13T00:00:00Z',
      '2026-02-27T00:00:00Z',
    ]);
  });
});

describe('nextCronFire in UTC', () => {
  it('fires every second, strictly after the given instant', () => {
    const s = parseCron('* * * * * *', 'UTC');
    expect(nextCronFire(s, 1_000)).to.equal(2_000);
    expect(nextCronFire(s, 1_500)).to.equal(2_000);
    expect(nextCronFire(s, 1_999)).to.equal(2_000);
  });

  it('fires every minute', () => {
    const s = parseCron('* * * * *', 'UTC');
    expect(iso(nextCronFire(s, at('2026-01-01T12:00:00Z'))!)).to.equal('2026-01-01T12:01:00Z');
    expect(iso(nextCronFire(s, at('2026-01-01T12:00:30Z'))!)).to.equal('2026-01-01T12:01:00Z');
    expect(iso(nextCronFire(s, at('2026-12-31T23:59:59Z'))!)).to.equal('2027-01-01T00:00:00Z');
  });

  it('finds Feb 29 and month ends', () => {
    expect(iso(nextCronFire(parseCron('0 0 29 2 *', 'UTC'), at('2026-01-01T00:00:00Z'))!)).to.equal('2028-02-29T00:00:00Z');
    expect(firings('0 0 31 * *', 'UTC', '2026-01-01T00:00:00Z', '2026-09-01T00:00:00Z')).to.deep.equal([
      '2026-01-31T00:00:00Z',
      '2026-03-31T00:00:00Z',
      '2026-05-31T00:00:00Z',
      '2026-07-31T00:00:00Z',
      '2026-08-31T00:00:00Z',
    ]);
    expect(iso(nextCronFire(parseCron('59 59 23 28-31 2 *', 'UTC'), at('2027-01-01T00:00:00Z'))!)).to.equal(
      '2027-02-28T23:59:59Z',
    );
  });

  it('returns null when nothing fires within ~5 years', () => {
    expect(nextCronFire(parseCron('0 0 30 2 *', 'UTC'), 0)).to.equal(null);
    expect(nextCronFire(parseCron('0 0 31 4,6,9,11 *', 'Europe/Berlin'), at('2026-01-01T00:00:00Z'))).to.equal(null);
  });

  it('respects the time zone', () => {
    expect(iso(nextCronFire(parseCron('0 9 * * *', 'Asia/Kolkata'), at('2026-06-01T00:00:00Z'))!)).to.equal(
      '2026-06-01T03:30:00Z',
    );
  });

  // How fast this is (µs per call) is measured by bench/cron-speed.ts, not asserted here.
  it('steps an every-second cron one second at a time, 20,000 steps in a row', () => {
    const s = parseCron('*/1 * * * * *', 'Europe/Berlin');
    const start = at('2026-06-01T00:00:00Z');
    let t = start;
    for (let i = 1; i <= 20_000; i++) {
      const next = nextCronFire(s, t);
      if (next !== t + 1000) expect(next, `step ${i} from ${iso(t)}`).to.equal(t + 1000);
      t = next!;
    }
    expect(t).to.equal(start + 20_000_000);
  });
});

describe('nextCronFire across DST', () => {
  describe('America/New_York (2026-03-08 02:00 EST -> 03:00 EDT, 2026-11-01 02:00 EDT -> 01:00 EST)', () => {
    const tz = 'America/New_York';
    it('spring: a restricted-hour job in the gap fires exactly once, at the end of the gap', () => {
      expect(firings('30 2 * * *', tz, '2026-03-07T00:00:00Z', '2026-03-10T00:00:00Z')).to.deep.equal([
        '2026-03-07T07:30:00Z',
        '2026-03-08T07:00:00Z',
        '2026-03-09T06:30:00Z',
      ]);
    });
    it('spring: a wildcard-hour job skips the gap', () => {
      expect(firings('*/15 * * * *', tz, '2026-03-08T06:30:00Z', '2026-03-08T07:15:00Z')).to.deep.equal([
        '2026-03-08T06:45:00Z',
        '2026-03-08T07:00:00Z',
        '2026-03-08T07:15:00Z',
      ]);
    });
    it('spring: whole day, exact instants', () => {
      const day = ['2026-03-08T04:59:59Z', '2026-03-09T03:59:59Z'] as const;
      const hourly = firings('0 * * * *', tz, ...day);
      expect(hourly).to.have.length(23);
      expect(hourly.slice(0, 4)).to.deep.equal([
        '2026-03-08T05:00:00Z',
        '2026-03-08T06:00:00Z',
        '2026-03-08T07:00:00Z',
        '2026-03-08T08:00:00Z',
      ]);
      expect(hourly.at(-1)).to.equal('2026-03-09T03:00:00Z');
      expect(firings('0,30 1-3 * * *', tz, ...day)).to.deep.equal([
        '2026-03-08T06:00:00Z',
        '2026-03-08T06:30:00Z',
        '2026-03-08T07:00:00Z',
        '2026-03-08T07:30:00Z',
      ]);
    });
    it('fall: a restricted-hour job in the repeated hour fires once (first occurrence)', () => {
      expect(firings('30 1 * * *', tz, '2026-10-31T00:00:00Z', '2026-11-03T00:00:00Z')).to.deep.equal([
        '2026-10-31T05:30:00Z',
        '2026-11-01T05:30:00Z',
        '2026-11-02T06:30:00Z',
      ]);
    });
    it('fall: a wildcard-hour job fires in both passes', () => {
      expect(firings('*/15 * * * *', tz, '2026-11-01T04:50:00Z', '2026-11-01T07:00:00Z')).to.deep.equal([
        '2026-11-01T05:00:00Z',
        '2026-11-01T05:15:00Z',
        '2026-11-01T05:30:00Z',
        '2026-11-01T05:45:00Z',
        '2026-11-01T06:00:00Z',
        '2026-11-01T06:15:00Z',
        '2026-11-01T06:30:00Z',
        '2026-11-01T06:45:00Z',
        '2026-11-01T07:00:00Z',
      ]);
    });
    it('fall: whole day, exact instants', () => {
      const day = ['2026-11-01T03:59:59Z', '2026-11-02T04:59:59Z'] as const;
      const hourly = firings('0 * * * *', tz, ...day);
      expect(hourly).to.have.length(25);
      expect(hourly.slice(0, 4)).to.deep.equal([
        '2026-11-01T04:00:00Z',
        '2026-11-01T05:00:00Z',
        '2026-11-01T06:00:00Z',
        '2026-11-01T07:00:00Z',
      ]);
      expect(hourly.at(-1)).to.equal('2026-11-02T04:00:00Z');
      expect(firings('0,30 1-3 * * *', tz, ...day)).to.deep.equal([
        '2026-11-01T05:00:00Z',
        '2026-11-01T05:30:00Z',
        '2026-11-01T07:00:00Z',
        '2026-11-01T07:30:00Z',
        '2026-11-01T08:00:00Z',
        '2026-11-01T08:30:00Z',
      ]);
    });
  });

  describe('Europe/Berlin (2026-03-29 02:00 -> 03:00, 2026-10-25 03:00 -> 02:00)', () => {
    const tz = 'Europe/Berlin';
    it('spring: a restricted-hour job in the gap fires exactly once', () => {
      expect(firings('30 2 * * *', tz, '2026-03-28T00:00:00Z', '2026-03-31T00:00:00Z')).to.deep.equal([
        '2026-03-28T01:30:00Z',
        '2026-03-29T01:00:00Z',
        '2026-03-30T00:30:00Z',
      ]);
    });
    it('spring: whole day, exact instants', () => {
      const day = ['2026-03-28T22:59:59Z', '2026-03-29T21:59:59Z'] as const;
      expect(firings('0,30 1-3 * * *', tz, ...day)).to.deep.equal([
        '2026-03-29T00:00:00Z',
        '2026-03-29T00:30:00Z',
        '2026-03-29T01:00:00Z',
        '2026-03-29T01:30:00Z',
      ]);
      expect(firings('*/30 0-4 * * *', tz, ...day)).to.deep.equal([
        '2026-03-28T23:00:00Z',
        '2026-03-28T23:30:00Z',
        '2026-03-29T00:00:00Z',
        '2026-03-29T00:30:00Z',
        '2026-03-29T01:00:00Z',
        '2026-03-29T01:30:00Z',
        '2026-03-29T02:00:00Z',
        '2026-03-29T02:30:00Z',
      ]);
      const hourly = firings('0 * * * *', tz, ...day);
      expect(hourly).to.have.length(23);
      expect(hourly.slice(0, 3)).to.deep.equal(['2026-03-28T23:00:00Z', '2026-03-29T00:00:00Z', '2026-03-29T01:00:00Z']);
    });
    it('fall: restricted fires once, wildcard fires in both passes', () => {
      expect(firings('30 2 * * *', tz, '2026-10-24T00:00:00Z', '2026-10-27T00:00:00Z')).to.deep.equal([
        '2026-10-24T00:30:00Z',
        '2026-10-25T00:30:00Z',
        '2026-10-26T01:30:00Z',
      ]);
      expect(firings('*/30 * * * *', tz, '2026-10-24T23:59:59Z', '2026-10-25T02:00:00Z')).to.deep.equal([
        '2026-10-25T00:00:00Z',
        '2026-10-25T00:30:00Z',
        '2026-10-25T01:00:00Z',
        '2026-10-25T01:30:00Z',
        '2026-10-25T02:00:00Z',
      ]);
    });
    it('fall: whole day, exact instants', () => {
      const day = ['2026-10-24T21:59:59Z', '2026-10-25T22:59:59Z'] as const;
      expect(firings('0,30 1-3 * * *', tz, ...day)).to.deep.equal([
        '2026-10-24T23:00:00Z',
        '2026-10-24T23:30:00Z',
        '2026-10-25T00:00:00Z',
        '2026-10-25T00:30:00Z',
        '2026-10-25T02:00:00Z',
        '2026-10-25T02:30:00Z',
      ]);
      expect(firings('0 * * * *', tz, ...day)).to.have.length(25);
    });
  });

  describe('Australia/Lord_Howe (30-minute shift: 2026-04-05 02:00 -> 01:30, 2026-10-04 02:00 -> 02:30)', () => {
    const tz = 'Australia/Lord_Howe';
    it('spring: gap matches collapse into one firing; wildcard hour skips them', () => {
      expect(firings('*/15 2 * * *', tz, '2026-10-03T12:00:00Z', '2026-10-03T17:00:00Z')).to.deep.equal([
        '2026-10-03T15:30:00Z',
        '2026-10-03T15:45:00Z',
      ]);
      expect(firings('*/15 * * * *', tz, '2026-10-03T14:59:59Z', '2026-10-03T16:00:00Z')).to.deep.equal([
        '2026-10-03T15:00:00Z',
        '2026-10-03T15:15:00Z',
        '2026-10-03T15:30:00Z',
        '2026-10-03T15:45:00Z',
        '2026-10-03T16:00:00Z',
      ]);
    });
    it('fall: repeated half hour fires once for restricted hour, twice for wildcard', () => {
      expect(firings('*/15 1 * * *', tz, '2026-04-04T12:00:00Z', '2026-04-04T17:00:00Z')).to.deep.equal([
        '2026-04-04T14:00:00Z',
        '2026-04-04T14:15:00Z',
        '2026-04-04T14:30:00Z',
        '2026-04-04T14:45:00Z',
      ]);
      expect(firings('*/15 * * * *', tz, '2026-04-04T14:20:00Z', '2026-04-04T15:45:00Z')).to.deep.equal([
        '2026-04-04T14:30:00Z',
        '2026-04-04T14:45:00Z',
        '2026-04-04T15:00:00Z',
        '2026-04-04T15:15:00Z',
        '2026-04-04T15:30:00Z',
        '2026-04-04T15:45:00Z',
      ]);
    });
  });

  describe('every second over a whole transition day', () => {
    const cases = [
      { tz: 'America/New_York', from: '2026-03-08T05:00:00Z', to: '2026-03-09T04:00:00Z', count: 86_400 - 3_600 },
      { tz: 'America/New_York', from: '2026-11-01T04:00:00Z', to: '2026-11-02T05:00:00Z', count: 86_400 + 3_600 },
      { tz: 'Europe/Berlin', from: '2026-03-28T23:00:00Z', to: '2026-03-29T22:00:00Z', count: 86_400 - 3_600 },
      { tz: 'Australia/Lord_Howe', from: '2026-04-04T13:00:00Z', to: '2026-04-05T13:30:00Z', count: 86_400 + 1_800 },
    ];
    for (const c of cases) {
      it(`${c.tz} ${c.from.slice(0, 10)}: ${c.count} unique increasing firings`, () => {
        const spec = parseCron('*/1 * * * * *', c.tz);
        const end = at(c.to) - 1000;
        let prev = at(c.from) - 1000;
        let n = 0;
        for (let t = nextCronFire(spec, prev); t !== null && t <= end; t = nextCronFire(spec, t)) {
          if (t !== prev + 1000) expect.fail(`gap or repeat at ${iso(t)} after ${iso(prev)}`);
          prev = t;
          n++;
        }
        expect(n).to.equal(c.count);
      });
    }
  });
});

// Cron expressions evaluated in an IANA time zone, with well-defined DST behaviour.
//
// Syntax: 5 fields (minute hour day-of-month month day-of-week; second = 0) or 6 fields
// (second first). `*`, lists `a,b`, ranges `a-b`, steps `*/n`, `a-b/n`, `a/n` (= a-max/n),
// month names JAN-DEC, day names SUN-SAT, day-of-week 7 = Sunday, `?` = `*` in the two
// day fields. Macros: @yearly @annually @monthly @weekly @daily @midnight @hourly.
// Vixie rule: when both day-of-month and day-of-week are restricted (the field does not
// start with `*` or `?`), a day matches if EITHER matches; otherwise both must match.
// Firings are whole seconds.
//
// DST semantics. "The hour field is restricted" means it does not cover all 24 hours
// (`*`, `0-23` and `*/1` are unrestricted; `2`, `*/2`, `9-17` are restricted).
//  a) Spring forward (a gap of wall-clock times that never exist):
//     - restricted hour: every matching wall time inside the gap collapses into ONE firing
//       at the instant the gap ends. "30 2 * * *" in America/New_York on 2026-03-08 fires
//       once at 03:00 EDT (07:00Z); a job that also matches 03:00 still fires only once.
//     - unrestricted hour: wall times in the gap simply do not occur, no extra firing.
//       "*/15 * * * *" fires at 01:45 EST then 03:00 EDT; nothing is missed in real time.
//  b) Fall back (a range of wall-clock times that occurs twice):
//     - restricted hour: a matching wall time fires only at its FIRST occurrence.
//       "30 1 * * *" on 2026-11-01 in America/New_York fires at 01:30 EDT, not at 01:30 EST.
//     - unrestricted hour: the job fires in both passes, it is interval-like:
//       "*/15 * * * *" fires 01:00..01:45 EDT and again 01:00..01:45 EST.
// Works for any offset change (e.g. the 30-minute shift of Australia/Lord_Howe).
// Zone transitions are found by sampling Intl offsets every 24h (cached per zone and year),
// so two transitions less than a day apart are not seen.
import { RotaError } from './errors.js';

/** A parsed, validated cron expression bound to a time zone. */
export interface CronSpec {
  readonly expr: string;
  readonly tz: string;
  /** Sorted allowed values per field; dayOfWeek uses 0 = Sunday .. 6. */
  readonly seconds: readonly number[];
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly daysOfMonth: readonly number[];
  readonly months: readonly number[];
  readonly daysOfWeek: readonly number[];
  readonly domRestricted: boolean;
  readonly dowRestricted: boolean;
  readonly hourRestricted: boolean;
}

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldDef {
  name: string;
  min: number;
  max: number;
  names?: string[];
  nameBase?: number;
  question?: boolean;
}
const SECOND: FieldDef = { name: 'second', min: 0, max: 59 };
const MINUTE: FieldDef = { name: 'minute', min: 0, max: 59 };
const HOUR: FieldDef = { name: 'hour', min: 0, max: 23 };
const DOM: FieldDef = { name: 'day-of-month', min: 1, max: 31, question: true };
const MONTH: FieldDef = { name: 'month', min: 1, max: 12, names: MONTH_NAMES, nameBase: 1 };
const DOW: FieldDef = { name: 'day-of-week', min: 0, max: 7, names: DAY_NAMES, nameBase: 0, question: true };

function fail(msg: string): never {
  throw new RotaError('INVALID_SCHEDULE', msg);
}

function parseValue(def: FieldDef, text: string, part: string): number {
  let n: number;
  if (/^\d+$/.test(text)) n = Number(text);
  else {
    const i = def.names?.indexOf(text.toUpperCase()) ?? -1;
    if (i < 0) fail(`cron field '${def.name}' invalid: '${part}'`);
    n = i + (def.nameBase ?? 0);
  }
  if (n < def.min || n > def.max) fail(`cron field '${def.name}' out of range: ${text}`);
  return n;
}

/** Parses one field into its sorted set of values. */
function parseField(def: FieldDef, field: string): number[] {
  const set = new Set<number>();
  for (const part of field.split(',')) {
    const m = /^([^/]+)(?:\/(.*))?$/.exec(part);
    if (!m) fail(`cron field '${def.name}' invalid: '${part}'`);
    const [, range = '', stepText] = m;
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) fail(`cron field '${def.name}' invalid: '${part}'`);
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (range === '*' || (range === '?' && def.question)) {
      lo = def.min;
      hi = def.max === 7 ? 6 : def.max;
    } else {
      const dash = range.indexOf('-');
      if (dash > 0) {
        lo = parseValue(def, range.slice(0, dash), part);
        hi = parseValue(def, range.slice(dash + 1), part);
        if (lo > hi) fail(`cron field '${def.name}' invalid: '${part}' (range start after end)`);
      } else {
        lo = parseValue(def, range, part);
        hi = stepText !== undefined ? def.max : lo;
      }
    }
    for (let v = lo; v <= hi; v += step) set.add(def === DOW && v === 7 ? 0 : v);
  }
  return [...set].sort((a, b) => a - b);
}

/** True when tz names a time zone known to this runtime's Intl. */
const knownZones = new Set<string>();

export function isValidTimeZone(tz: string): boolean {
  if (typeof tz !== 'string' || tz === '') return false;
  if (knownZones.has(tz)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    if (knownZones.size < 1000) knownZones.add(tz);
    return true;
  } catch {
    return false;
  }
}

/** Parses and validates a cron expression; throws RotaError INVALID_SCHEDULE naming the faulty field. */
export function parseCron(expr: string, tz: string): CronSpec {
  if (!isValidTimeZone(tz)) fail(`unknown time zone: '${tz}'`);
  let text = String(expr ?? '').trim();
  if (text.startsWith('@')) {
    const macro = text.toLowerCase();
    if (macro.startsWith('@every')) fail(`'@every' is not a cron expression: use an 'every' schedule instead`);
    const body = MACROS[macro];
    if (!body) fail(`unknown cron macro: '${text}'`);
    text = body;
  }
  const fields = text === '' ? [] : text.split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) fail(`cron expression must have 5 or 6 fields, got ${fields.length}`);
  const all = fields.length === 6 ? fields : ['0', ...fields];
  const [sec, min, hour, dom, mon, dow] = all as [string, string, string, string, string, string];
  const hours = parseField(HOUR, hour);
  return {
    expr,
    tz,
    seconds: parseField(SECOND, sec),
    minutes: parseField(MINUTE, min),
    hours,
    daysOfMonth: parseField(DOM, dom),
    months: parseField(MONTH, mon),
    daysOfWeek: parseField(DOW, dow),
    domRestricted: !/^[*?]/.test(dom),
    dowRestricted: !/^[*?]/.test(dow),
    hourRestricted: hours.length < 24,
  };
}

// ---------- naive wall-time calendar search (local time treated as UTC) ----------

/** Lookup tables: next[v] = smallest allowed value >= v, or -1. */
interface Tables {
  sec: Int8Array;
  min: Int8Array;
  hour: Int8Array;
  dom: Uint8Array;
  month: Uint8Array;
  dow: Uint8Array;
}
const tableCache = new WeakMap<CronSpec, Tables>();

function nextTable(values: readonly number[], size: number): Int8Array {
  const t = new Int8Array(size + 1).fill(-1);
  for (let v = size - 1, next = -1; v >= 0; v--) {
    if (values.includes(v)) next = v;
    t[v] = next;
  }
  return t;
}
function flagTable(values: readonly number[], size: number): Uint8Array {
  const t = new Uint8Array(size);
  for (const v of values) t[v] = 1;
  return t;
}
function tablesFor(spec: CronSpec): Tables {
  let t = tableCache.get(spec);
  if (!t) {
    t = {
      sec: nextTable(spec.seconds, 60),
      min: nextTable(spec.minutes, 60),
      hour: nextTable(spec.hours, 24),
      dom: flagTable(spec.daysOfMonth, 32),
      month: flagTable(spec.months, 13),
      dow: flagTable(spec.daysOfWeek, 7),
    };
    tableCache.set(spec, t);
  }
  return t;
}

const DAY_MS = 86_400_000;

function dayMatches(spec: CronSpec, t: Tables, y: number, mo: number, day: number): boolean {
  const domOk = t.dom[day] === 1;
  const weekday = (((Math.floor(Date.UTC(y, mo, day) / DAY_MS) + 4) % 7) + 7) % 7;
  const dowOk = t.dow[weekday] === 1;
  if (spec.domRestricted && spec.dowRestricted) return domOk || dowOk;
  return domOk && dowOk;
}

/** Smallest matching naive wall time >= fromWall (whole seconds), or null past limitWall. */
function nextNaiveMatch(spec: CronSpec, fromWall: number, limitWall: number): number | null {
  const t = tablesFor(spec);
  let cur = fromWall;
  while (cur <= limitWall) {
    const d = new Date(cur);
    const y = d.getUTCFullYear();
    const mo = d.getUTCMonth();
    const day = d.getUTCDate();
    if (t.month[mo + 1] !== 1) {
      cur = Date.UTC(y, mo + 1, 1);
      continue;
    }
    const h = d.getUTCHours();
    const nh = dayMatches(spec, t, y, mo, day) ? (t.hour[h] as number) : -1;
    if (nh < 0) {
      cur = Date.UTC(y, mo, day + 1);
      continue;
    }
    if (nh > h) {
      cur = Date.UTC(y, mo, day, nh);
      continue;
    }
    const mi = d.getUTCMinutes();
    const nm = t.min[mi] as number;
    if (nm !== mi) {
      cur = nm < 0 ? Date.UTC(y, mo, day, h + 1) : Date.UTC(y, mo, day, h, nm);
      continue;
    }
    const s = d.getUTCSeconds();
    const ns = t.sec[s] as number;
    if (ns < 0) {
      cur = Date.UTC(y, mo, day, h, mi + 1);
      continue;
    }
    return Date.UTC(y, mo, day, h, mi, ns);
  }
  return null;
}

// ---------- zone offsets and transitions ----------

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** UTC offset (ms, local = utc + offset) of tz at instant ms (whole seconds), asked of Intl directly. */
export function intlOffset(tz: string, ms: number): number {
  const at = Math.floor(ms / 1000) * 1000;
  const p: Record<string, number> = {};
  for (const part of formatterFor(tz).formatToParts(at)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const wall = Date.UTC(p.year ?? 0, (p.month ?? 1) - 1, p.day ?? 1, (p.hour ?? 0) % 24, p.minute ?? 0, p.second ?? 0);
  return wall - at;
}

interface Transition {
  atMs: number;
  offsetMs: number;
}
interface ZoneYear {
  startOffset: number;
  /** Transitions with atMs in (start of UTC year, start of next UTC year]. */
  transitions: Transition[];
}
const yearCache = new Map<string, ZoneYear>();
/** Zones that never change offset (no need to sample them). */
const FIXED_ZONE = /^(UTC|GMT|Etc\/.*)$/;

function zoneYear(tz: string, year: number): ZoneYear {
  const key = `${tz}\u0000${year}`;
  let zy = yearCache.get(key);
  if (zy) return zy;
  const start = Date.UTC(year, 0, 1);
  const end = Date.UTC(year + 1, 0, 1);
  const startOffset = intlOffset(tz, start);
  const transitions: Transition[] = [];
  if (FIXED_ZONE.test(formatterFor(tz).resolvedOptions().timeZone)) {
    zy = { startOffset, transitions };
    yearCache.set(key, zy);
    return zy;
  }
  let prevAt = start;
  let prevOff = startOffset;
  for (let at = start + DAY_MS; prevAt < end; at += DAY_MS) {
    const sample = Math.min(at, end);
    const off = intlOffset(tz, sample);
    if (off !== prevOff) {
      let lo = prevAt; // offset prevOff here
      let hi = sample; // offset off here
      while (hi - lo > 1000) {
        const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
        if (intlOffset(tz, mid) === prevOff) lo = mid;
        else hi = mid;
      }
      transitions.push({ atMs: hi, offsetMs: off });
    }
    prevAt = sample;
    prevOff = off;
  }
  zy = { startOffset, transitions };
  yearCache.set(key, zy);
  return zy;
}

interface Segment {
  offset: number;
  /** Start of the constant-offset segment holding t, and the offset before it (same as offset if unknown). */
  start: number;
  prevOffset: number;
  /** First instant after t with a different offset (Infinity if none before `horizon`). */
  end: number;
  nextOffset: number;
}

function segmentAt(tz: string, t: number, horizon: number): Segment {
  const year = new Date(t).getUTCFullYear();
  const zy = zoneYear(tz, year);
  let offset = zy.startOffset;
  let start = -Infinity;
  let prevOffset = offset;
  let end = Infinity;
  let nextOffset = offset;
  for (const tr of zy.transitions) {
    if (tr.atMs <= t) {
      prevOffset = offset;
      offset = tr.offsetMs;
      start = tr.atMs;
    } else {
      end = tr.atMs;
      nextOffset = tr.offsetMs;
      break;
    }
  }
  if (start === -Infinity) {
    const prev = zoneYear(tz, year - 1).transitions.at(-1);
    if (prev) {
      start = prev.atMs;
      const before = zoneYear(tz, year - 1).transitions.at(-2);
      prevOffset = before ? before.offsetMs : zoneYear(tz, year - 1).startOffset;
    }
  }
  for (let y = year + 1; end === Infinity && Date.UTC(y, 0, 1) <= horizon; y++) {
    const first = zoneYear(tz, y).transitions[0];
    if (first) (end = first.atMs), (nextOffset = first.offsetMs);
  }
  return { offset, start, prevOffset, end, nextOffset };
}

/** Gives up looking for a next firing this far ahead (covers leap days and 5-yearly gaps). */
const HORIZON_MS = 5 * 366 * DAY_MS;

/**
 * The smallest firing instant strictly after afterMs (whole seconds), or null if there is
 * none within about 5 years (e.g. "0 0 30 2 *"). DST rules: see the top of this file.
 */
export function nextCronFire(spec: CronSpec, afterMs: number): number | null {
  let t = Math.floor(afterMs / 1000) * 1000 + 1000;
  const horizon = t + HORIZON_MS;
  while (t <= horizon) {
    const seg = segmentAt(spec.tz, t, horizon);
    const wall = nextNaiveMatch(spec, t + seg.offset, horizon + seg.offset);
    if (wall === null) return null;
    const at = wall - seg.offset;
    if (at < seg.end) {
      // Fall back: with a restricted hour, wall times already shown before the transition are skipped.
      const repeatedUntil = seg.start + seg.prevOffset; // wall time at which the repeat ends
      if (spec.hourRestricted && seg.prevOffset > seg.offset && wall < repeatedUntil) {
        t = Math.max(at + 1000, repeatedUntil - seg.offset);
        continue;
      }
      return at;
    }
    // The match lies past this segment. Spring forward: a restricted-hour match in the gap fires at its end.
    if (spec.hourRestricted && seg.nextOffset > seg.offset && wall < seg.end + seg.nextOffset) return seg.end;
    t = seg.end;
  }
  return null;
}

/**
 * One entry point over every Schedule kind: validation, next firing, missed firings.
 * Pure: "now" is always a parameter.
 */
import { type CronSpec, nextCronFire, parseCron } from './cron.js';
import { RotaError } from './errors.js';
import type { Schedule, Task } from './task.js';

/** A validated schedule; `cron` holds the parsed spec for cron schedules. */
export interface CompiledSchedule {
  readonly kind: 'cron' | 'every' | 'at' | 'now' | 'manual' | 'daemon';
  readonly schedule: Schedule;
  readonly cron?: CronSpec;
}

/** Result of missedFirings: the newest firings (ascending) and how many there were in all. */
export interface MissedFirings {
  firings: number[];
  total: number;
  /** False when a huge cron range was not fully counted: total is then a lower bound. */
  totalExact: boolean;
}

const MIN_EVERY_MS = 1_000;
/** Cron firings counted one by one before missedFirings settles for a lower bound. */
export const CRON_COUNT_CAP = 10_000;

function invalid(msg: string): never {
  throw new RotaError('INVALID_SCHEDULE', msg);
}

const cronCache = new Map<string, CronSpec>();
const CRON_CACHE_MAX = 10_000;

/** Parsed cron spec for expr+tz, cached (throws RotaError INVALID_SCHEDULE). */
function cronSpec(expr: string, tz: string): CronSpec {
  const key = `${tz}\u0000${expr}`;
  let spec = cronCache.get(key);
  if (!spec) {
    spec = parseCron(expr, tz);
    if (cronCache.size >= CRON_CACHE_MAX) cronCache.clear();
    cronCache.set(key, spec);
  }
  return spec;
}

/** Validates a schedule (throws RotaError INVALID_SCHEDULE) and returns it with its parsed form. */
export function compileSchedule(s: Schedule): CompiledSchedule {
  const o = s as unknown as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null) invalid('schedule must be an object');
  if ('cron' in o) {
    if (typeof o.cron !== 'string') invalid('cron must be a string');
    if (typeof o.tz !== 'string') invalid('cron schedule needs a time zone (tz)');
    return { kind: 'cron', schedule: s, cron: cronSpec(o.cron, o.tz) };
  }
  if ('everyMs' in o) {
    const v = o.everyMs;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) invalid('every must be a whole number of milliseconds');
    if (v < MIN_EVERY_MS) invalid('every must be at least 1s');
    return { kind: 'every', schedule: s };
  }
  if ('atMs' in o) {
    if (typeof o.atMs !== 'number' || !Number.isSafeInteger(o.atMs)) invalid('at must be a valid point in time');
    return { kind: 'at', schedule: s };
  }
  for (const kind of ['now', 'manual', 'daemon'] as const) {
    if (kind in o) {
      if (o[kind] !== true) invalid(`${kind} must be true`);
      return { kind, schedule: s };
    }
  }
  return invalid('unknown schedule kind: use cron, every, at, now, manual or daemon');
}

/**
 * The next firing strictly after afterMs, or null if the schedule never fires again.
 * - cron: next matching instant in its zone (createdMs is not used).
 * - everyMs: the grid createdMs + k*everyMs with k >= 1 (first firing one interval after creation).
 * - atMs: atMs once; now: createdMs once; manual, daemon: never.
 */
export function nextFire(s: Schedule, afterMs: number, createdMs: number): number | null {
  if ('cron' in s) return nextCronFire(cronSpec(s.cron, s.tz), afterMs);
  if ('everyMs' in s) {
    if (!(s.everyMs >= MIN_EVERY_MS)) invalid('every must be at least 1s');
    const k = Math.max(1, Math.floor((afterMs - createdMs) / s.everyMs) + 1);
    return createdMs + k * s.everyMs;
  }
  if ('atMs' in s) return s.atMs > afterMs ? s.atMs : null;
  if ('now' in s) return createdMs > afterMs ? createdMs : null;
  return null;
}

/**
 * Firings in (fromExclusiveMs, toInclusiveMs]: the newest `limit` of them (ascending) and the
 * total count. everyMs is pure arithmetic; cron counts up to a cap (then total is a lower
 * bound) and finds the newest firings by scanning windows backwards from toInclusiveMs.
 */
export function missedFirings(
  s: Schedule,
  fromExclusiveMs: number,
  toInclusiveMs: number,
  createdMs: number,
  limit: number,
): MissedFirings {
  const max = Math.max(0, Math.floor(limit));
  if (toInclusiveMs <= fromExclusiveMs) return { firings: [], total: 0, totalExact: true };
  if ('everyMs' in s) {
    const first = nextFire(s, fromExclusiveMs, createdMs) as number;
    if (first > toInclusiveMs) return { firings: [], total: 0, totalExact: true };
    const total = Math.floor((toInclusiveMs - first) / s.everyMs) + 1;
    const n = Math.min(max, total);
    const last = first + (total - 1) * s.everyMs;
    const firings = Array.from({ length: n }, (_, i) => last - (n - 1 - i) * s.everyMs);
    return { firings, total, totalExact: true };
  }
  if ('cron' in s) return missedCron(cronSpec(s.cron, s.tz), fromExclusiveMs, toInclusiveMs, max);
  const once = nextFire(s, fromExclusiveMs, createdMs);
  if (once === null || once > toInclusiveMs) return { firings: [], total: 0, totalExact: true };
  return { firings: max > 0 ? [once] : [], total: 1, totalExact: true };
}

/** Scans (from, to] forwards, keeping the newest `keep`; stops after `cap` firings. */
function scanCron(spec: CronSpec, from: number, to: number, keep: number, cap: number) {
  const seen: number[] = [];
  let complete = true;
  for (let at = nextCronFire(spec, from); at !== null && at <= to; at = nextCronFire(spec, at)) {
    if (seen.length >= cap) {
      complete = false;
      break;
    }
    seen.push(at);
  }
  return { newest: keep > 0 ? seen.slice(-keep) : [], count: seen.length, complete };
}

function missedCron(spec: CronSpec, from: number, to: number, limit: number): MissedFirings {
  const all = scanCron(spec, from, to, limit, CRON_COUNT_CAP);
  if (all.complete) return { firings: all.newest, total: all.count, totalExact: true };
  // Too many to count: collect the newest by scanning windows backwards from `to`,
  // widening the window while sparse and narrowing it when one holds too many firings.
  let firings: number[] = [];
  let hi = to;
  let width = 60_000;
  while (firings.length < limit && hi > from) {
    const lo = Math.max(from, hi - width);
    const win = scanCron(spec, lo, hi, limit - firings.length, limit * 4 + 100);
    if (!win.complete && width > 1_000) {
      width = Math.max(1_000, Math.floor(width / 4));
      continue;
    }
    firings = [...win.newest, ...firings];
    hi = lo;
    width *= 4;
  }
  return { firings, total: Math.max(all.count, firings.length), totalExact: false };
}

/** Look-back windows for the last firing: narrow first, so a per-second cron stays cheap. */
const LAST_FIRE_WINDOWS_MS = [60_000, 3_600_000, 86_400_000, 32 * 86_400_000, 400 * 86_400_000, 5 * 366 * 86_400_000];

/**
 * A task's schedule instants as a user sees them (manual triggers aside):
 *   lastMs  the newest instant of the schedule the scheduler has reached: after creation and at
 *           or before both the cursor (the last scheduled time) and now; null before the first
 *   nextMs  the first instant after now, or null when the task is disabled or never fires again
 */
export function scheduleInstants(
  s: Schedule,
  createdMs: number,
  cursorMs: number | undefined,
  nowMs: number,
  enabled: boolean,
): { lastMs: number | null; nextMs: number | null } {
  const from = createdMs - 1;
  const upto = Math.min(cursorMs ?? from, nowMs);
  let lastMs: number | null = null;
  if (upto > from) {
    for (const w of [...LAST_FIRE_WINDOWS_MS, upto - from]) {
      const got = missedFirings(s, Math.max(from, upto - w), upto, createdMs, 1).firings[0];
      if (got !== undefined) {
        lastMs = got;
        break;
      }
      if (upto - w <= from) break;
    }
  }
  return { lastMs, nextMs: enabled ? nextFire(s, nowMs, createdMs) : null };
}

/** One coming instant of a task. */
export interface Upcoming {
  taskId: string;
  name: string;
  group?: string;
  ms: number;
}

/**
 * The instants in (nowMs, nowMs + withinMs] of the enabled tasks, soonest first (ties by name),
 * at most `limit`; `more` when some were left out. No task is asked for more than limit + 1 of its
 * own, so an every-second task costs no more than the cut. Pure.
 */
export function upcomingFirings(tasks: Pick<Task, 'id' | 'name' | 'group' | 'enabled' | 'schedule' | 'createdMs'>[], nowMs: number, withinMs: number, limit: number): { items: Upcoming[]; more: boolean } {
  const until = nowMs + withinMs;
  const all: Upcoming[] = [];
  for (const t of tasks) {
    if (!t.enabled) continue;
    let after = nowMs;
    // One more than the limit: enough to tell that there is more.
    for (let i = 0; i <= limit; i++) {
      const ms = nextFire(t.schedule, after, t.createdMs);
      if (ms === null || ms > until) break;
      all.push({ taskId: t.id, name: t.name, ...(t.group !== undefined ? { group: t.group } : {}), ms });
      after = ms;
    }
  }
  all.sort((a, b) => a.ms - b.ms || a.name.localeCompare(b.name));
  return { items: all.slice(0, limit), more: all.length > limit };
}

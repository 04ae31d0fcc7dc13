/**
 * Human durations: "250ms", "30s", "5m", "1h30m", "1.5s", "1d", or plain milliseconds.
 * A bare number (or numeric string) is always milliseconds.
 */
import { RotaError } from './errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const COMPONENT = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/y;

function invalid(v: unknown): RotaError {
  return new RotaError('INVALID_SCHEDULE', `invalid duration '${String(v)}': use e.g. 30s, 5m, 1h30m or milliseconds`);
}

/** Parses a duration into whole milliseconds; throws RotaError INVALID_SCHEDULE on garbage, negatives or empty input. */
export function parseDurationMs(v: string | number): number {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw invalid(v);
    return v;
  }
  if (typeof v !== 'string') throw invalid(v);
  const s = v.trim();
  if (s === '') throw invalid(v);
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw invalid(v);
    return n;
  }
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    COMPONENT.lastIndex = pos;
    const m = COMPONENT.exec(s);
    if (!m) throw invalid(v);
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    pos = COMPONENT.lastIndex;
    while (s[pos] === ' ') pos++;
  }
  const ms = Math.round(total);
  if (!Number.isSafeInteger(ms)) throw invalid(v);
  return ms;
}

/** Formats milliseconds compactly, e.g. "1h30m", "30s", "250ms", "1d2h", "1s500ms"; parseDurationMs reads it back. */
export function formatDurationMs(ms: number): string {
  let rest = Math.round(Math.abs(ms));
  if (rest === 0) return '0s';
  let out = ms < 0 ? '-' : '';
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const size = UNIT_MS[unit] as number;
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

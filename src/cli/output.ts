/** How the CLI prints: aligned tables for people, JSON or YAML for scripts. No colours. */
import YAML from 'yaml';
import { formatDurationMs } from '../domain/duration.js';
import { usageError } from './exit.js';

/** `wide`: the table with more columns (where a command has them). */
export type Format = 'table' | 'wide' | 'json' | 'yaml';
export const FORMATS: readonly Format[] = ['table', 'wide', 'json', 'yaml'];

export function parseFormat(v: string): Format {
  if ((FORMATS as readonly string[]).includes(v)) return v as Format;
  throw usageError(`unknown output format '${v}': use table, wide, json or yaml`);
}

/** How tables print for this command line: -o wide adds the wide columns, --no-headers drops the header row. */
const view = { wide: false, headers: true };
export function setTableView(v: { wide: boolean; headers: boolean }): void {
  Object.assign(view, v);
}

/** JSON (pretty, one trailing newline) or YAML text of a value. */
export function serialize(format: 'json' | 'yaml', value: unknown): string {
  return format === 'yaml' ? YAML.stringify(value) : `${JSON.stringify(value, null, 2)}\n`;
}

/** Prints `data` as JSON/YAML, or the table `people()` makes of it. */
export function emit(format: Format, data: unknown, people: () => string): void {
  process.stdout.write(format === 'table' || format === 'wide' ? ensureNewline(people()) : serialize(format, data));
}

function ensureNewline(s: string): string {
  return s === '' || s.endsWith('\n') ? s : `${s}\n`;
}

/** One column of a listing: its header, its cell, and whether only -o wide shows it. */
export interface Column<T> {
  h: string;
  v: (item: T) => string;
  wide?: true;
}

/** A listing of `items` by columns: the wide ones only with -o wide. */
export function grid<T>(cols: Column<T>[], items: T[]): string {
  const shown = cols.filter((c) => !c.wide || view.wide);
  return table(
    shown.map((c) => c.h),
    items.map((it) => shown.map((c) => c.v(it))),
  );
}

/** Columns padded to their widest cell, two spaces apart, no trailing blanks; the header row unless --no-headers. */
export function table(headers: string[], rows: string[][]): string {
  if (!view.headers && rows.length === 0) return '';
  const all = view.headers ? [headers, ...rows] : rows;
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n') + '\n';
}

/** `key: value` lines with the keys aligned, for one record. */
export function fields(pairs: [string, string | undefined][]): string {
  const shown = pairs.filter((p): p is [string, string] => p[1] !== undefined && p[1] !== '');
  const w = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${`${k}:`.padEnd(w + 2)}${v}`).join('\n') + '\n';
}

/** Epoch ms as `2026-05-01 12:00:03Z` (UTC); '-' when absent. */
export function time(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? '-' : `${d.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

export function duration(ms: number | undefined): string {
  return ms === undefined ? '-' : formatDurationMs(ms);
}

/** Shortens to `max` characters on one line. */
export function clip(s: string | undefined, max = 60): string {
  const one = (s ?? '').replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** A stored schedule in a few words. */
export function scheduleText(s: Record<string, unknown> | undefined): string {
  if (!s) return '-';
  if (typeof s.cron === 'string') return `cron ${s.cron} (${String(s.tz ?? 'UTC')})`;
  if (typeof s.everyMs === 'number') return `every ${formatDurationMs(s.everyMs)}`;
  if (typeof s.atMs === 'number') return `at ${time(s.atMs)}`;
  for (const k of ['now', 'manual', 'daemon']) if (s[k]) return k;
  return JSON.stringify(s);
}

/** A stored action in a few words. */
export function actionText(a: Record<string, unknown> | undefined): string {
  if (!a) return '-';
  const [kind, v] = Object.entries(a)[0] ?? ['?', {}];
  const o = (v ?? {}) as Record<string, unknown>;
  switch (kind) {
    case 'http':
      return `http ${String(o.method ?? 'GET')} ${String(o.url ?? '')}`;
    case 'process':
      return `process ${clip(String(o.command ?? ''), 40)}`;
    case 'jsonrpc':
      return `jsonrpc ${String(o.method ?? '')} ${String(o.url ?? '')}`;
    case 'container':
      return `container ${String(o.image ?? '')}`;
    default:
      return kind;
  }
}

/** What an empty listing prints: a note for people, nothing with --no-headers (a script sees no rows). */
export function none(note: string): string {
  return view.headers ? `${note}\n` : '';
}

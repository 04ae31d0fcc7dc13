/**
 * `rota export` / `rota import`: every task of the token's tenant as one JSON or YAML document,
 * a backup and a way to move tasks between clusters. Import matches tasks by name: it creates
 * the missing ones, replaces (PUT) the ones whose definition differs and leaves the rest alone,
 * so importing what export wrote twice changes nothing the second time.
 */
import { writeFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { Command } from 'commander';
import { normalizeTask, type TaskInput } from '../service/task-input.js';
import { SERVER_FIELDS, type ApiTask } from './api-types.js';
import { ApiError } from './client.js';
import { contextOf } from './context.js';
import { CliError, EXIT, usageError } from './exit.js';
import { emit, serialize, table } from './output.js';
import { readDocument } from './task-body.js';
import { allTasks } from './tasks.js';

export const EXPORT_VERSION = 1;

type Definition = Record<string, unknown>;


/** A task as the input it was made from: server fields and ISO companions off. */
export function definitionOf(t: Record<string, unknown>): Definition {
  const out: Definition = {};
  for (const [k, v] of Object.entries(t)) if (!SERVER_FIELDS.includes(k)) out[k] = v;
  const s = out.schedule as Record<string, unknown> | undefined;
  if (s && typeof s === 'object' && 'atMs' in s && 'at' in s) {
    const { at: _at, ...rest } = s;
    out.schedule = rest;
  }
  return out;
}

/** The definitions in an export document, a `{"items": [...]}` list, or a bare array. */
function definitionsIn(doc: unknown, source: string): Definition[] {
  const list = Array.isArray(doc) ? doc : doc && typeof doc === 'object' ? ((doc as Record<string, unknown>).tasks ?? (doc as Record<string, unknown>).items) : undefined;
  if (!Array.isArray(list)) throw usageError(`${source}: expected what rota export writes ({"version": 1, "tasks": [...]}), or a list of tasks`);
  const seen = new Set<string>();
  return list.map((t, i) => {
    if (!t || typeof t !== 'object' || Array.isArray(t) || typeof (t as Definition).name !== 'string') throw usageError(`${source}: task #${i + 1} is not an object with a name`);
    const d = definitionOf(t as Definition);
    const name = d.name as string;
    if (seen.has(name)) throw usageError(`${source}: the name '${name}' appears twice: names identify tasks`);
    seen.add(name);
    return d;
  });
}

/** The definition with the server's meaning and defaults, so `every: 30s` equals `everyMs: 30000`; null if it does not pass. */
function canonical(d: Definition): unknown {
  try {
    const action = (d.action ?? {}) as Record<string, Record<string, unknown>>;
    const users = Object.values(action).flatMap((a) => [a?.user, a?.group]).filter((u): u is string => typeof u === 'string');
    return normalizeTask(d as unknown as TaskInput, { allowedUsers: users, maxReplicas: Number.MAX_SAFE_INTEGER });
  } catch {
    return null;
  }
}

export function sameDefinition(wanted: Definition, stored: Definition): boolean {
  const a = canonical(wanted);
  const b = canonical(stored);
  return a !== null && b !== null ? isDeepStrictEqual(a, b) : isDeepStrictEqual(wanted, stored);
}

/** Tasks before the tasks whose deps name them, so a create never refers to a task yet to come. */
function depsFirst(defs: Definition[]): Definition[] {
  const byName = new Map(defs.map((d) => [d.name as string, d]));
  const out: Definition[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (d: Definition): void => {
    const name = d.name as string;
    if (state.get(name)) return; // done, or a cycle the server will refuse with its own message
    state.set(name, 'visiting');
    for (const dep of (d.deps as string[] | undefined) ?? []) {
      const target = byName.get(dep);
      if (target) visit(target);
    }
    state.set(name, 'done');
    out.push(d);
  };
  defs.forEach(visit);
  return out;
}

export function exportCommand(): Command {
  return new Command('export')
    .description("write every task of the token's tenant as JSON (default) or YAML (-o yaml): what rota import reads back")
    .option('-f, --file <file>', 'write to this file instead of stdout')
    .addHelpText('after', `
Examples:
  rota export > tasks.json
  rota export -o yaml -f tasks.yaml
  rota --server old-cluster:7410 export | rota --server new-cluster:7410 import -`)
    .action(async (o: { file?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const tasks = await allTasks(ctx.api);
      const doc = { version: EXPORT_VERSION, exportedAt: new Date().toISOString(), tasks: tasks.map(definitionOf) };
      const text = serialize(ctx.format === 'yaml' ? 'yaml' : 'json', doc);
      if (o.file === undefined || o.file === '-') {
        process.stdout.write(text);
        return;
      }
      try {
        writeFileSync(o.file, text);
      } catch (err) {
        throw new CliError(`cannot write ${o.file}: ${(err as Error).message}`, EXIT.FAILED);
      }
      process.stderr.write(`exported ${tasks.length} task${tasks.length === 1 ? '' : 's'} to ${o.file}\n`);
    });
}

interface ImportReport {
  dryRun: boolean;
  created: string[];
  updated: string[];
  unchanged: string[];
  failed: { name: string; error: string }[];
}

export function importCommand(): Command {
  return new Command('import')
    .argument('<file>', 'what rota export wrote (JSON or YAML), or a list of tasks; - reads stdin')
    .description('create or update tasks by name from an export: idempotent, says what it created, updated and left alone')
    .option('--dry-run', 'say what would change, change nothing')
    .addHelpText('after', `
A task whose name is new is created; one whose definition differs is replaced (PUT, which keeps
its id and history); an equal one is left alone. Tasks not in the file are never touched.
Exit code 1 if any task failed (the others are still imported).
Examples:
  rota import tasks.json --dry-run
  rota import tasks.yaml`)
    .action(async (file: string, o: { dryRun?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const source = file === '-' ? 'stdin' : file;
      const wanted = depsFirst(definitionsIn(readDocument(file), source));
      const existing = new Map((await allTasks(ctx.api)).map((t) => [t.name, t]));
      const report: ImportReport = { dryRun: !!o.dryRun, created: [], updated: [], unchanged: [], failed: [] };
      for (const d of wanted) {
        const name = d.name as string;
        const current = existing.get(name);
        try {
          if (current && sameDefinition(d, definitionOf(current))) {
            report.unchanged.push(name);
          } else if (current) {
            if (!o.dryRun) await ctx.api.put<ApiTask>(`/api/v1/tasks/${current.id}`, d);
            report.updated.push(name);
          } else {
            if (!o.dryRun) await ctx.api.post<ApiTask>('/api/v1/tasks', d);
            report.created.push(name);
          }
        } catch (err) {
          if (!(err instanceof ApiError)) throw err; // unreachable: stop, the exit code says so
          report.failed.push({ name, error: err.message });
        }
      }
      emit(ctx.format, report, () => importText(report));
      if (report.failed.length) process.exitCode = EXIT.FAILED;
    });
}

function importText(r: ImportReport): string {
  const would = r.dryRun ? 'would be ' : '';
  const rows = [
    ...r.created.map((n) => [`${would}created`, n, '']),
    ...r.updated.map((n) => [`${would}updated`, n, '']),
    ...r.unchanged.map((n) => ['unchanged', n, '']),
    ...r.failed.map((f) => ['FAILED', f.name, f.error]),
  ];
  const summary = `${r.created.length} ${would}created, ${r.updated.length} ${would}updated, ${r.unchanged.length} unchanged${r.failed.length ? `, ${r.failed.length} failed` : ''}${r.dryRun ? ' (dry run: nothing changed)' : ''}\n`;
  return (rows.length ? table(['RESULT', 'TASK', 'ERROR'], rows) : '') + summary;
}

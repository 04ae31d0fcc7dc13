/**
 * A task's slots ("why did this not run?"): the instants its schedule had in a range, each with
 * what became of it and why (domain/slots.ts decides), gathered from its run records, its
 * firings in flight, its pauses in the audit log, its cursor and its plans still stored. Newest first, a page at a time.
 */
import { RotaError } from '../domain/errors.js';
import { nextFire } from '../domain/schedule.js';
import { slotsOf, type Slot } from '../domain/slots.js';
import type { Task } from '../domain/task.js';
import type { RunStore } from '../store/run-store.js';
import type { EventStore } from '../store/event-store.js';
import type { FiringReads } from '../store/firing-reads.js';
import type { PlanStore } from '../store/plan-store.js';

/** At most this many instants are enumerated for one page (a per-second cron over a day is 86,400). */
const MAX_INSTANTS = 200_000;
export const MAX_SLOTS_PER_PAGE = 1_000;

export interface SlotQuery {
  fromMs: number;
  toMs: number;
  limit: number;
  /** The previous page's `next`. */
  cursor?: string;
}

export interface SlotStores {
  runs: RunStore;
  events: EventStore;
  firings: FiringReads;
  plans: Pick<PlanStore, 'plannedOf'>;
}

/** The schedule's instants in [fromMs, toMs], ascending. */
function instantsIn(task: Task, fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  // None before the task existed (cron's next instant does not look at its creation).
  let at = nextFire(task.schedule, Math.max(fromMs, task.createdMs) - 1, task.createdMs);
  while (at !== null && at <= toMs) {
    out.push(at);
    if (out.length > MAX_INSTANTS) throw new RotaError('INVALID_QUERY', `more than ${MAX_INSTANTS} instants between from and to for this schedule: ask for a shorter range`);
    at = nextFire(task.schedule, at, task.createdMs);
  }
  return out;
}

/** The task's paused periods, from its pause and resume events (and its state now). */
async function pausesOf(events: EventStore, task: Task): Promise<{ fromMs: number; toMs: number | null }[]> {
  const mine = (await events.range(task.tenant)).filter((e) => e.taskId === task.id && (e.action === 'pause' || e.action === 'resume')).sort((a, b) => a.atMs - b.atMs);
  const out: { fromMs: number; toMs: number | null }[] = [];
  for (const e of mine) {
    const open = out[out.length - 1];
    if (e.action === 'pause' && (!open || open.toMs !== null)) out.push({ fromMs: e.atMs, toMs: null });
    if (e.action === 'resume' && open && open.toMs === null) open.toMs = e.atMs;
  }
  if (!task.enabled && !(out.length && out[out.length - 1]!.toMs === null)) out.push({ fromMs: task.updatedMs, toMs: null });
  return out;
}

const encodeCursor = (ms: number) => Buffer.from(`slot:${ms}`).toString('base64url');
function decodeCursor(cursor: string): number {
  const m = /^slot:(\d{1,16})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m || Buffer.from(`slot:${m[1]}`).toString('base64url') !== cursor) throw new RotaError('INVALID_QUERY', `cursor '${cursor}' is not one a slot list gave`);
  return Number(m[1]);
}

export async function slotPage(stores: SlotStores, task: Task, q: SlotQuery, nowMs: number): Promise<{ items: Slot[]; next?: string }> {
  if (q.fromMs > q.toMs) throw new RotaError('INVALID_QUERY', 'from is after to');
  const toMs = q.cursor === undefined ? q.toMs : Math.min(q.toMs, decodeCursor(q.cursor) - 1);
  const [runs, firings, pauses, cursors, planned] = await Promise.all([stores.runs.allForTask(task.id), stores.firings.firingsOf(task.id), pausesOf(stores.events, task), stores.firings.readCursors([task.id]), stores.plans.plannedOf(task.id)]);
  const kept = runs.map((r) => r.scheduledMs);
  const slots = slotsOf({
    instants: instantsIn(task, q.fromMs, toMs),
    runs,
    firings,
    pauses,
    cursorMs: cursors.get(task.id)?.value ?? null,
    plannedMs: planned,
    oldestKeptMs: kept.length ? Math.min(...kept) : null,
    nowMs,
    fromMs: q.fromMs,
    toMs,
  });
  const items = slots.slice(0, q.limit);
  return slots.length > q.limit ? { items, next: encodeCursor(items[items.length - 1]!.scheduledAt) } : { items };
}

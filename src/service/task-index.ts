import type { TaskFeedConsumer } from '../store/task-feed.js';
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../log.js';
import { RotaError } from '../domain/errors.js';
import { FINAL_RUN_STATES, type Run, type RunState, type Schedule, type Task } from '../domain/task.js';
import type { Firing } from '../domain/firing.js';
import { matchesDefinition, nextFiringOf, orderTasks, taskKinds, type DefinitionFilter, type LastOutcome, type TaskOrder } from '../domain/task-order.js';

/** A task list's filter: the definition's fields, and what its runs are doing. */
export interface TaskFilter extends DefinitionFilter {
  /** true: only tasks with a run in flight now; false: only those without. */
  running?: boolean;
  /** Only tasks whose newest finished run ended in one of these states. */
  lastOutcome?: readonly RunState[];
}

/** A task as a list shows it: its definition, its newest finished run, its runs in flight now. */
export interface ListedTask {
  task: Task;
  lastRun: LastOutcome | null;
  running: number;
}

/** What a list keeps of a definition: what it filters and sorts by, and the JSON it answers with. */
interface Entry {
  id: string;
  tenant: string;
  name: string;
  group?: string;
  enabled: boolean;
  kinds: [string, string];
  schedule: Schedule;
  createdMs: number;
  raw: string;
  rev: number;
  /** The next firing after fromMs (null: it will not fire): still right for any later time before it. */
  next?: { ms: number | null; fromMs: number };
}

/** The index closes this long after the last list read: its watches cost while nobody looks. */
export const INDEX_IDLE_MS = 10 * 60_000;

/**
 * The task list of one node, answered from memory: every definition (what it filters and sorts
 * by, and its JSON), each task's newest finished run and its runs in flight, kept by a watch
 * (store/task-feed.ts). It opens at the first list read (that read waits for the listing: as
 * long as one scan) and closes after INDEX_IDLE_MS without one. This node's own writes are
 * applied as they commit (TaskStore tells it), so a task created here is listed at once; a
 * write on another node shows as soon as its watch event arrives (milliseconds). Each feed feeds
 * it under a generation of its own: a feed closed (idle, stop) or failed cannot touch what the
 * next one builds; a re-listing after a compaction holds reads until it is whole.
 */
export class TaskIndex {
  private readonly tasks = new Map<string, Entry>();
  /** Deleted definitions by the revision they went at: an older put arriving later is not a task. */
  private readonly gone = new Map<string, number>();
  private readonly last = new Map<string, LastOutcome & { key: string }>();
  private readonly inFlight = new Map<string, Map<string, number>>();
  private feed: Promise<{ close(): Promise<void> }> | null = null;
  /** The feed feeding this index now; calls of an older one are ignored. */
  private generation = 0;
  /** Parts being listed again (after a compaction): reads wait until they are whole. */
  private readonly loading = new Set<string>();
  private loaded: (() => void)[] = [];
  private usedMs = 0;
  private idle: (() => void) | null = null;
  private stopped = false;

  constructor(
    /** Opens the feed into this index (store/task-feed.ts openTaskFeed). */
    private readonly openFeed: (to: TaskFeedConsumer) => Promise<{ close(): Promise<void> }>,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly idleMs = INDEX_IDLE_MS,
  ) {}

  /** Filtered, ordered, paged; `total` matches the filter. By id, `after` is a cursor (the last id of a page). */
  async list(tenant: string, f: TaskFilter, limit: number, page: { after?: string; offset?: number; sort?: TaskOrder }): Promise<{ items: ListedTask[]; next?: string; total: number }> {
    await this.open();
    const now = this.clock.now();
    const sort = page.sort ?? 'id';
    const matching = orderTasks(
      [...this.tasks.values()].filter((e) => e.tenant === tenant && this.matches(e, f, now)),
      sort,
      now,
      { nextOf: (id) => this.nextOf(this.tasks.get(id)!, now), lastOf: (id) => this.last.get(id) },
    );
    const after = sort === 'id' && page.after !== undefined ? matching.filter((e) => Number(e.id) > Number(page.after)) : matching;
    const from = page.offset ?? 0;
    const shown = after.slice(from, from + limit);
    const items = shown.map((e) => this.listed(e, now));
    const more = after.length > from + limit;
    return { items, total: matching.length, ...(more && sort === 'id' ? { next: shown[shown.length - 1]!.id } : {}) };
  }

  /**
   * The tenant's enabled tasks that fire within (now, now + withinMs] (by each one's next
   * firing, kept between reads), as the upcoming firings read them: what fires next without a
   * schedule computed for every task on every read.
   */
  async firingWithin(tenant: string, now: number, withinMs: number): Promise<Pick<Task, 'id' | 'name' | 'group' | 'enabled' | 'schedule' | 'createdMs'>[]> {
    await this.open();
    const out: Entry[] = [];
    for (const e of this.tasks.values()) {
      if (e.tenant !== tenant) continue;
      const next = this.nextOf(e, now);
      if (next !== null && next <= now + withinMs) out.push(e);
    }
    return out;
  }

  /** This node wrote a definition (null: deleted) at `rev`. */
  readonly written = (id: string, task: Task | null, raw: string, rev: number): void => {
    if (this.feed) this.task(id, task, raw, rev, 'written');
  };

  /** Closes the feed. `final`: the node stops; no read opens it again. */
  async stop(final = true): Promise<void> {
    if (final) this.stopped = true;
    this.idle?.();
    this.idle = null;
    const feed = this.feed;
    this.feed = null;
    this.generation++; // what the closing feed still delivers goes nowhere
    if (feed) await (await feed.catch(() => null))?.close();
    this.clear();
  }

  /** A consumer for the feed of one generation: once another opens, its calls are dropped. */
  private consumer(gen: number): TaskFeedConsumer {
    const live = () => gen === this.generation;
    return {
      reset: (part) => {
        if (!live()) return;
        this.loading.add(part);
        if (part === 'tasks') this.tasks.clear();
        if (part === 'runs') this.last.clear();
        if (part === 'firings') this.inFlight.clear();
      },
      synced: (part) => {
        if (!live()) return;
        this.loading.delete(part);
        if (this.loading.size === 0) for (const go of this.loaded.splice(0)) go();
      },
      task: (id, task, raw, rev) => live() && this.task(id, task, raw, rev, 'watch'),
      run: (taskId, key, run) => live() && this.run(taskId, key, run),
      firing: (taskId, key, f) => live() && this.firing(taskId, key, f),
    };
  }

  private task(id: string, task: Task | null, raw: string, rev: number, from: 'watch' | 'written'): void {
    const had = this.tasks.get(id);
    const goneAt = this.gone.get(id);
    // The watch has come to a delete this node wrote: nothing older can come after it.
    if (from === 'watch' && goneAt !== undefined && rev >= goneAt) this.gone.delete(id);
    if ((had && had.rev >= rev) || (goneAt ?? 0) >= rev) return; // older than what is held
    if (!task) {
      this.tasks.delete(id);
      this.last.delete(id);
      this.inFlight.delete(id);
      if (from === 'written') this.gone.set(id, rev);
      return;
    }
    this.tasks.set(id, { id, tenant: task.tenant, name: task.name, ...(task.group !== undefined ? { group: task.group } : {}), enabled: task.enabled, kinds: taskKinds(task), schedule: task.schedule, createdMs: task.createdMs, raw, rev });
  }

  /** Runs and firings are kept for the tasks listed (a late record of a deleted task is not). */
  private run(taskId: string, key: string, run: Pick<Run, 'id' | 'state' | 'endedMs'> | null): void {
    const held = this.last.get(taskId);
    if (!run) {
      if (held?.key === key) this.last.delete(taskId); // its history cleared: no outcome to show
      return;
    }
    if (!FINAL_RUN_STATES.includes(run.state) || (held && held.key > key) || !this.tasks.has(taskId)) return;
    this.last.set(taskId, { key, runId: run.id, state: run.state, endedMs: run.endedMs ?? 0 });
  }

  private firing(taskId: string, key: string, f: Pick<Firing, 'state' | 'startedMs'> | null): void {
    let held = this.inFlight.get(taskId);
    if (f && f.state === 'running' && f.startedMs !== undefined && this.tasks.has(taskId)) {
      if (!held) this.inFlight.set(taskId, (held = new Map()));
      held.set(key, f.startedMs);
    } else if (held?.delete(key) && held.size === 0) this.inFlight.delete(taskId);
  }

  /** Opens the feed if it is not open (once for concurrent reads), keeps it open a while longer, and waits for a re-listing to finish. */
  private async open(): Promise<void> {
    if (this.stopped) throw new RotaError('UNAVAILABLE', 'this node is stopping');
    this.usedMs = this.clock.now();
    if (!this.feed) {
      const gen = ++this.generation;
      this.clear();
      const opening = this.openFeed(this.consumer(gen));
      this.feed = opening;
      opening.then(
        () => {
          if (this.feed === opening) this.armIdle();
        },
        (err: Error) => {
          if (this.feed !== opening) return;
          this.feed = null;
          this.generation++;
          this.clear();
          this.log.warn({ err: err.message }, 'task list index: reading the tasks failed (the next list read tries again)');
        },
      );
    }
    await this.feed;
    if (this.loading.size) await new Promise<void>((go) => this.loaded.push(go));
  }

  private armIdle(): void {
    this.idle?.();
    this.idle = this.clock.timeout(Math.max(1_000, this.usedMs + this.idleMs - this.clock.now()), () => {
      this.idle = null;
      if (this.clock.now() - this.usedMs < this.idleMs) return this.armIdle();
      this.log.info('task list index closed: no list read for a while');
      void this.stop(false);
    });
  }

  private clear(): void {
    this.tasks.clear();
    this.gone.clear();
    this.last.clear();
    this.inFlight.clear();
    this.loading.clear();
    for (const go of this.loaded.splice(0)) go();
  }

  private runningNow(id: string, now: number): number {
    let n = 0;
    for (const startedMs of this.inFlight.get(id)?.values() ?? []) if (startedMs <= now) n++;
    return n;
  }

  private matches(e: Entry, f: TaskFilter, now: number): boolean {
    if (!matchesDefinition(e, f)) return false;
    if (f.running !== undefined && this.runningNow(e.id, now) > 0 !== f.running) return false;
    if (f.lastOutcome !== undefined) {
      const last = this.last.get(e.id);
      if (!last || !f.lastOutcome.includes(last.state)) return false;
    }
    return true;
  }

  private nextOf(e: Entry, now: number): number | null {
    // Kept while still ahead and worked out at or before `now` (a read may come with an earlier now).
    if (!e.next || now < e.next.fromMs || (e.next.ms !== null && e.next.ms <= now)) e.next = { ms: nextFiringOf(e, now), fromMs: now };
    return e.next.ms;
  }

  private listed(e: Entry, now: number): ListedTask {
    const last = this.last.get(e.id);
    return { task: JSON.parse(e.raw) as Task, lastRun: last ? { runId: last.runId, state: last.state, endedMs: last.endedMs } : null, running: this.runningNow(e.id, now) };
  }
}

import type { EtcdHandle } from './etcd.js';
import { K, pad, parseRunId } from './keys.js';
import type { Run } from '../domain/task.js';
import { runInFlight, type Firing } from '../domain/firing.js';
import { eachKeyPage, listPrefix } from './watch.js';

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` to get the next page; absent on the last page. */
  next?: string;
}

/** Run history: one record per attempt under runs/{task}/{ms}-{attempt}, bounded by count and age. */
export class RunStore {
  constructor(private readonly h: EtcdHandle) {}

  /**
   * A run: the attempt a node holds right now as its firing shows it (claims write no record),
   * else its record.
   */
  async get(id: string): Promise<Run | null> {
    const p = parseRunId(id);
    if (!p) return null;
    const [v, f] = await Promise.all([this.h.ns.get(K.run(p.taskId, p.scheduledMs, p.attempt, p.replica)).string(), this.h.ns.get(K.firing(p.taskId, p.scheduledMs, p.replica)).string()]);
    const live = f ? runInFlight(JSON.parse(f) as Firing) : null;
    if (live && live.attempt === p.attempt) return live;
    return v ? (JSON.parse(v) as Run) : null;
  }

  /** The runs of a task's firings that nodes hold now, by run key (they override a record of the same attempt). */
  private async inFlight(taskId: string): Promise<Map<string, Run>> {
    const out = new Map<string, Run>();
    for (const kv of (await listPrefix(this.h, K.taskFirings(taskId))).kvs) {
      const run = runInFlight(JSON.parse(kv.value) as Firing);
      if (run) out.set(K.run(run.taskId, run.scheduledMs, run.attempt, run.replica ?? 0), run);
    }
    return out;
  }

  /**
   * Every task's runs by task id, with the runs in flight: two range reads in all (the run
   * records and the firings), for a log over many tasks (a read per task is 100k reads at 100k
   * tasks: minutes).
   */
  async allByTask(): Promise<Map<string, Run[]>> {
    const [{ kvs }, firings] = await Promise.all([listPrefix(this.h, K.runs), listPrefix(this.h, K.firings)]);
    const byKey = new Map<string, Run>(kvs.map((kv) => [kv.key, JSON.parse(kv.value) as Run]));
    for (const kv of firings.kvs) {
      const run = runInFlight(JSON.parse(kv.value) as Firing);
      if (run) byKey.set(K.run(run.taskId, run.scheduledMs, run.attempt, run.replica ?? 0), run);
    }
    const out = new Map<string, Run[]>();
    for (const k of [...byKey.keys()].sort()) {
      const run = byKey.get(k)!;
      const list = out.get(run.taskId);
      if (list) list.push(run);
      else out.set(run.taskId, [run]);
    }
    return out;
  }

  /** Newest first, with the runs in flight. `cursor` is the key of the last item of the previous page. */
  async listForTask(taskId: string, limit: number, cursor?: string): Promise<Page<Run>> {
    const prefix = K.taskRuns(taskId);
    let q = this.h.ns.getAll().sort('Key', 'Descend').limit(limit + 1);
    q = cursor ? q.inRange({ start: prefix, end: cursor }) : q.prefix(prefix);
    const [r, live] = await Promise.all([q.exec(), this.inFlight(taskId)]);
    const byKey = new Map<string, Run>(r.kvs.map((kv) => [kv.key.toString(), JSON.parse(kv.value.toString()) as Run]));
    for (const [k, run] of live) if (!cursor || k < cursor) byKey.set(k, run);
    // Records past the limit+1 fetched may hide in-flight runs older than them: those come on a later page.
    const floor = r.kvs.length > limit ? r.kvs[r.kvs.length - 1]!.key.toString() : '';
    const keys = [...byKey.keys()].filter((k) => k >= floor).sort().reverse();
    const page = keys.slice(0, limit);
    const items = page.map((k) => byKey.get(k)!);
    return keys.length > limit ? { items, next: page[page.length - 1]! } : { items };
  }

  /**
   * Notes on a run record when its callback was delivered. A compare-and-swap on the record as
   * read, repeated if its node rewrote it meanwhile (the run ending, say); a record pruned or
   * deleted meanwhile is left alone.
   */
  async markCallback(id: string, atMs: number): Promise<void> {
    const p = parseRunId(id);
    if (!p) return;
    const key = K.run(p.taskId, p.scheduledMs, p.attempt, p.replica);
    const { ns } = this.h;
    for (let i = 0; i < 5; i++) {
      const kv = (await ns.get(key).exec()).kvs[0];
      if (!kv) return;
      const run = JSON.parse(kv.value.toString()) as Run;
      if ((run.callbackMs ?? 0) >= atMs) return;
      const r = await ns.if(key, 'Mod', '==', Number(kv.mod_revision)).then(ns.put(key).value(JSON.stringify({ ...run, callbackMs: atMs }))).commit();
      if (r.succeeded) return;
    }
  }

  /** Every run of a task (its records, bounded by runs.keep, and the runs in flight), oldest first. */
  async allForTask(taskId: string): Promise<Run[]> {
    const [{ kvs }, live] = await Promise.all([listPrefix(this.h, K.taskRuns(taskId)), this.inFlight(taskId)]);
    const byKey = new Map<string, Run>(kvs.map((kv) => [kv.key, JSON.parse(kv.value) as Run]));
    for (const [k, run] of live) byKey.set(k, run);
    return [...byKey.keys()].sort().map((k) => byKey.get(k)!);
  }

  /**
   * Keeps the newest `keep` runs of a task and drops any older than `maxAgeMs` (by scheduled
   * time). Agents call it every 10th completion of a task, so the usual answer is "nothing to
   * do", and that costs two reads and no write (a write is a raft proposal on every member:
   * an unconditional range delete here was half of etcd's proposals at 1,000 firings/s). What
   * goes is always a run of oldest keys (keys sort by scheduled time), so it goes as one range
   * delete. Returns how many were deleted.
   */
  async prune(taskId: string, keep: number, maxAgeMs: number, nowMs: number): Promise<number> {
    const { ns } = this.h;
    const prefix = K.taskRuns(taskId);
    const ageEnd = prefix + pad(nowMs - maxAgeMs);
    const [count, oldest] = await Promise.all([ns.getAll().prefix(prefix).count(), ns.getAll().prefix(prefix).sort('Key', 'Ascend').limit(1).keys()]);
    const aged = oldest[0] !== undefined && oldest[0] < ageEnd;
    if (count <= keep && !aged) return 0;
    let end = ageEnd;
    if (count > keep) {
      // The oldest (count - keep) go: the range ends just after the last of them.
      const doomed = await ns.getAll().prefix(prefix).sort('Key', 'Ascend').limit(count - keep).keys();
      const past = doomed[doomed.length - 1]! + '\0';
      if (past > end) end = past;
    }
    const r = await ns.delete().inRange({ start: prefix, end }).exec();
    return Number(r.deleted ?? 0);
  }

  /**
   * Per task with run records: how many it has and the key of its oldest (keys sort by
   * scheduled time). Read as keys only, folded a page at a time: the janitor asks the store to
   * prune only the tasks this says are over a bound, instead of two calls for every task.
   */
  async runCounts(): Promise<Map<string, { count: number; oldestKey: string }>> {
    const out = new Map<string, { count: number; oldestKey: string }>();
    await eachKeyPage(this.h, K.runs, (keys) => {
      for (const k of keys) {
        const id = k.slice(K.runs.length, k.indexOf('/', K.runs.length));
        const have = out.get(id);
        if (have) have.count++;
        else out.set(id, { count: 1, oldestKey: k });
      }
    });
    return out;
  }

  /** Whether a task's runs, as runCounts saw them, pass the count or age bound. */
  static overBounds(taskId: string, seen: { count: number; oldestKey: string }, keep: number, maxAgeMs: number, nowMs: number): boolean {
    return seen.count > keep || seen.oldestKey < K.taskRuns(taskId) + pad(nowMs - maxAgeMs);
  }

  async deleteForTask(taskId: string): Promise<void> {
    await this.h.ns.delete().prefix(K.taskRuns(taskId)).exec();
  }
}

/**
 * Firings through an outage: K tasks each due every whole second (cron `* * * * * *`) report to
 * a Receiver; something is disrupted (a node killed, stopped, restarted; a worker killed); this
 * measures how long firings stopped and what was missed, duplicated or late around it.
 *
 * A second is complete when every task arrived within onTimeMs of it. Seconds written ahead
 * before a down event still complete, so firings resume at the first complete second after the
 * first incomplete one within 10 s of the event (and before the next down event).
 */
import type { Hit, Receiver } from '../../test/support/receiver.js';
import { analyze, sleep, type StepResult } from './common.js';

/** Something going down (kill / stop) or coming back (start), as it happened. */
export interface Disruption {
  label: string;
  down: boolean;
  atMs: number;
  /** The node led when it went down: the new leader and how long until a node named it. */
  newLeader?: string;
  leaderKnownMs?: number;
  /** Down events: from atMs to the first complete second after the gap; 0 if there was none. */
  resumeMs?: number;
  /** Start events: from the spawn to /readyz 200, and to the node's first claim (its /metrics). */
  readyMs?: number;
  claimingMs?: number;
}

export interface OutageOptions {
  onTimeMs: number;
  /** The window opens this long before the first event ... */
  beforeMs: number;
  /** ... and closes this long after firings are on time again following the last event. */
  afterMs: number;
  /** Missed = not received this long after the window closed. */
  settleMs: number;
  log: (...a: unknown[]) => void;
}

export interface Outage extends StepResult {
  events: Disruption[];
  /** Worst over the leader changes (NaN if none). */
  leaderKnownMs: number;
  /** Worst over the down events. */
  resumeMs: number;
  /** Seconds from the first event to the window's end at which not every task arrived on time. */
  stalledSeconds: number;
  /** Longest interval without any hit, from the first event to the window's end. */
  longestSilenceMs: number;
  /** (task, second) pairs in the window delivered more than once, whatever the attempt. */
  deliveredTwice: number;
  /** Missed pairs by scheduled second relative to the first event ("+3" = 3 s after it). */
  missedBySecond: Record<string, number>;
  windowFromMs: number;
  windowToMs: number;
}

export interface Observed {
  outage: Outage;
  /** The hits scheduled in the window. */
  hits: Hit[];
  /** The (task, second) pairs of the window nobody received. */
  missed: { taskId: string; scheduledMs: number }[];
}

export class OutageObserver {
  constructor(
    private readonly rx: Receiver,
    private readonly ids: string[],
    private readonly o: OutageOptions,
  ) {}

  /** Scheduled seconds in [fromMs, toMs) at which every task arrived within onTimeMs. */
  completeSeconds(hits: Hit[], fromMs: number, toMs: number): Set<number> {
    const want = new Set(this.ids);
    const per = new Map<number, Set<string>>();
    for (const h of hits) {
      if (!want.has(h.taskId) || h.scheduledMs < fromMs || h.scheduledMs >= toMs || h.receivedMs - h.scheduledMs >= this.o.onTimeMs) continue;
      let s = per.get(h.scheduledMs);
      if (!s) per.set(h.scheduledMs, (s = new Set()));
      s.add(h.taskId);
    }
    return new Set([...per].filter(([, s]) => s.size === want.size).map(([t]) => t));
  }

  /** Waits until `n` whole seconds in a row were complete, at or after `fromMs`; answers the first of them. */
  async waitSteady(n: number, fromMs: number, timeoutMs = 120_000): Promise<number | null> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const done = this.completeSeconds(this.rx.hits, fromMs, Date.now());
      let run = 0;
      for (let t = Math.ceil(fromMs / 1000) * 1000; t < Date.now(); t += 1000) {
        run = done.has(t) ? run + 1 : 0;
        if (run >= n) return t - (n - 1) * 1000;
      }
      await sleep(250);
    }
    return null;
  }

  /**
   * Clears the receiver, waits until every task is on time for a few seconds in a row, runs
   * `disrupt`, waits until firings are on time again, for the window's end and the settle, and
   * analyses the window.
   */
  async observe(name: string, disrupt: () => Promise<Disruption[]>): Promise<Observed> {
    const { rx, ids, o } = this;
    rx.hits = [];
    const clearedMs = Date.now();
    const steadyN = Math.max(5, Math.ceil(o.beforeMs / 1000) + 1);
    o.log(`${name}: waiting for ${steadyN} s in a row with all ${ids.length} tasks on time`);
    const steadyFrom = await this.waitSteady(steadyN, clearedMs);
    if (steadyFrom === null) o.log(`${name}: not steady after 120 s; going on`);
    const events = await disrupt();
    const firstMs = events[0]!.atMs;
    const lastMs = events[events.length - 1]!.atMs;
    o.log(`${name}: disrupted for ${Date.now() - firstMs} ms; waiting for an on-time second`);
    const resumedAt = (await this.waitSteady(1, lastMs, 60_000)) ?? Date.now();
    // Not before the hits were cleared (nor before the steady run: the window opens with a clean second).
    const windowFromMs = Math.max(Math.floor((firstMs - o.beforeMs) / 1000) * 1000, steadyFrom ?? Math.ceil(clearedMs / 1000) * 1000);
    const windowToMs = Math.ceil((Math.max(resumedAt, Date.now()) + o.afterMs) / 1000) * 1000;
    await sleep(windowToMs + o.settleMs - Date.now());
    const hits = rx.hits.filter((h) => h.scheduledMs >= windowFromMs && h.scheduledMs < windowToMs);
    const base = analyze(hits, ids, windowFromMs, windowToMs, { rate: ids.length, tasks: ids.length, seconds: (windowToMs - windowFromMs) / 1000, mode: 'cron' });
    const done = this.completeSeconds(hits, windowFromMs, windowToMs);
    const downs = events.filter((x) => x.down);
    downs.forEach((e, i) => {
      const until = Math.min(downs[i + 1]?.atMs ?? windowToMs, e.atMs + 10_000);
      let t = Math.ceil(e.atMs / 1000) * 1000;
      while (t < until && done.has(t)) t += 1000;
      if (t >= until) return void (e.resumeMs = 0);
      while (t < windowToMs && !done.has(t)) t += 1000;
      e.resumeMs = t < windowToMs ? t - e.atMs : NaN;
    });
    let stalledSeconds = 0;
    for (let t = Math.ceil(firstMs / 1000) * 1000; t < windowToMs; t += 1000) if (!done.has(t)) stalledSeconds++;
    const arrivals = rx.hits.filter((h) => h.receivedMs >= firstMs && h.receivedMs < windowToMs).map((h) => h.receivedMs);
    arrivals.sort((a, b) => a - b);
    let longestSilenceMs = 0;
    [firstMs, ...arrivals, windowToMs].reduce((prev, t) => ((longestSilenceMs = Math.max(longestSilenceMs, t - prev)), t));
    const pairs = new Map<string, number>();
    for (const h of hits) pairs.set(`${h.taskId}@${h.scheduledMs}`, (pairs.get(`${h.taskId}@${h.scheduledMs}`) ?? 0) + 1);
    const missed: Observed['missed'] = [];
    for (const id of ids) for (let t = windowFromMs; t < windowToMs; t += 1000) if (!pairs.has(`${id}@${t}`)) missed.push({ taskId: id, scheduledMs: t });
    const missedBySecond: Record<string, number> = {};
    for (const m of missed) {
      const k = Math.floor((m.scheduledMs - firstMs) / 1000);
      const key = k < 0 ? String(k) : `+${k}`;
      missedBySecond[key] = (missedBySecond[key] ?? 0) + 1;
    }
    const worst = (xs: (number | undefined)[]) => {
      const v = xs.filter((x): x is number => x !== undefined);
      return v.length ? Math.max(...v) : NaN;
    };
    const outage: Outage = {
      ...base,
      events,
      leaderKnownMs: worst(events.map((e) => e.leaderKnownMs)),
      resumeMs: worst(events.map((e) => e.resumeMs)),
      stalledSeconds,
      longestSilenceMs,
      deliveredTwice: [...pairs.values()].filter((n) => n > 1).length,
      missedBySecond,
      windowFromMs,
      windowToMs,
    };
    // Where the lateness sits: each second from just before the first event, by its hits.
    const bySecond: string[] = [];
    for (let t = Math.floor(firstMs / 1000) * 1000 - 1000; t < Math.min(windowToMs, firstMs + 20_000); t += 1000) {
      const late = hits.filter((h) => h.scheduledMs === t).map((h) => h.receivedMs - h.scheduledMs).sort((a, b) => a - b);
      if (late.length) bySecond.push(`${((t - firstMs) / 1000).toFixed(1)}s: p50 ${late[Math.floor(late.length / 2)]} max ${late[late.length - 1]}${late.length < ids.length ? ` (${late.length} hits)` : ''}`);
    }
    o.log(`${name}: lateness by second after the first event (ms): ${bySecond.join('; ')}`);
    o.log(`${name}: resume ${outage.resumeMs} ms, stalled ${stalledSeconds} s, missed ${outage.missed} ${JSON.stringify(missedBySecond)}, dup ${outage.duplicates}, twice ${outage.deliveredTwice}`);
    return { outage, hits, missed };
  }
}

import type { IKeyValue, Watcher } from 'etcd3';
import type { EtcdHandle } from './etcd.js';
import type { Logger } from '../log.js';
import { survive } from '../lib/survive.js';

export interface Kv {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  lease: string;
}

export interface KvEvent extends Kv {
  type: 'put' | 'delete';
}

export interface PrefixHandlers {
  /** The full current state under the prefix; replaces whatever the consumer held. */
  reset(kvs: Kv[], revision: number): void;
  /** One change after the snapshot, in revision order. */
  event(ev: KvEvent): void;
  /** The snapshot is whole (for a `paged` one: every key has come as a put). */
  synced?(): void;
}

export interface PrefixWatch {
  close(): Promise<void>;
  /** Number of times the watch stream reconnected or was re-listed. */
  readonly reconnects: number;
}

let reconnectsTotal = 0;

/** Watch streams re-established or re-listed in this process (for /metrics). */
export function watchReconnects(): number {
  return reconnectsTotal;
}

export function toKv(kv: IKeyValue): Kv {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    lease: String(kv.lease ?? '0'),
  };
}

/** Lists a prefix in pages (etcd refuses replies over its size limits). */
export async function listPrefix(h: EtcdHandle, prefix: string, pageSize = 5000): Promise<{ kvs: Kv[]; revision: number }> {
  return listRange(h, prefix, prefixEnd(prefix), pageSize);
}

/** Every key in [start, end), read in pages at one revision. */
export async function listRange(h: EtcdHandle, start: string, end: string, pageSize = 5000): Promise<{ kvs: Kv[]; revision: number }> {
  const out: Kv[] = [];
  const revision = await foldRange(h, start, end, (page) => (out.push(...page), true), pageSize);
  return { kvs: out, revision };
}

/**
 * Every key in [start, end), a page at a time to `each` (false: stop), all at the revision of
 * the first page, which it returns (even for an empty range). For a consumer that keeps little
 * of each value (a task's newest outcome of its whole run history) and must not hold them all.
 */
export async function foldRange(h: EtcdHandle, start: string, end: string, each: (page: Kv[], revision: number) => boolean, pageSize = 5000): Promise<number> {
  let revision = 0;
  let from = start;
  for (;;) {
    let q = h.ns.getAll().inRange({ start: from, end }).limit(pageSize);
    if (revision) q = q.revision(revision);
    const res = await q.exec();
    if (!revision) revision = Number(res.header.revision);
    const page = res.kvs.map(toKv);
    if (!each(page, revision) || !res.more || page.length === 0) return revision;
    from = page[page.length - 1]!.key + '\0';
  }
}

/**
 * The keys under a prefix, without their values, a page at a time to `each` (not at one
 * revision: a key present throughout is seen, one added or removed meanwhile may or may not
 * be). For sweeps that need only ids: 100k tasks cost a few MB here instead of their ~60 MB of
 * JSON, and a caller that folds each page never holds all the keys at once.
 */
export async function eachKeyPage(h: EtcdHandle, prefix: string, each: (keys: string[]) => void, pageSize = 10_000): Promise<void> {
  const end = prefixEnd(prefix);
  for (let from = prefix; ; ) {
    const page = await h.ns.getAll().inRange({ start: from, end }).limit(pageSize).keys();
    each(page);
    if (page.length < pageSize) return;
    from = page[page.length - 1]! + '\0';
  }
}

/** Every key under a prefix, without values (eachKeyPage, gathered). */
export async function listKeys(h: EtcdHandle, prefix: string, pageSize = 10_000): Promise<string[]> {
  const out: string[] = [];
  await eachKeyPage(h, prefix, (keys) => out.push(...keys), pageSize);
  return out;
}

export function prefixEnd(prefix: string): string {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      b[i]! += 1;
      return b.subarray(0, i + 1).toString();
    }
  }
  return '\0';
}

export interface WatchOptions {
  ignoreDeletes?: boolean;
  paged?: boolean;
  /**
   * With `paged`: what the snapshot holds instead of every key under the prefix (a part of it,
   * e.g. each task's newest run records), handed to `each` a page at a time; resolves to the
   * revision the watch goes on from (every change after it is delivered as an event).
   */
  snapshot?: (each: (page: Kv[], revision: number) => boolean) => Promise<number>;
}

/**
 * List-then-watch a prefix, hardened against the etcd3 1.1.2 hazards in etcd-notes.md:
 * - on reconnect the client resumes from the server's current revision, losing events:
 *   we keep our own resume revision (last delivered mod revision + 1) and put it back on
 *   the request each time the watcher (re)connects;
 * - a watch from a compacted revision is cancelled ("Watcher canceled"): we re-list, hand
 *   the consumer a fresh snapshot and watch again from after it;
 * - handler exceptions would be re-thrown by the client outside any try: we catch and log.
 * `ignoreDeletes` asks etcd not to send delete events at all (the snapshot is unaffected).
 * `paged`: the snapshot comes as reset([]) and then a put per key, read a page at a time, for a
 * prefix too large to hold whole whose consumer keeps little of each (`snapshot`: only a part).
 */
export async function watchPrefix(h: EtcdHandle, prefix: string, handlers: PrefixHandlers, log: Logger, opts: WatchOptions = {}): Promise<PrefixWatch> {
  let closed = false;
  let watcher: Watcher | null = null;
  let resume = 0;
  let reconnects = 0;

  const safe = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      log.error({ err, prefix }, 'watch handler failed');
    }
  };

  /**
   * Lists the prefix and hands the consumer the snapshot; the revision it was read at. A
   * function of its own so that no closure that outlives it (the watcher's handlers below)
   * shares a scope with the listed values: V8 keeps a scope's captured variables for as long as
   * any closure made in it lives, and 100k listed tasks are ~55 MB of raw JSON (leader-heap).
   */
  async function snapshot(): Promise<number | null> {
    if (opts.paged) return pagedSnapshot();
    const { kvs, revision } = await listPrefix(h, prefix);
    if (closed) return null;
    safe(() => handlers.reset(kvs, revision));
    return revision;
  }

  /** The snapshot a page at a time, one revision: reset with none, then each key as a put. */
  async function pagedSnapshot(): Promise<number | null> {
    let at = 0;
    const each = (page: Kv[], revision: number): boolean => {
      if (closed) return false;
      if (!at) safe(() => handlers.reset([], (at = revision)));
      for (const kv of page) safe(() => handlers.event({ type: 'put', ...kv }));
      return true;
    };
    const revision = await (opts.snapshot ? opts.snapshot(each) : foldRange(h, prefix, prefixEnd(prefix), each));
    if (!at && !closed) safe(() => handlers.reset([], (at = revision))); // nothing listed
    return closed ? null : at;
  }

  async function start(): Promise<void> {
    const revision = await snapshot();
    if (revision === null) return;
    if (handlers.synced) safe(() => handlers.synced!());
    resume = revision + 1;
    let builder = h.ns.watch().prefix(prefix).startRevision(String(resume));
    // A consumer that acts on puts only spares etcd and itself the delete events. (etcd3 1.1.2's
    // ignore() is an alias of only(): ignore('delete') would deliver the deletes alone.)
    if (opts.ignoreDeletes) builder = builder.only('put');
    const w = await builder.create();
    watcher = w;
    w.on('connecting', (req) => {
      (req as { start_revision?: string }).start_revision = String(resume);
    });
    w.on('disconnected', () => {
      reconnects++;
      reconnectsTotal++;
      log.warn({ prefix, resume }, 'watch disconnected; will resume');
    });
    // Whole responses, not single events: one revision may hold many events (a batched txn).
    w.on('data', (res) => {
      if (closed) return;
      const floor = resume;
      let max = 0;
      for (const ev of res.events ?? []) {
        const kv = toKv(ev.kv as IKeyValue);
        if (kv.modRevision < floor) continue; // already delivered before a reconnect
        max = Math.max(max, kv.modRevision);
        const type = String(ev.type).toLowerCase() === 'delete' ? 'delete' : 'put';
        safe(() => handlers.event({ type, ...kv }));
      }
      if (max) resume = max + 1;
    });
    w.on('error', (err: Error) => {
      if (closed || watcher !== w) return;
      reconnects++;
      reconnectsTotal++;
      log.warn({ prefix, err: err.message }, 'watch cancelled; re-listing');
      watcher = null;
      void survive(w.cancel(), log, 'watch.cancel', 'cancelling a failed watch failed');
      void restart();
    });
  }

  async function restart(): Promise<void> {
    while (!closed) {
      try {
        await start();
        return;
      } catch (err) {
        log.warn({ prefix, err: (err as Error).message }, 'watch restart failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  await start();
  return {
    get reconnects() {
      return reconnects;
    },
    async close() {
      closed = true;
      const w = watcher;
      watcher = null;
      if (w) await survive(w.cancel(), log, 'watch.close', 'cancelling a watch on close failed');
    },
  };
}

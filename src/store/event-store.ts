import { randomBytes } from 'node:crypto';
import type { EtcdHandle } from './etcd.js';
import { K, pad } from './keys.js';
import { listRange, prefixEnd } from './watch.js';
import type { AuditEvent } from '../domain/audit.js';

export { AUDIT_ACTIONS, type AuditAction, type AuditEvent } from '../domain/audit.js';

let seq = 0;

/** The audit log, per tenant, time-ordered keys; bounded by count and age. */
export class EventStore {
  constructor(private readonly h: EtcdHandle) {}

  async append(e: Omit<AuditEvent, 'id'>): Promise<AuditEvent> {
    // Time, then a per-process sequence (order within one millisecond), then a random tail
    // (no two nodes collide).
    const id = `${pad(e.atMs)}-${String(seq++ % 1_000_000).padStart(6, '0')}${randomBytes(2).toString('hex')}`;
    const ev: AuditEvent = { id, ...e };
    await this.h.ns.put(K.tenantEvents(e.tenant) + id).value(JSON.stringify(ev)).exec();
    return ev;
  }

  /** Newest first; `before` is an event id to page from. */
  async list(tenant: string, limit: number, before?: string, taskId?: string): Promise<{ items: AuditEvent[]; next?: string }> {
    const prefix = K.tenantEvents(tenant);
    const items: AuditEvent[] = [];
    let end = before ? prefix + before : undefined;
    for (;;) {
      let q = this.h.ns.getAll().sort('Key', 'Descend').limit(Math.max(limit * 2, 50));
      q = end ? q.inRange({ start: prefix, end }) : q.prefix(prefix);
      const r = await q.exec();
      for (const kv of r.kvs) {
        const ev = JSON.parse(kv.value.toString()) as AuditEvent;
        if (taskId && ev.taskId !== taskId) continue;
        items.push(ev);
        if (items.length > limit) break;
      }
      const lastKv = r.kvs[r.kvs.length - 1];
      if (items.length > limit || !r.more || !lastKv) break;
      end = lastKv.key.toString();
    }
    const page = items.slice(0, limit);
    return items.length > limit ? { items: page, next: page[page.length - 1]!.id } : { items: page };
  }

  /**
   * Every event of a tenant with atMs in [fromMs, toMs] (either bound optional), oldest first:
   * keys start with the time, so the bounds are a key range. The log is bounded by events.keep.
   */
  async range(tenant: string, fromMs?: number, toMs?: number): Promise<AuditEvent[]> {
    const prefix = K.tenantEvents(tenant);
    const start = fromMs === undefined ? prefix : prefix + pad(fromMs);
    const end = toMs === undefined ? prefixEnd(prefix) : prefix + pad(toMs + 1);
    return (await listRange(this.h, start, end)).kvs.map((kv) => JSON.parse(kv.value) as AuditEvent);
  }

  /** Deletes the given events of a tenant (by id). */
  async deleteIds(tenant: string, ids: string[]): Promise<void> {
    const { ns } = this.h;
    for (let i = 0; i < ids.length; i += 100) {
      await ns.if(K.taskSeq, 'Version', '>', -1).then(...ids.slice(i, i + 100).map((id) => ns.delete().key(K.tenantEvents(tenant) + id))).commit();
    }
  }

  /** Keeps the newest `keep` events per tenant and none older than maxAgeMs. */
  async prune(keep: number, maxAgeMs: number, nowMs: number): Promise<number> {
    const keys = (await this.h.ns.getAll().prefix(K.events).keys()).map(String);
    const byTenant = new Map<string, string[]>();
    for (const k of keys) {
      const t = k.slice(K.events.length).split('/')[0]!;
      (byTenant.get(t) ?? byTenant.set(t, []).get(t)!).push(k);
    }
    const doomed: string[] = [];
    for (const list of byTenant.values()) {
      list.sort().reverse();
      list.forEach((k, i) => {
        const ms = Number(k.slice(k.lastIndexOf('/') + 1, k.lastIndexOf('/') + 14));
        if (i >= keep || ms < nowMs - maxAgeMs) doomed.push(k);
      });
    }
    const { ns } = this.h;
    for (let i = 0; i < doomed.length; i += 100) {
      await ns.if(K.taskSeq, 'Version', '>', -1).then(...doomed.slice(i, i + 100).map((k) => ns.delete().key(k))).commit();
    }
    return doomed.length;
  }
}


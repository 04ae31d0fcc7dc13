import type { EtcdHandle } from './etcd.js';
import { K } from './keys.js';

/**
 * Requests any node writes for the leader or for another node: a manual trigger (the leader
 * turns it into a firing: LeaderFirings.consumeTrigger) and a kill request (the node running
 * the run kills it and removes the request).
 */
export class TriggerStore {
  constructor(private readonly h: EtcdHandle) {}

  /** Any node: asks the leader to fire a task now (`replace`: stopping its live runs first). Idempotent per (task, ms). */
  async requestTrigger(taskId: string, ms: number, params?: Record<string, unknown>, replace = false): Promise<boolean> {
    const { ns } = this.h;
    const key = K.trigger(taskId, ms);
    const r = await ns.if(key, 'Create', '==', 0).then(ns.put(key).value(JSON.stringify({ params: params ?? null, ...(replace ? { replace: true } : {}) }))).commit();
    return r.succeeded;
  }

  async hasTrigger(taskId: string, ms: number): Promise<boolean> {
    const r = await this.h.ns.get(K.trigger(taskId, ms)).exec();
    return r.kvs.length > 0;
  }

  /** Removes a trigger request that names no firing (the leader's clean-up of a malformed key). */
  async drop(key: string): Promise<void> {
    await this.h.ns.delete().key(key).exec();
  }

  /** Any node: asks the node running a run to kill it (reason: operator, stop, replace). */
  async requestKill(node: string, runId: string, reason = 'operator'): Promise<void> {
    await this.h.ns.put(K.killRequest(node, runId)).value(reason).exec();
  }
}

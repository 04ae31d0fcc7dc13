/**
 * Positive events for tests that assert something does NOT happen after a change (a pause, a
 * delete, a worker switched off): instead of sleeping "long enough", wait for an event that
 * proves the scheduler has moved past the change.
 */
import { randomBytes } from 'node:crypto';
import type { RotaNode } from '../../src/node.js';
import type { EtcdHandle } from '../../src/store/etcd.js';
import { K, parseFiringKey } from '../../src/store/keys.js';
import { waitFor } from './etcd.js';

/**
 * Resolves once the leader has applied every task change committed before the call. The leader
 * reads the tasks/ prefix on one watch, in revision order, so once it has planned a task created
 * now (moved that task's cursor past its creation instant), it has seen every earlier change
 * too. The witness is a one-shot `true` in a tenant of its own ("witness"), invisible to the
 * tenants the tests use.
 */
export async function leaderCaughtUp(node: RotaNode, h: EtcdHandle, what = 'the leader to plan a task created after the change'): Promise<void> {
  const w = await node.service.create({ tenant: 'witness' }, { name: `caught-up-${randomBytes(4).toString('hex')}`, schedule: { now: true }, action: { process: { command: 'true' } } });
  await waitFor(async () => (await cursorOf(h, w.id)) >= w.createdMs, what);
}

/** The schedule cursor of a task: the last instant the leader planned (only moves forward). */
export async function cursorOf(h: EtcdHandle, taskId: string): Promise<number> {
  const v = await h.ns.get(K.cursor(taskId)).string();
  if (v === null) throw new Error(`task ${taskId} has no cursor`);
  return Number(v);
}

/** The scheduled instants of a task's firings in etcd now (each lives until its last attempt has an outcome). */
export async function firingInstants(h: EtcdHandle, taskId: string): Promise<number[]> {
  const keys = await h.ns.getAll().prefix(K.taskFirings(taskId)).keys();
  return keys.map((k) => parseFiringKey(k)?.scheduledMs ?? NaN);
}

/**
 * Waits until no firing of the tasks is left in etcd: each one was dropped, or ran and has its
 * outcome (so an HTTP action's hit has landed, the request coming before the outcome). After
 * leaderCaughtUp() following a pause or a delete, nothing of these tasks can run any more.
 */
export async function noFiringsLeft(h: EtcdHandle, taskIds: string[], what: string): Promise<void> {
  await waitFor(async () => (await Promise.all(taskIds.map((id) => firingInstants(h, id)))).every((f) => f.length === 0), what);
}

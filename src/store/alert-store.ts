import type { EtcdHandle } from './etcd.js';
import { K } from './keys.js';

/** Which failure streak of a task was alerted about: one alert per streak, whichever node sees it first. */
export class AlertStore {
  constructor(private readonly h: EtcdHandle) {}

  /**
   * Records that the streak starting at `firstRunId` was alerted about. True for exactly one
   * caller per streak: the record is swapped in with a compare on the revision read, and a
   * caller that finds the streak recorded already (or loses the swap to it) gets false.
   */
  async claimStreak(taskId: string, firstRunId: string): Promise<boolean> {
    const { ns } = this.h;
    const key = K.alert(taskId);
    for (let i = 0; i < 5; i++) {
      const kv = (await ns.get(key).exec()).kvs[0];
      if (kv && kv.value.toString() === firstRunId) return false;
      const r = await ns.if(key, 'Mod', '==', kv ? Number(kv.mod_revision) : 0).then(ns.put(key).value(firstRunId)).commit();
      if (r.succeeded) return true;
    }
    return false;
  }
}

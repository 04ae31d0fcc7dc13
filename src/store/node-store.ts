import type { EtcdHandle } from './etcd.js';
import { K } from './keys.js';
import { listPrefix } from './watch.js';
import type { NodeRecord } from './session.js';
import type { Firing } from '../domain/firing.js';

/** Membership records, drain requests and the cluster-wide view of firings in flight. */
export class NodeStore {
  constructor(private readonly h: EtcdHandle) {}

  async list(): Promise<NodeRecord[]> {
    const { kvs } = await listPrefix(this.h, K.nodes);
    return kvs.map((kv) => JSON.parse(kv.value) as NodeRecord);
  }

  /** Whether the node's membership record still carries this lease (the incarnation is alive). */
  async holds(id: string, lease: string): Promise<boolean> {
    const v = await this.h.ns.get(K.node(id)).string();
    return !!v && (JSON.parse(v) as NodeRecord).lease === lease;
  }

  /** A drain request outlives the node's lease: a drained node stays drained across restarts until undrained. */
  async setDrain(id: string, on: boolean): Promise<void> {
    if (on) await this.h.ns.put(K.drain(id)).value(JSON.stringify({ sinceMs: Date.now() })).exec();
    else await this.h.ns.delete().key(K.drain(id)).exec();
  }

  async isDrained(id: string): Promise<boolean> {
    return (await this.h.ns.get(K.drain(id)).exec()).kvs.length > 0;
  }

  /** Firings assigned to or running on some node (the in-flight list an operator waits on). */
  async firingsInFlight(): Promise<Firing[]> {
    const { kvs } = await listPrefix(this.h, K.firings);
    return kvs.map((kv) => JSON.parse(kv.value) as Firing).filter((f) => (f.state === 'assigned' || f.state === 'running') && !!f.node);
  }
}

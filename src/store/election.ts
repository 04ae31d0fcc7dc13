import type { EtcdHandle } from './etcd.js';
import { K } from './keys.js';
import type { NodeSession } from './session.js';
import type { Logger } from '../log.js';
import { survive, type SurvivedCounter } from '../lib/survive.js';

/** The fencing token: the leader's election key and the revision that created it. */
export interface Fence {
  key: string;
  createRevision: number;
}

export interface Leadership {
  fence: Fence;
  /** Aborted as soon as this node learns it no longer leads. */
  lost: AbortSignal;
  resign(): Promise<void>;
}

/**
 * Leader election on the node's own lease: each candidate creates election/{lease} and the
 * lowest create revision leads. Not etcd3's Election: we need the create revision as a fencing
 * token and the node's lease (one incarnation = one lease) rather than a second one.
 */
export async function campaign(h: EtcdHandle, session: NodeSession, nodeId: string, signal: AbortSignal, log: Logger, count?: SurvivedCounter): Promise<Leadership | null> {
  const key = K.election + session.leaseId;
  const res = await h.ns
    .if(key, 'Create', '==', 0)
    .then(h.ns.put(key).value(nodeId).lease(session.leaseNumeric))
    .else(h.ns.get(key))
    .commit();
  let myRev: number;
  if (res.succeeded) myRev = Number(res.header.revision);
  else myRev = Number(res.responses[0]?.response_range?.kvs[0]?.create_revision ?? 0);
  if (!myRev) throw new Error('election key vanished while campaigning');

  for (;;) {
    if (signal.aborted || !session.alive()) return null;
    const ahead = await h.ns
      .getAll()
      .prefix(K.election)
      .maxCreateRevision(String(myRev - 1))
      .sort('Create', 'Descend')
      .limit(1)
      .exec();
    const mine = await h.ns.get(key).exec();
    if (mine.kvs.length === 0) return null; // our lease went away
    const prev = ahead.kvs[0];
    if (!prev) break;
    await waitDeleted(h, prev.key.toString(), Number(ahead.header.revision), signal, log, count);
  }

  if (signal.aborted || !session.alive()) {
    // Stopped while waiting our turn: never take leadership on the way out.
    await survive(h.ns.delete().key(key).exec(), log, 'election.withdraw', 'withdrawing from the election failed (the key goes with the lease)', count);
    return null;
  }
  const lostCtl = new AbortController();
  const watcher = await h.ns.watch().key(key).create();
  const onGone = (why: string) => {
    if (lostCtl.signal.aborted) return;
    if (why === 'resigned') log.info({ key }, 'resigned leadership');
    else log.warn({ key, why }, 'leadership lost');
    lostCtl.abort(why);
    void survive(watcher.cancel(), log, 'election.watch-cancel', 'cancelling the election watch failed', count);
  };
  watcher.on('delete', () => onGone('election key deleted'));
  watcher.on('error', () => onGone('election watch failed'));
  session.once('lost', () => onGone('lease lost'));
  // The key may have gone between the check and the watch.
  const still = await h.ns.get(key).exec();
  if (still.kvs.length === 0 || Number(still.kvs[0]!.create_revision) !== myRev) onGone('election key missing');

  return {
    fence: { key, createRevision: myRev },
    lost: lostCtl.signal,
    async resign() {
      onGone('resigned');
      await survive(h.ns.delete().key(key).exec(), log, 'election.resign', 'deleting the election key on resign failed (the next leader waits for the lease instead)', count);
    },
  };
}

async function waitDeleted(h: EtcdHandle, key: string, revision: number, signal: AbortSignal, log: Logger, count?: SurvivedCounter): Promise<void> {
  const w = await h.ns.watch().key(key).startRevision(String(revision + 1)).create();
  try {
    await new Promise<void>((resolve) => {
      w.on('delete', () => resolve());
      w.on('error', () => resolve());
      signal.addEventListener('abort', () => resolve(), { once: true });
      // Poll as a backstop against a silently broken stream.
      const t = setInterval(async () => {
        const r = await h.ns.get(key).exec().catch((err: Error) => {
          log.warn({ err: err.message, key }, 'polling the election key ahead failed');
          count?.('election.poll');
          return null;
        });
        if (r && r.kvs.length === 0) resolve();
      }, 2000);
      w.once('end', () => clearInterval(t));
      signal.addEventListener('abort', () => clearInterval(t), { once: true });
      const done = () => clearInterval(t);
      w.on('delete', done);
      w.on('error', done);
    });
  } finally {
    await survive(w.cancel(), log, 'election.watch-cancel', 'cancelling the watch of the key ahead failed', count);
  }
}

/** The current leader's node id and key, or null. */
export async function currentLeader(h: EtcdHandle): Promise<{ nodeId: string; key: string; createRevision: number } | null> {
  const r = await h.ns.getAll().prefix(K.election).sort('Create', 'Ascend').limit(1).exec();
  const kv = r.kvs[0];
  if (!kv) return null;
  return { nodeId: kv.value.toString(), key: kv.key.toString(), createRevision: Number(kv.create_revision) };
}

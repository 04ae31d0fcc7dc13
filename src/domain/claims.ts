/**
 * A node claims an assignment as soon as it sees it (the claim is one transaction, batched per
 * node); a node that has claimed nothing since an assignment was made, for this long, has stopped
 * (killed, frozen, cut off): its lease only says so once it expires, seconds later.
 */
export const CLAIM_DEADLINE_MS = 1000;

/** The deadline never grows past this: a dead node is still found before its lease (TTL 5 s) expires. */
export const MAX_CLAIM_DEADLINE_MS = 4000;

/** A slow claim's weight halves every this long (claimDeadline). */
export const CLAIM_DELAY_HALF_LIFE_MS = 10_000;

/** The slowest recent claim (ms from the assignment seen to the claim seen), as of `atMs`. */
export interface SlowClaim {
  delayMs: number;
  atMs: number;
}

/** Pure: the slowest recent claim once `sample` is seen at nowMs (the older one decays by half-lives). */
export function slowerClaim(prev: SlowClaim, sampleMs: number, nowMs: number, halfLifeMs = CLAIM_DELAY_HALF_LIFE_MS): SlowClaim {
  return { delayMs: Math.max(sampleMs, decayed(prev, nowMs, halfLifeMs)), atMs: nowMs };
}

/** Pure: the slowest recent claim as of nowMs (decayed by half-lives since it was seen). */
export function decayed(s: SlowClaim, nowMs: number, halfLifeMs = CLAIM_DELAY_HALF_LIFE_MS): number {
  return s.delayMs * 0.5 ** (Math.max(0, nowMs - s.atMs) / halfLifeMs);
}

/**
 * Pure: how long an assignment may wait for its node's first claim before the node counts as
 * silent: twice the slowest recent claim in the cluster, never under CLAIM_DEADLINE_MS nor over
 * MAX_CLAIM_DEADLINE_MS. A fixed second called nodes silent under overload, where every claim
 * takes a second or more (etcd's txn p99 passed 1 s at 1,000 firings/s on two shared cores):
 * their firings were moved, the moves were more writes on a saturated etcd, and 1,000 firings/s
 * fell from p50 51 ms to 949 ms (cluster-load, same machine). A killed node makes no claims, so
 * it does not stretch the deadline that finds it.
 */
export function claimDeadline(slow: SlowClaim, nowMs: number, halfLifeMs = CLAIM_DELAY_HALF_LIFE_MS): number {
  return Math.min(MAX_CLAIM_DEADLINE_MS, Math.max(CLAIM_DEADLINE_MS, 2 * decayed(slow, nowMs, halfLifeMs)));
}

/** A silent node gets no new work for this long, unless it claims something before. */
export const SILENCE_HOLD_MS = 10_000;

/** An assignment not claimed yet, as the leader saw it. */
export interface Unclaimed {
  lease: string;
  sinceMs: number;
}

/**
 * How many of `live` nodes may be silent at once: one of two, else fewer than half. Under
 * overload every node falls behind on its claims now and then; calling most of them silent
 * would pour all new work onto the rest (a soak at 300 firings/s did that to a node just
 * restarted, which then lost its lease).
 */
export function maxSilent(live: number): number {
  return live <= 2 ? Math.max(0, live - 1) : Math.floor((live - 1) / 2);
}

/**
 * Pure: the leases whose nodes are silent at nowMs. A lease is silent when one of its
 * assignments has waited `deadlineMs` and its node has claimed nothing since that assignment was
 * seen (a node that is merely slow still claims, in order), and stays silent (`since`) until it
 * claims again or `holdMs` passes. At most `maxSilent` of the live leases, those silent longest
 * (already silent first, then by their oldest unclaimed assignment).
 */
export function silentLeases(
  unclaimed: Iterable<Unclaimed>,
  lastClaimMs: ReadonlyMap<string, number>,
  since: ReadonlyMap<string, number>,
  live: ReadonlySet<string>,
  nowMs: number,
  deadlineMs = CLAIM_DEADLINE_MS,
  holdMs = SILENCE_HOLD_MS,
): Map<string, number> {
  const claimedSince = (lease: string, ms: number) => (lastClaimMs.get(lease) ?? -Infinity) >= ms;
  // Per candidate: since when it is silent (kept), and how old its evidence is (for the cap).
  const found = new Map<string, { from: number; evidenceMs: number }>();
  for (const [lease, from] of since) {
    if (live.has(lease) && nowMs - from < holdMs && !claimedSince(lease, from)) found.set(lease, { from, evidenceMs: -Infinity });
  }
  for (const u of unclaimed) {
    if (!live.has(u.lease) || nowMs - u.sinceMs < deadlineMs || claimedSince(u.lease, u.sinceMs)) continue;
    const had = found.get(u.lease);
    if (!had) found.set(u.lease, { from: nowMs, evidenceMs: u.sinceMs });
    else if (had.evidenceMs > u.sinceMs) had.evidenceMs = u.sinceMs;
  }
  const kept = [...found].sort((a, b) => a[1].from - b[1].from || a[1].evidenceMs - b[1].evidenceMs).slice(0, maxSilent(live.size));
  return new Map(kept.map(([lease, c]) => [lease, c.from]));
}

/**
 * A node claims an assignment as soon as it sees it (the claim is one transaction, batched per
 * node); a node that has claimed nothing since an assignment was made, for this long, has stopped
 * (killed, frozen, cut off): its lease only says so once it expires, seconds later.
 */
export const CLAIM_DEADLINE_MS = 1000;

/** A silent node gets no new work for this long, unless it claims something before. */
export const SILENCE_HOLD_MS = 10_000;

/** An assignment not claimed yet, as the leader saw it. */
export interface Unclaimed {
  lease: string;
  sinceMs: number;
}

/**
 * Pure: the leases whose nodes are silent at nowMs. A lease is silent when one of its
 * assignments has waited `deadlineMs` and its node has claimed nothing since that assignment was
 * seen (a node that is merely slow still claims, in order), and stays silent (`since`) until it
 * claims again or `holdMs` passes. Never every live lease: with all of them silent the fault is
 * more likely the leader's own view, and there is nowhere better to send the work.
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
  const out = new Map<string, number>();
  const claimedSince = (lease: string, ms: number) => (lastClaimMs.get(lease) ?? -Infinity) >= ms;
  for (const [lease, from] of since) {
    if (live.has(lease) && nowMs - from < holdMs && !claimedSince(lease, from)) out.set(lease, from);
  }
  for (const u of unclaimed) {
    if (out.has(u.lease) || !live.has(u.lease)) continue;
    if (nowMs - u.sinceMs >= deadlineMs && !claimedSince(u.lease, u.sinceMs)) out.set(u.lease, nowMs);
  }
  return out.size >= live.size ? new Map() : out;
}

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

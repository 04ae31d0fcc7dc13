/**
 * Clock skew between nodes (pure). Rota fires by each node's wall clock, so a node whose clock
 * is off by seconds would start its firings early or late. Every node publishes its clock
 * reading every few seconds; each one compares the others' readings with its own clock when it
 * receives them (the delivery takes milliseconds, far below the threshold) and works out how far
 * its clock is from the cluster's median. A node off by more than the threshold claims nothing
 * until it is back within it.
 */

/** Default threshold (config node.maxClockSkewMs). */
export const MAX_CLOCK_SKEW_MS = 500;

/** The median of this node's own 0 and the others' values. */
function withMine(othersMinusMine: number[]): number {
  const all = [0, ...othersMinusMine].sort((a, b) => a - b);
  const mid = all.length >> 1;
  return all.length % 2 ? all[mid]! : (all[mid - 1]! + all[mid]!) / 2;
}

/** How far this node's clock is ahead of the median of all clocks (ms; negative: behind). Null with fewer than three clocks: two cannot tell which one is off. */
export function clockOffsetMs(othersMinusMine: number[]): number | null {
  if (othersMinusMine.length < 2) return null;
  return Math.round(-withMine(othersMinusMine));
}

/** What this node can tell of another's clock: (theirs - mine) lies within [loMs, hiMs]. */
export interface ClockBounds {
  loMs: number;
  hiMs: number;
}

/**
 * Pure: bounds on (theirs - mine) from one reading each way through etcd (NTP's reasoning). Their
 * reading reached me `mineLateMs` after they took it, as my clock counts (my arrival - their
 * reading = mine - theirs + a delay >= 0); mine reached them `theirsLateMs` late, as theirs
 * counts (theirs - mine + a delay >= 0). So -mineLateMs <= theirs - mine <= theirsLateMs,
 * whatever the delays were: a node whose writes or watch lag under load widens the bounds and
 * does not move them. A one-way estimate corrected by this node's own lag (the only thing
 * available before) took the other node's slow writes for a clock that is off: under 2,000
 * firings/s every node in turn found itself 0.5-1.6 s off, stopped claiming and gave up
 * leading.
 */
export function clockBounds(mineLateMs: number, theirsLateMs: number): ClockBounds {
  return { loMs: -mineLateMs, hiMs: theirsLateMs };
}

/** The middle of each peer's bounds: the estimate clockOffsetMs takes. */
export const midpoint = (b: ClockBounds): number => (b.loMs + b.hiMs) / 2;

/**
 * Pure: whether this node's clock is surely off from the cluster's median by more than
 * maxSkewMs: the median of the others' lower bounds (with its own 0) is above the threshold, or
 * the median of their upper bounds below its negative (each true difference lies within its
 * bounds, so the true median lies between those two medians). Fewer than three clocks: never.
 */
export function surelySkewed(bounds: ClockBounds[], maxSkewMs: number): boolean {
  if (bounds.length < 2) return false;
  return withMine(bounds.map((b) => b.loMs)) > maxSkewMs || withMine(bounds.map((b) => b.hiMs)) < -maxSkewMs;
}

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

/** How far this node's clock is ahead of the median of all clocks (ms; negative: behind). Null with fewer than three clocks: two cannot tell which one is off. */
export function clockOffsetMs(othersMinusMine: number[]): number | null {
  if (othersMinusMine.length < 2) return null;
  const all = [0, ...othersMinusMine].sort((a, b) => a - b);
  const mid = all.length >> 1;
  const median = all.length % 2 ? all[mid]! : (all[mid - 1]! + all[mid]!) / 2;
  return Math.round(-median);
}

export function clockSkewed(offsetMs: number | null, maxSkewMs: number): boolean {
  return offsetMs !== null && Math.abs(offsetMs) > maxSkewMs;
}

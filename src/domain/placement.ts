import type { Placement } from './task.js';

export interface NodeInfo {
  id: string;
  lease: string;
  state: 'active' | 'draining';
  attributes: Record<string, string>;
  capacity: number;
  /** Firings assigned to or running on it now. */
  load: number;
  /** What the node offers (absent: not limited) and what its assigned or running firings requested. */
  cpu?: number;
  memMb?: number;
  usedCpu?: number;
  usedMemMb?: number;
  /** Container runtimes it can run images with (docker, podman); none: no container work. */
  runtimes?: string[];
  /** Its clock is off from the others' (domain/clock-skew.ts): it takes no work until it is back. */
  clockSkewed?: boolean;
}

/** A node (re)started this recently is warming up: it gets its share of new work, not all of it. */
export const WARMUP_MS = 10_000;

/**
 * Pure: least-loaded placement would send a node that just started (load 0) every new firing
 * until it caught up with the others: at 300 firings/s that is 150 firings in one instant on a
 * process still cold, which then fell behind on everything, keepalives included, and lost its
 * lease (soak). A warming node counts as loaded like the others on average, so it takes its
 * share from the start. Nothing changes when every node is warming (a new leader's first view).
 */
export function warmedUp(nodes: NodeInfo[], warming: (n: NodeInfo) => boolean): NodeInfo[] {
  const warm = nodes.filter((n) => !warming(n));
  if (warm.length === 0 || warm.length === nodes.length) return nodes;
  const ratio = warm.reduce((a, n) => a + n.load / Math.max(1, n.capacity), 0) / warm.length;
  return nodes.map((n) => (warming(n) ? { ...n, load: Math.max(n.load, Math.round(ratio * Math.max(1, n.capacity))) } : n));
}

/** What a firing needs of its node beyond its placement rules. */
export interface Needs {
  /** A container runtime. */
  container?: boolean;
}

/** Does the request fit beside what already runs there? */
export function fits(n: NodeInfo, requests: Placement['requests']): boolean {
  const cpu = requests?.cpu ?? 0;
  const mem = requests?.memMb ?? 0;
  if (n.cpu !== undefined && cpu > 0 && (n.usedCpu ?? 0) + cpu > n.cpu + 1e-9) return false;
  if (n.memMb !== undefined && mem > 0 && (n.usedMemMb ?? 0) + mem > n.memMb) return false;
  return true;
}

/**
 * Nodes a task may run on: active with its clock in line, allowed by name, not excluded, attributes matching exactly,
 * each constraint's attribute among its allowed values, its cpu/mem request fitting beside what
 * runs there, and a container runtime when it needs one.
 */
export function eligibleNodes(nodes: NodeInfo[], p: Placement, needs: Needs = {}): NodeInfo[] {
  return nodes.filter((n) => {
    if (n.state !== 'active' || n.clockSkewed) return false;
    if (p.nodes && p.nodes.length > 0 && !p.nodes.includes(n.id)) return false;
    if (p.excludeNodes?.includes(n.id)) return false;
    for (const [k, v] of Object.entries(p.attributes ?? {})) if (n.attributes[k] !== v) return false;
    for (const [k, allowed] of Object.entries(p.constraints ?? {})) {
      const v = n.attributes[k];
      if (v === undefined || !allowed.includes(v)) return false;
    }
    if (needs.container && !n.runtimes?.length) return false;
    return fits(n, p.requests);
  });
}

/**
 * Picks the node for one firing. `turn` is a counter the caller advances (round-robin and
 * tie-breaks); `random` is injected so tests are deterministic.
 */
export function chooseNode(nodes: NodeInfo[], p: Placement, turn: number, random: () => number, needs: Needs = {}): NodeInfo | null {
  const ok = eligibleNodes(nodes, p, needs).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (ok.length === 0) return null;
  switch (p.strategy) {
    case 'random':
      return ok[Math.floor(random() * ok.length) % ok.length]!;
    case 'round-robin':
      return ok[turn % ok.length]!;
    case 'least-loaded': {
      const ratio = (n: NodeInfo) => n.load / Math.max(1, n.capacity);
      const min = Math.min(...ok.map(ratio));
      const best = ok.filter((n) => ratio(n) === min);
      return best[turn % best.length]!;
    }
  }
}

/** Charges a placed firing's request to its node, so the next placement in the same step sees it. */
export function charge(n: NodeInfo, requests: Placement['requests']): void {
  n.load++;
  if (requests?.cpu) n.usedCpu = (n.usedCpu ?? 0) + requests.cpu;
  if (requests?.memMb) n.usedMemMb = (n.usedMemMb ?? 0) + requests.memMb;
}

import type { Placement } from './task.js';

export interface NodeInfo {
  id: string;
  lease: string;
  state: 'active' | 'draining';
  attributes: Record<string, string>;
  capacity: number;
  /** Firings assigned to or running on it now. */
  load: number;
}

/** Nodes a task may run on: active, allowed by name, not excluded, attributes matching. */
export function eligibleNodes(nodes: NodeInfo[], p: Placement): NodeInfo[] {
  return nodes.filter((n) => {
    if (n.state !== 'active') return false;
    if (p.nodes && p.nodes.length > 0 && !p.nodes.includes(n.id)) return false;
    if (p.excludeNodes?.includes(n.id)) return false;
    for (const [k, v] of Object.entries(p.attributes ?? {})) if (n.attributes[k] !== v) return false;
    return true;
  });
}

/**
 * Picks the node for one firing. `turn` is a counter the caller advances (round-robin and
 * tie-breaks); `random` is injected so tests are deterministic.
 */
export function chooseNode(nodes: NodeInfo[], p: Placement, turn: number, random: () => number): NodeInfo | null {
  const ok = eligibleNodes(nodes, p).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
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

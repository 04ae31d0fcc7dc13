import { expect } from 'chai';
import { charge, chooseNode, eligibleNodes, fits, warmedUp, type NodeInfo } from '../../src/domain/placement.js';
import type { Placement } from '../../src/domain/task.js';

function node(id: string, over: Partial<NodeInfo> = {}): NodeInfo {
  return { id, lease: `lease-${id}`, state: 'active', attributes: {}, capacity: 10, load: 0, ...over };
}

const ids = (ns: NodeInfo[]) => ns.map((n) => n.id);
const never = () => {
  throw new Error('random must not be used');
};

describe('eligibleNodes', () => {
  const rr: Placement = { strategy: 'round-robin' };

  it('excludes draining nodes', () => {
    const nodes = [node('a'), node('b', { state: 'draining' }), node('c')];
    expect(ids(eligibleNodes(nodes, rr))).to.deep.equal(['a', 'c']);
  });

  it('honours the nodes allowlist; an empty list means any node', () => {
    const nodes = [node('a'), node('b'), node('c')];
    expect(ids(eligibleNodes(nodes, { ...rr, nodes: ['c', 'a', 'zz'] }))).to.deep.equal(['a', 'c']);
    expect(ids(eligibleNodes(nodes, { ...rr, nodes: [] }))).to.deep.equal(['a', 'b', 'c']);
  });

  it('drops excluded nodes, also when they are allowlisted', () => {
    const nodes = [node('a'), node('b'), node('c')];
    expect(ids(eligibleNodes(nodes, { ...rr, excludeNodes: ['b'] }))).to.deep.equal(['a', 'c']);
    expect(ids(eligibleNodes(nodes, { ...rr, nodes: ['a', 'b'], excludeNodes: ['a'] }))).to.deep.equal(['b']);
  });

  it('requires every requested attribute to match exactly (hostname, rack)', () => {
    const nodes = [
      node('a', { attributes: { hostname: 'h1', rack: 'r1' } }),
      node('b', { attributes: { hostname: 'h2', rack: 'r1' } }),
      node('c', { attributes: { hostname: 'h3', rack: 'r2', gpu: 'yes' } }),
      node('d'),
    ];
    expect(ids(eligibleNodes(nodes, { ...rr, attributes: { rack: 'r1' } }))).to.deep.equal(['a', 'b']);
    expect(ids(eligibleNodes(nodes, { ...rr, attributes: { rack: 'r1', hostname: 'h2' } }))).to.deep.equal(['b']);
    expect(ids(eligibleNodes(nodes, { ...rr, attributes: { hostname: 'h3' } }))).to.deep.equal(['c']);
    expect(ids(eligibleNodes(nodes, { ...rr, attributes: { rack: 'r9' } }))).to.deep.equal([]);
    expect(ids(eligibleNodes(nodes, { ...rr, attributes: {} }))).to.deep.equal(['a', 'b', 'c', 'd']);
  });

  it('combines all filters', () => {
    const nodes = [
      node('a', { attributes: { rack: 'r1' } }),
      node('b', { attributes: { rack: 'r1' }, state: 'draining' }),
      node('c', { attributes: { rack: 'r1' } }),
      node('d', { attributes: { rack: 'r1' } }),
      node('e', { attributes: { rack: 'r2' } }),
    ];
    const p: Placement = { strategy: 'random', nodes: ['a', 'b', 'c', 'e'], excludeNodes: ['c'], attributes: { rack: 'r1' } };
    expect(ids(eligibleNodes(nodes, p))).to.deep.equal(['a']);
  });
});

describe('chooseNode', () => {
  it('returns null when no node is eligible, for every strategy', () => {
    const nodes = [node('a', { state: 'draining' }), node('b', { attributes: { rack: 'r2' } })];
    for (const strategy of ['random', 'round-robin', 'least-loaded'] as const) {
      expect(chooseNode([], { strategy }, 0, () => 0), strategy).to.equal(null);
      expect(chooseNode(nodes, { strategy, attributes: { rack: 'r1' } }, 0, () => 0), strategy).to.equal(null);
    }
  });

  it('round-robin cycles through the eligible nodes in id order', () => {
    const nodes = [node('c'), node('a'), node('b', { state: 'draining' }), node('d')];
    const picks = [0, 1, 2, 3, 4, 5, 6].map((turn) => chooseNode(nodes, { strategy: 'round-robin' }, turn, never)!.id);
    expect(picks).to.deep.equal(['a', 'c', 'd', 'a', 'c', 'd', 'a']);
  });

  it('round-robin ignores load', () => {
    const nodes = [node('a', { load: 100 }), node('b')];
    expect(chooseNode(nodes, { strategy: 'round-robin' }, 0, never)!.id).to.equal('a');
  });

  it('does not reorder the caller’s node list', () => {
    const nodes = [node('c'), node('a'), node('b')];
    chooseNode(nodes, { strategy: 'round-robin' }, 0, never);
    expect(ids(nodes)).to.deep.equal(['c', 'a', 'b']);
  });

  it('least-loaded picks the lowest load/capacity ratio', () => {
    const nodes = [
      node('a', { load: 5, capacity: 10 }), // 0.5
      node('b', { load: 3, capacity: 4 }), // 0.75
      node('c', { load: 8, capacity: 40 }), // 0.2
      node('d', { load: 1, capacity: 2 }), // 0.5
    ];
    for (let turn = 0; turn < 4; turn++) expect(chooseNode(nodes, { strategy: 'least-loaded' }, turn, never)!.id).to.equal('c');
  });

  it('least-loaded compares ratios, not absolute loads', () => {
    const nodes = [node('big', { load: 10, capacity: 100 }), node('small', { load: 1, capacity: 2 })];
    expect(chooseNode(nodes, { strategy: 'least-loaded' }, 0, never)!.id).to.equal('big');
  });

  it('least-loaded treats a capacity below 1 as 1', () => {
    const nodes = [node('a', { load: 1, capacity: 0 }), node('b', { load: 2, capacity: 10 })];
    expect(chooseNode(nodes, { strategy: 'least-loaded' }, 0, never)!.id).to.equal('b');
  });

  it('least-loaded breaks ties by turn among the tied nodes in id order', () => {
    const nodes = [node('d', { load: 1 }), node('b', { load: 2, capacity: 20 }), node('c', { load: 5 }), node('a', { load: 1 })];
    // a, b and d all have ratio 0.1; c has 0.5
    const picks = [0, 1, 2, 3, 4].map((turn) => chooseNode(nodes, { strategy: 'least-loaded' }, turn, never)!.id);
    expect(picks).to.deep.equal(['a', 'b', 'd', 'a', 'b']);
  });

  it('least-loaded skips ineligible nodes even when they are idle', () => {
    const nodes = [node('a', { load: 0, state: 'draining' }), node('b', { load: 9 }), node('c', { load: 0 })];
    expect(chooseNode(nodes, { strategy: 'least-loaded', excludeNodes: ['c'] }, 0, never)!.id).to.equal('b');
  });

  it('random indexes the id-sorted eligible nodes with the injected random', () => {
    const nodes = [node('c'), node('a'), node('x', { state: 'draining' }), node('b')];
    const pick = (r: number) => chooseNode(nodes, { strategy: 'random' }, 0, () => r)!.id;
    const picks: [number, string][] = [[0, 'a'], [0.33, 'a'], [0.34, 'b'], [0.5, 'b'], [0.67, 'c'], [0.999999, 'c']];
    for (const [r, id] of picks) expect(pick(r), `random() = ${r}`).to.equal(id);
  });

  it('random calls the injected function once per choice and ignores the turn', () => {
    let calls = 0;
    const random = () => {
      calls++;
      return 0.9;
    };
    const nodes = [node('a'), node('b')];
    expect(chooseNode(nodes, { strategy: 'random' }, 0, random)!.id).to.equal('b');
    expect(chooseNode(nodes, { strategy: 'random' }, 1, random)!.id).to.equal('b');
    expect(calls).to.equal(2);
  });

  it('returns the caller’s node object (so its load can be counted)', () => {
    const nodes = [node('a')];
    expect(chooseNode(nodes, { strategy: 'least-loaded' }, 0, never)).to.equal(nodes[0]);
  });
});

describe('placement by resources, constraints and runtimes', () => {
  const rr: Placement = { strategy: 'round-robin' };
  it('places a request only where it fits beside what the node runs, and charges it', () => {
    const a = node('a', { cpu: 2, memMb: 1024, usedCpu: 1.5, usedMemMb: 0 });
    const b = node('b', { cpu: 4, memMb: 1024, usedCpu: 0, usedMemMb: 768 });
    const c = node('c'); // offers no limits: anything fits
    expect(ids(eligibleNodes([a, b, c], { ...rr, requests: { cpu: 1 } }))).to.deep.equal(['b', 'c']);
    expect(ids(eligibleNodes([a, b, c], { ...rr, requests: { cpu: 0.5, memMb: 512 } }))).to.deep.equal(['a', 'c']);
    expect(ids(eligibleNodes([a, b], { ...rr, requests: { cpu: 8 } }))).to.deep.equal([]);
    expect(fits(a, { cpu: 0.5 })).to.equal(true);
    charge(a, { cpu: 0.5, memMb: 100 });
    expect(a).to.include({ load: 1, usedCpu: 2, usedMemMb: 100 });
    expect(fits(a, { cpu: 0.1 })).to.equal(false);
  });

  it('constraints: each attribute must be one of its allowed values', () => {
    const nodes = [node('a', { attributes: { hostname: 'h1', rack_id: 'r1' } }), node('b', { attributes: { hostname: 'h2', rack_id: 'r2' } }), node('c', { attributes: { hostname: 'h3' } })];
    expect(ids(eligibleNodes(nodes, { ...rr, constraints: { hostname: ['h1', 'h3'] } }))).to.deep.equal(['a', 'c']);
    expect(ids(eligibleNodes(nodes, { ...rr, constraints: { rack_id: ['r2', 'r9'] } }))).to.deep.equal(['b']);
    expect(ids(eligibleNodes(nodes, { ...rr, constraints: { hostname: ['h1', 'h2'], rack_id: ['r2'] } }))).to.deep.equal(['b']);
  });

  it('a container goes only to a node with a runtime', () => {
    const nodes = [node('a'), node('b', { runtimes: ['podman'] }), node('c', { runtimes: [] })];
    expect(ids(eligibleNodes(nodes, rr, { container: true }))).to.deep.equal(['b']);
    expect(chooseNode([node('a')], rr, 0, never, { container: true })).to.equal(null);
    expect(ids(eligibleNodes(nodes, rr))).to.deep.equal(['a', 'b', 'c']);
  });
});


describe('warmedUp: a node that just started takes its share, not all new work', () => {
  it('counts a warming node as loaded like the others on average (per capacity); no change when all or none warm', () => {
    const nodes = [node('a', { load: 150, capacity: 10 }), node('b', { load: 90, capacity: 10 }), node('c', { load: 0, capacity: 20 })];
    const warmed = warmedUp(nodes, (x) => x.id === 'c');
    expect(warmed.map((x) => x.load)).to.deep.equal([150, 90, 240]); // (15 + 9) / 2 = 12 per unit of capacity
    expect(nodes[2]!.load, 'the input is left alone').to.equal(0);
    // least-loaded would give c everything; now the next firings go to b first.
    expect(chooseNode(warmed, { strategy: 'least-loaded' }, 0, () => 0)?.id).to.equal('b');
    expect(warmedUp(nodes, () => true)).to.equal(nodes);
    expect(warmedUp(nodes, () => false)).to.equal(nodes);
    const busy = warmedUp([node('a', { load: 5 }), node('c', { load: 9 })], (x) => x.id === 'c');
    expect(busy.map((x) => x.load), 'a warming node already loaded keeps its load').to.deep.equal([5, 9]);
  });
});

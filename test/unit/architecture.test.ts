import { expect } from 'chai';
import { importCycles, importGraph, partOf } from '../support/imports.js';

/**
 * The shape docs/architecture.md describes, kept by `make test`: src has no import cycle (type
 * imports included), and no part imports a part above it. Each part may import only these
 * (its own files always):
 */
const MAY_IMPORT: Record<string, string[]> = {
  log: [],
  lib: ['log', 'domain'],
  domain: ['lib'],
  store: ['domain', 'lib', 'log'],
  runner: ['domain', 'lib', 'log'],
  metrics: ['domain', 'store', 'lib', 'log'],
  scheduler: ['domain', 'store', 'lib', 'log', 'metrics'],
  agent: ['domain', 'store', 'runner', 'lib', 'log', 'metrics'],
  service: ['domain', 'store', 'runner', 'lib', 'log'],
  // The APIs translate: they call the service, never the scheduler, the agent or a runner, and
  // know of the store only its typed errors.
  api: ['service', 'domain', 'store/errors.ts', 'lib', 'log'],
  config: ['domain', 'lib', 'log'],
  node: ['api', 'service', 'scheduler', 'agent', 'runner', 'store', 'domain', 'lib', 'log', 'metrics', 'config'],
  cli: ['node', 'config', 'service', 'store', 'domain', 'lib', 'log', 'api'],
};

describe('architecture: the import graph of src', () => {
  const edges = importGraph('src');

  it('finds the imports (the check reads the tree, not an empty one)', () => {
    expect(edges.length).to.be.above(300);
    expect(new Set(edges.map((e) => partOf(e.from)))).to.include.members(['api', 'service', 'store', 'domain', 'scheduler', 'agent']);
  });

  it('has no import cycle', () => {
    expect(importCycles(edges).map((c) => c.join(' -> '))).to.deep.equal([]);
  });

  it('no part imports a part above it (domain <- store <- service <- api; the leader and the agent talk only through etcd)', () => {
    const wrong = edges
      .filter((e) => partOf(e.from) !== partOf(e.to))
      .filter((e) => {
        const allowed = MAY_IMPORT[partOf(e.from)];
        if (!allowed) return true; // a new part: say where it belongs above
        return !allowed.includes(partOf(e.to)) && !allowed.includes(e.to);
      })
      .map((e) => `${e.from} -> ${e.to}`);
    expect(wrong).to.deep.equal([]);
  });
});

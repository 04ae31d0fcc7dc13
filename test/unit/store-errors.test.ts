import { expect } from 'chai';
import { storeFault } from '../../src/store/errors.js';
import { toRotaError } from '../../src/api/errors.js';
import { survive } from '../../src/lib/survive.js';
import { silentLogger } from '../../src/log.js';

// Stand-ins named as etcd3 1.1.2 and cockatiel name theirs (the mapping goes by name: only src/store knows the client).
class GRPCUnavailableError extends Error {}
class GRPCDeadlineExceededError extends Error {}
class GRPCResourceExhastedError extends Error {}
class BrokenCircuitError extends Error {
  readonly isBrokenCircuitError = true;
}

describe('etcd faults: what the client throws, as the service and every API see it', () => {
  it('unreachable, timed out, no leader, an open circuit breaker: unavailable', () => {
    expect(storeFault(new GRPCUnavailableError('14 UNAVAILABLE: No connection established'))).to.equal('unavailable');
    expect(storeFault(new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED'))).to.equal('unavailable');
    expect(storeFault(new Error('etcdserver: no leader'))).to.equal('unavailable');
    expect(storeFault(new Error('etcdserver: request timed out'))).to.equal('unavailable');
    expect(storeFault(new BrokenCircuitError('Execution prevented because the circuit breaker is open'))).to.equal('unavailable');
  });

  it("the NOSPACE alarm: nospace (etcd's message, whatever the class)", () => {
    expect(storeFault(new GRPCResourceExhastedError('etcdserver: mvcc: database space exceeded'))).to.equal('nospace');
  });

  it('anything else is not an etcd fault (a bug stays a 500)', () => {
    expect(storeFault(new TypeError("Cannot read properties of undefined (reading 'x')"))).to.equal(null);
    expect(storeFault('a string')).to.equal(null);
    expect(storeFault(null)).to.equal(null);
  });

  it('every API answers a fault as 503 UNAVAILABLE saying etcd is the reason (not a hidden 500)', () => {
    const away = toRotaError(new GRPCUnavailableError('14 UNAVAILABLE'));
    expect([away.error.status, away.error.code, away.internal]).to.deep.equal([503, 'UNAVAILABLE', false]);
    expect(away.error.message).to.match(/etcd is unreachable or has no quorum/);
    const full = toRotaError(new GRPCResourceExhastedError('etcdserver: mvcc: database space exceeded'));
    expect([full.error.status, full.error.message]).to.satisfy(([s, m]: [number, string]) => s === 503 && /out of space \(NOSPACE alarm\)/.test(m));
    expect(toRotaError(new TypeError('x')).error.status).to.equal(500);
  });
});

describe('survive: a failure a node goes on after is logged and counted, never dropped', () => {
  it('counts by where, and lets the caller go on', async () => {
    const counted: string[] = [];
    await survive(Promise.reject(new Error('etcdserver: request timed out')), silentLogger, 'node.stop', 'stopping failed', (w) => counted.push(w));
    await survive(Promise.resolve(1), silentLogger, 'node.stop', 'never said', (w) => counted.push(w));
    await survive(undefined, silentLogger, 'x', 'nothing to await', (w) => counted.push(w));
    expect(counted).to.deep.equal(['node.stop']);
  });
});

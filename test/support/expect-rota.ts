import { expect } from 'chai';
import { RotaError, type ErrorCode } from '../../src/domain/errors.js';

/** `fn` throws a RotaError with this code whose message contains every fragment. */
export function expectRota(fn: () => unknown, code: ErrorCode, ...fragments: string[]): RotaError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(RotaError);
    expect((e as RotaError).code, (e as Error).message).to.equal(code);
    for (const f of fragments) expect((e as Error).message).to.contain(f);
    return e as RotaError;
  }
  return expect.fail(`expected RotaError ${code}`);
}

/** `fn` throws INVALID_SCHEDULE with exactly this message. */
export function expectInvalid(fn: () => unknown, message: string): void {
  expect(expectRota(fn, 'INVALID_SCHEDULE').message).to.equal(message);
}

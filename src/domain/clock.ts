/** Time is injected wherever it is read or waited on, so tests can move it. */
export interface Clock {
  now(): number;
  /** Resolves after ms (or at once when aborted). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls fn once after ms; the returned function cancels it. */
  timeout(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const t = setTimeout(done, Math.max(0, ms));
      function done() {
        signal?.removeEventListener('abort', done);
        clearTimeout(t);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
  timeout: (ms, fn) => {
    const t = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(t);
  },
};

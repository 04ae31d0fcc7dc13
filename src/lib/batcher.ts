/**
 * Group commit: items submitted while earlier batches are in flight wait and go together in the
 * next batch (up to `max()` per batch, at most `concurrency` batches in flight); each submitter
 * gets its own result. Under load, many items cost one round trip instead of one each; when
 * idle, an item waits only for the current turn of the event loop.
 */
export class Batcher<T, R> {
  private queue: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private inFlight = 0;

  constructor(
    private readonly run: (items: T[]) => Promise<R[]>,
    /** Asked at each batch: a limit learned after construction (etcd's op limit) applies at once. */
    private readonly max: () => number,
    private readonly concurrency = 4,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.concurrency) {
      const batch = this.queue.splice(0, this.max());
      this.inFlight++;
      this.run(batch.map((b) => b.item))
        .then(
          (results) => batch.forEach((b, i) => b.resolve(results[i]!)),
          (err: unknown) => batch.forEach((b) => b.reject(err)),
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}

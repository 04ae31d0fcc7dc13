/**
 * Counters the scheduler and agent report. Kept in memory and shown at /api/v1/cluster for now;
 * the /metrics exposition comes with the measurement issue.
 */
export class Metrics {
  firingsPlanned = 0;
  firingsSkipped = 0;
  duplicatesSuppressed = 0;
  runsLost = 0;
  retries = 0;
  etcdTxns = 0;
  etcdTxnMsTotal = 0;
  runsByState: Record<string, number> = {};
  lateness: number[] = [];

  planned(n: number, skipped: number): void {
    this.firingsPlanned += n;
    this.firingsSkipped += skipped;
  }
  duplicateSuppressed(n: number): void {
    this.duplicatesSuppressed += n;
  }
  lost(): void {
    this.runsLost++;
  }
  retried(): void {
    this.retries++;
  }
  etcdTxn(ms: number, _items: number): void {
    this.etcdTxns++;
    this.etcdTxnMsTotal += ms;
  }
  runEnded(state: string): void {
    this.runsByState[state] = (this.runsByState[state] ?? 0) + 1;
  }
  started(latenessMs: number): void {
    if (this.lateness.length >= 10_000) this.lateness.shift();
    this.lateness.push(latenessMs);
  }
  snapshot(): Record<string, unknown> {
    return {
      firingsPlanned: this.firingsPlanned,
      firingsSkipped: this.firingsSkipped,
      duplicatesSuppressed: this.duplicatesSuppressed,
      runsLost: this.runsLost,
      retries: this.retries,
      etcdTxns: this.etcdTxns,
      runsByState: this.runsByState,
    };
  }
}

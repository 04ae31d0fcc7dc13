import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { failed, type RunOutcome } from './types.js';

/**
 * A run's output: appended to the log file up to a cap (then one truncation line), while the
 * last `tailBytes` bytes of everything written are kept for the run record.
 */
export class OutputSink {
  private written = 0;
  private truncated = false;
  private lastByte = 0x0a;
  private tail: Buffer = Buffer.alloc(0);
  /** First write error, if any (disk full, ...); later writes are dropped. */
  error: Error | undefined;

  private constructor(
    private readonly stream: WriteStream,
    private readonly capBytes: number,
    private readonly tailBytes: number,
  ) {
    stream.on('error', (e) => {
      this.error ??= e;
    });
  }

  /**
   * Opens `file` for appending, creating its directory only when it is missing (most runs of a
   * task find it there); rejects if it cannot be opened.
   */
  static async open(file: string, capBytes: number, tailBytes: number): Promise<OutputSink> {
    const attempt = () => {
      const stream = createWriteStream(file, { flags: 'a' });
      return new Promise<WriteStream>((resolve, reject) => {
        stream.once('open', () => resolve(stream));
        stream.once('error', reject);
      });
    };
    const stream = await attempt().catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
      await mkdir(dirname(file), { recursive: true });
      return attempt();
    });
    return new OutputSink(stream, Math.max(0, capBytes), Math.max(0, tailBytes));
  }

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.keepTail(chunk);
    if (this.truncated || this.error) return;
    const room = this.capBytes - this.written;
    if (chunk.length <= room) {
      this.append(chunk);
      return;
    }
    if (room > 0) this.append(chunk.subarray(0, room));
    this.truncated = true;
    const sep = this.lastByte === 0x0a ? '' : '\n';
    this.stream.write(`${sep}[output truncated at ${this.capBytes} bytes]\n`);
  }

  /** The kept tail as text, without a split UTF-8 sequence at its start. */
  tailText(): string {
    let start = 0;
    while (start < this.tail.length && ((this.tail[start] ?? 0) & 0xc0) === 0x80) start++;
    return this.tail.subarray(start).toString('utf8');
  }

  /** Flushes and closes the file; never rejects. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.stream.closed || this.stream.destroyed) return resolve();
      this.stream.once('close', () => resolve());
      this.stream.end();
    });
  }

  private append(buf: Buffer): void {
    this.stream.write(buf);
    this.written += buf.length;
    this.lastByte = buf[buf.length - 1] ?? this.lastByte;
  }

  private keepTail(chunk: Buffer): void {
    if (this.tailBytes === 0) return;
    if (chunk.length >= this.tailBytes) {
      this.tail = Buffer.from(chunk.subarray(chunk.length - this.tailBytes));
      return;
    }
    const joined = Buffer.concat([this.tail, chunk]);
    this.tail = joined.length > this.tailBytes ? Buffer.from(joined.subarray(joined.length - this.tailBytes)) : joined;
  }
}

/**
 * The run's output file, or the outcome that ends the run before it starts: killed already,
 * or a log file that cannot be opened (a failed run, never an exception).
 */
export async function openRunOutput(ctx: { signal: AbortSignal; logFile: string; outputCapBytes: number; tailBytes: number }): Promise<OutputSink | RunOutcome> {
  if (ctx.signal.aborted) return { state: 'killed', message: 'killed by operator' };
  try {
    return await OutputSink.open(ctx.logFile, ctx.outputCapBytes, ctx.tailBytes);
  } catch (e) {
    return failed(`cannot open log file: ${(e as Error).message}`);
  }
}

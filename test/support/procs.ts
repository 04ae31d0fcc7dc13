import { readdirSync, readFileSync } from 'node:fs';

/** Live (non-zombie) processes whose argv is exactly `argv`, from the real process table. */
export function processesWithArgv(argv: string[]): number[] {
  const want = argv.join('\0');
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0$/, '');
      if (cmd !== want) continue;
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Samples a count every `everyMs` and remembers the highest value seen. */
export class MaxSampler {
  max = 0;
  private timer: NodeJS.Timeout;
  constructor(sample: () => number, everyMs = 50) {
    this.timer = setInterval(() => {
      this.max = Math.max(this.max, sample());
    }, everyMs);
  }
  stop(): number {
    clearInterval(this.timer);
    return this.max;
  }
}

/** Live (non-zombie) processes carrying `mark`: in their argv (the shells) or as `${envVar}=mark` in their environment (their children). */
export function markedPids(mark: string, envVar = 'PROCMARK'): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      const env = argv.includes(mark) ? '' : readFileSync(`/proc/${d}/environ`, 'utf8');
      if (argv.includes(mark) || env.split('\0').includes(`${envVar}=${mark}`)) out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

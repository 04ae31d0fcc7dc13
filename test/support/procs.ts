import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './tmp.js';

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

/**
 * "Never two copies of a replica", exactly: the command of every copy takes an exclusive flock
 * on its replica's lock file and then execs the real program, which inherits the locked file
 * descriptor and so holds the lock for its whole life (released by the kernel when it exits, however
 * it exits). A copy that finds the lock held by another live copy appends a line to the
 * conflicts file and exits 42 without running the program. Unlike sampling the process table,
 * no overlap can slip between two looks, however short. flock(1) is util-linux's.
 */
export class ReplicaLocks {
  readonly dir = tempDir('rota-replica-locks-');

  /**
   * The shell command for a daemon task whose copies run `argv` (words without quotes or
   * spaces, e.g. `sleep 1000.123`); the process table still shows exactly `argv`. The replica
   * index comes from ROTA_RUN_ID ("{task}-{ms}-{attempt}" plus "-r{replica}" past replica 0).
   */
  command(argv: string[]): string {
    return [
      'r=${ROTA_RUN_ID##*-r}; [ "$r" = "$ROTA_RUN_ID" ] && r=0',
      `exec 9>>'${this.dir}/replica-'"$r"'.lock'`,
      `flock -n 9 || { echo "$ROTA_RUN_ID $(hostname) replica $r: lock held by another copy" >>'${this.dir}/conflicts'; exit 42; }`,
      `exec ${argv.join(' ')}`,
    ].join('; ');
  }

  /** One line per copy that started while another copy of its replica was alive. */
  conflicts(): string[] {
    const f = join(this.dir, 'conflicts');
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
  }
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

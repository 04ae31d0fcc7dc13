import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 20;
/** How long to wait for the group to vanish after SIGKILL before giving up. */
const AFTER_KILL_MS = 2_000;

/**
 * Live (non-zombie) pids whose process group is `pgid`, read from /proc.
 * Returns undefined where /proc is not available.
 */
export function listGroupPids(pgid: number): number[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const pids: number[] = [];
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] !== 'Z' && Number(fields[2]) === pgid) pids.push(Number(name));
  }
  return pids;
}

/** True while any non-zombie process of the group exists. */
export function groupAlive(pgid: number): boolean {
  const pids = listGroupPids(pgid);
  if (pids) return pids.length > 0;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends `sig` to every process of the group; a group already gone is not an error. */
export function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    /* ESRCH: nothing left to signal */
  }
}

/** Polls until the group is gone or `deadlineMs` passes; true if gone. */
export async function waitGroupGone(pgid: number, deadlineMs: number): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (!groupAlive(pgid)) return true;
    if (Date.now() >= until) return false;
    await sleep(POLL_MS);
  }
}

/** SIGTERM to the whole group, SIGKILL after `graceMs` if anything survives; resolves when it is gone. */
export async function terminateGroup(pgid: number, graceMs: number): Promise<void> {
  signalGroup(pgid, 'SIGTERM');
  if (await waitGroupGone(pgid, graceMs)) return;
  signalGroup(pgid, 'SIGKILL');
  await waitGroupGone(pgid, AFTER_KILL_MS);
}

import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { execa } from 'execa';

/** A resolved run-as identity. */
export interface RunAsIdentity {
  uid?: number;
  gid?: number;
  /** HOME, USER, LOGNAME of the target user (empty when no user was asked for). */
  env: Record<string, string>;
}

let ownGroupName: string | null | undefined;

/** Name of the server's own primary group, from /etc/group (null if not listed). */
function ownGroup(): string | null {
  if (ownGroupName === undefined) {
    const gid = String(userInfo().gid);
    ownGroupName = null;
    try {
      const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[2] === gid);
      ownGroupName = line?.split(':')[0] ?? null;
    } catch {
      /* no /etc/group: only the allowlist applies */
    }
  }
  return ownGroupName;
}

/**
 * Checks user/group against the run-as allowlist (the server's own user and primary group are
 * always allowed). Returns the error text, or null when allowed. No name resolution happens here,
 * so the API can call it at submit time.
 */
export function checkRunAs(user: string | undefined, group: string | undefined, allowed: readonly string[]): string | null {
  if (user && user !== userInfo().username && !allowed.includes(user)) {
    return `user '${user}' is not in the run-as allowlist`;
  }
  if (group && group !== ownGroup() && !allowed.includes(group)) {
    return `group '${group}' is not in the run-as allowlist`;
  }
  return null;
}

/** Finds `name` in a passwd/group style database: /etc file first, then `getent` (NSS). */
async function lookup(db: 'passwd' | 'group', name: string): Promise<string[] | undefined> {
  try {
    const line = readFileSync(`/etc/${db}`, 'utf8').split('\n').find((l) => l.split(':')[0] === name);
    if (line) return line.split(':');
  } catch {
    /* fall through to getent */
  }
  try {
    const r = await execa('getent', [db, name], { reject: false, timeout: 5_000 });
    if (r.exitCode === 0 && typeof r.stdout === 'string' && r.stdout) return r.stdout.split('\n')[0]?.split(':');
  } catch {
    /* no getent */
  }
  return undefined;
}

/**
 * Resolves an allowed user/group to uid/gid. A user without a group runs with the user's
 * primary group. Ids equal to the server's own are omitted (nothing to switch).
 * Returns an error string for unknown names.
 */
export async function resolveRunAs(user: string | undefined, group: string | undefined): Promise<RunAsIdentity | string> {
  const me = userInfo();
  const out: RunAsIdentity = { env: {} };
  if (user === me.username) {
    out.env = { HOME: me.homedir, USER: user, LOGNAME: user };
  } else if (user) {
    const pw = await lookup('passwd', user);
    const uid = Number(pw?.[2]);
    if (!pw || !Number.isInteger(uid)) return `user '${user}' does not exist on this node`;
    out.uid = uid;
    out.gid = Number(pw[3]);
    out.env = { HOME: pw[5] ?? '/', USER: user, LOGNAME: user };
  }
  if (group) {
    const gr = await lookup('group', group);
    const gid = Number(gr?.[2]);
    if (!gr || !Number.isInteger(gid)) return `group '${group}' does not exist on this node`;
    out.gid = gid;
  }
  if (out.uid === me.uid) delete out.uid;
  if (out.gid === me.gid || (out.gid !== undefined && !Number.isInteger(out.gid))) delete out.gid;
  return out;
}

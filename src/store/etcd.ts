import { Etcd3, isRecoverableError, type Namespace } from 'etcd3';
import { circuitBreaker, ConsecutiveBreaker, handleWhen, type retry } from 'cockatiel';
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import { storeFault } from './errors.js';

export interface EtcdOptions {
  endpoints: string[];
  /** Key prefix every Rota key lives under, e.g. "/rota/". */
  prefix: string;
  /** Deadline for unary calls; longer than etcd's ~7 s raft failover stall. */
  callTimeoutMs?: number;
  /** TLS: the CA that verifies the server, and the client certificate (PEM). https:// endpoints without it use the system's CAs. */
  credentials?: { rootCertificate?: Buffer; privateKey?: Buffer; certChain?: Buffer };
  /** etcd user/password auth (exchanged for a token on first use, again when it expires). */
  auth?: { username: string; password: string };
}

export interface EtcdHandle {
  client: Etcd3;
  /** All Rota keys are relative to this namespace. */
  ns: Namespace;
  prefix: string;
  /**
   * The most operations (and compares) etcd takes in one transaction: its --max-txn-ops, 128
   * unless raised. probeTxnLimit sets it; batched writes pack up to it.
   */
  maxTxnOps: number;
  close(): void;
}

/** etcd's default --max-txn-ops. */
export const DEFAULT_TXN_OPS = 128;
/**
 * What members Rota starts are given (--max-txn-ops), and what it asks an etcd for: batching
 * 1,024 operations instead of 128 cut raft proposals per firing from 0.09 to 0.02 and the whole
 * cluster's CPU at 1,000 firings/s by a fifth (docs/benchmarks.md).
 */
export const WANTED_TXN_OPS = 1024;
/** A batched write stays under this many bytes: etcd refuses requests over 1.5 MiB by default. */
export const MAX_TXN_BYTES = 1024 * 1024;

/** An error worth retrying and counting against a member: etcd3's recoverable ones, NOSPACE not. */
const transient = (err: Error): boolean => isRecoverableError(err) && storeFault(err) !== 'nospace';

/**
 * etcd's "require leader" (gRPC metadata hasleader=true, as etcd's own client sets with
 * WithRequireLeader): a member that has lost its leader (cut off from the others' raft, a
 * minority without quorum) answers "no leader" at once, a recoverable error that the fault
 * handling retries on another member, instead of holding the call until its deadline. Without it
 * a claim or the leader's backstop that landed on such a member waited ~7-10 s, and firings were
 * up to 12 s late while one etcd member was partitioned (docs/benchmarks.md).
 */
export const requireLeader: Interceptor = (options, nextCall) =>
  new InterceptingCall(nextCall(options), {
    start: (metadata, listener, next) => {
      metadata.set('hasleader', 'true');
      next(metadata, listener);
    },
  });

/** A member's answer that it has no raft leader now (require-leader). */
const noLeader = (err: Error): boolean => /no leader/.test(err.message);

/** A failure to reach a member at all (down, refusing connections): the next one is tried at once. */
const unreachable = (err: Error): boolean => /No connection established|ECONNREFUSED|ECONNRESET|EHOSTUNREACH/.test(err.message);

/** Retries after an answer etcd cannot serve now, each after a pause (memberRetries). */
export const MAX_PAUSED_RETRIES = 12;
/** Retries on the next member after one that could not be reached, at once (memberRetries). */
export const MAX_MEMBER_SKIPS = 12;

/**
 * etcd3's global policy: a call that failed on one member is tried on the next. When the member
 * could not be reached (down, refusing connections) the next one is tried at once, as etcd3 did;
 * after an answer that etcd cannot serve it now ("no leader", "leader changed", a timeout: an
 * election, or a member cut off from its quorum) after 200 ms doubling to 2 s (200, 400, 800,
 * 1600, 2000, ...: up to ~19 s over 12 retries), longer than an etcd election takes on a loaded
 * machine; calls used to wait an election out inside etcd. The two have separate budgets: with
 * one budget of 12, the at-once retries on a killed member used it up while the others were
 * still electing, and a put failed during an etcd leader change in a full make test. A refusal
 * that is not transient (NOSPACE, a bad request) is not retried.
 */
export function memberRetries(sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms))) {
  return {
    async execute<T>(fn: (ctx: { attempt: number; signal: AbortSignal }) => PromiseLike<T> | T, signal: AbortSignal = new AbortController().signal): Promise<T> {
      let paused = 0;
      let skipped = 0;
      for (let attempt = 0; ; attempt++) {
        try {
          return await fn({ attempt, signal });
        } catch (err) {
          if (!(err instanceof Error) || !transient(err) || signal.aborted) throw err;
          if (unreachable(err)) {
            if (++skipped > MAX_MEMBER_SKIPS) throw err;
            continue;
          }
          if (++paused > MAX_PAUSED_RETRIES) throw err;
          await sleep(Math.min(2_000, 200 * 2 ** (paused - 1)));
        }
      }
    },
  };
}

/** etcd could not be used at start-up: unreachable, TLS refused, or credentials rejected. */
export class EtcdConnectError extends Error {}

/**
 * Connects with the settings etcd-notes.md found necessary: gRPC keepalive (a half-open
 * watch stream is otherwise silent forever) and a deadline on every unary call.
 */
export function connectEtcd(opts: EtcdOptions): EtcdHandle {
  const callTimeoutMs = opts.callTimeoutMs ?? 10_000;
  // The scheme stays on: etcd3 strips it, and an https:// host is what turns TLS on without a CA.
  const hosts = opts.endpoints.map((e) => (/^https?:\/\//.test(e) ? e : `http://${e}`));
  const client = new Etcd3({
    hosts,
    // etcd3's typing wants the CA; grpc's createSsl takes null for "the system's roots".
    ...(opts.credentials ? { credentials: { ...opts.credentials, rootCertificate: (opts.credentials.rootCertificate ?? null) as Buffer } } : {}),
    ...(opts.auth ? { auth: { username: opts.auth.username, password: opts.auth.password } } : {}),
    grpcOptions: {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs, interceptors: [requireLeader] }),
    // etcd3's own fault handling (retries, a per-member breaker after 3 failures), except that
    // a NOSPACE refusal is an answer, not a failing member: retried, it only repeats a refused
    // write, and counted, it opened the breaker and blocked the reads that still work.
    faultHandling: {
      // "no leader" does not count against a member either: in an etcd election every member
      // says it for a moment, and three of them in a row would shut each member out for 5 s.
      host: () => circuitBreaker(handleWhen((e) => transient(e) && !noLeader(e)), { halfOpenAfter: 5_000, breaker: new ConsecutiveBreaker(3) }),
      // Retried on the next member: at once when it could not be reached, after a growing pause
      // when it answered that it cannot serve now (memberRetries).
      global: memberRetries() as unknown as ReturnType<typeof retry>,
    },
  });
  const ns = client.namespace(opts.prefix);
  return { client, ns, prefix: opts.prefix, maxTxnOps: DEFAULT_TXN_OPS, close: () => client.close() };
}

/**
 * One read under the prefix, so a node that cannot use etcd (no route, a TLS handshake the
 * server refuses, a wrong password, a user without a role on the prefix) fails at start-up with
 * a message that says which, instead of later in a background loop.
 */
export async function probeEtcd(h: EtcdHandle, endpoints: string[], opts: { auth: boolean; tls: boolean }): Promise<void> {
  try {
    await h.ns.get('probe').string();
  } catch (err) {
    const e = err as Error;
    const name = e.constructor?.name ?? 'Error';
    let hint = '';
    if (/AuthenticationFailed|InvalidAuthToken|UserNotFound/.test(name) || /authentication failed|invalid user ID or password/i.test(e.message)) {
      hint = 'etcd rejected the username/password (etcd.auth)';
    } else if (/PermissionDenied/.test(name) || /permission denied/i.test(e.message)) {
      hint = `the etcd user has no read/write role on the prefix ${h.prefix}`;
    } else if (/user name is empty|authentication is not enabled|token/i.test(e.message) && !opts.auth) {
      hint = 'etcd has auth enabled: set etcd.auth (username, password)';
    } else if (opts.tls || endpoints.some((x) => x.startsWith('https://'))) {
      hint = 'TLS to etcd failed or etcd is down: check etcd.tls (ca, cert, key), that the certificate is one etcd trusts, and the endpoints';
    } else {
      hint = 'etcd is unreachable or refused the connection (if it requires TLS, use https:// endpoints and etcd.tls)';
    }
    throw new EtcdConnectError(`cannot use etcd at ${endpoints.join(',')}: ${hint} (${name}: ${e.message})`);
  }
}

/**
 * How many operations this etcd takes in one transaction: a read-only transaction of `want`
 * reads (no raft proposal, nothing written) tells whether its --max-txn-ops allows `want`;
 * refused as too many, it is etcd's default 128 (an external etcd started without the flag).
 */
export async function probeTxnLimit(h: EtcdHandle, want = WANTED_TXN_OPS): Promise<number> {
  try {
    await h.ns.if('probe', 'Version', '>', -1).then(...Array.from({ length: want }, () => h.ns.get('probe') as unknown as Parameters<ReturnType<Namespace['if']>['then']>[0])).commit();
    return want;
  } catch (err) {
    if (/too many operations/i.test((err as Error).message)) return DEFAULT_TXN_OPS;
    throw err;
  }
}

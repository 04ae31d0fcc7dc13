import { Etcd3, type Namespace } from 'etcd3';

export interface EtcdOptions {
  endpoints: string[];
  /** Key prefix every Rota key lives under, e.g. "/rota/". */
  prefix: string;
  /** Deadline for unary calls; longer than etcd's ~7 s raft failover stall. */
  callTimeoutMs?: number;
}

export interface EtcdHandle {
  client: Etcd3;
  /** All Rota keys are relative to this namespace. */
  ns: Namespace;
  prefix: string;
  close(): void;
}

/**
 * Connects with the settings etcd-notes.md found necessary: gRPC keepalive (a half-open
 * watch stream is otherwise silent forever) and a deadline on every unary call.
 */
export function connectEtcd(opts: EtcdOptions): EtcdHandle {
  const callTimeoutMs = opts.callTimeoutMs ?? 10_000;
  const hosts = opts.endpoints.map((e) => e.replace(/^https?:\/\//, ''));
  const client = new Etcd3({
    hosts,
    grpcOptions: {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
  });
  const ns = client.namespace(opts.prefix);
  return { client, ns, prefix: opts.prefix, close: () => client.close() };
}

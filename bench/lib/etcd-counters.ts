/**
 * What etcd did per firing: one member's counters (its /metrics) before and after a window,
 * divided by the firings due in it. Every member applies every write, so one member's mvcc
 * counters stand for each; the gRPC counts are the calls that member answered (the nodes spread
 * their calls over the members, so those are a share, not the cluster's total).
 */
const COUNTERS: Record<string, RegExp> = {
  'raft proposals': /^etcd_server_proposals_committed_total (\S+)/m,
  'keys put': /^etcd_debugging_mvcc_put_total (\S+)/m,
  'keys deleted': /^etcd_debugging_mvcc_delete_total (\S+)/m,
  'Txn calls (this member)': /^grpc_server_handled_total\{grpc_code="OK",grpc_method="Txn",grpc_service="etcdserverpb.KV",grpc_type="unary"\} (\S+)/m,
  'Range calls (this member)': /^grpc_server_handled_total\{grpc_code="OK",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"\} (\S+)/m,
};

export async function etcdCounters(endpoint: string): Promise<Record<string, number>> {
  const text = await fetch(`${endpoint}/metrics`).then((r) => r.text());
  return Object.fromEntries(Object.entries(COUNTERS).map(([k, re]) => [k, Number(re.exec(text)?.[1] ?? NaN)]));
}

/** Per firing: (after - before) / firings, two decimals. */
export function perFiring(before: Record<string, number>, after: Record<string, number>, firings: number): Record<string, number> {
  return Object.fromEntries(Object.keys(before).map((k) => [k, Math.round((100 * (after[k]! - before[k]!)) / firings) / 100]));
}

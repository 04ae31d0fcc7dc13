import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { freePort } from '../../src/store/etcd-process.js';
import { EtcdCluster, RotaProcess, TestCluster } from './cluster.js';
import { waitFor } from './etcd.js';

/**
 * Network namespaces made by a test, on this machine only: each namespace is joined to the root
 * namespace by veth pairs with private link-local /30 addresses (169.254.X.0/24, X unused on
 * this host), and reaches the root namespace's services at "anchor" addresses (/32 on a veth
 * pair whose both ends stay in the root namespace) through a route over one of its links. No
 * default route, no forwarding: nothing leaves the machine. A partition is a link's root side
 * set down (packets vanish, no reset: like a pulled cable); healing sets it up again.
 */
export interface Link {
  ns: string;
  /** Interface in the root namespace. */
  hostIf: string;
  hostAddr: string;
  /** Interface inside the namespace. */
  nsIf: string;
  nsAddr: string;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export class NetLab {
  readonly id = randomBytes(2).toString('hex');
  readonly namespaces: string[] = [];
  readonly links: Link[] = [];
  private readonly anchorIf: string;
  private readonly anchors: string[] = [];
  private nextSubnet = 0;
  private readonly onExit = () => this.cleanup();

  private constructor(private readonly octet: number) {
    this.anchorIf = `r${this.id}ah`;
  }

  /** Why this machine cannot run the partition tests (not root, no iproute2, no veth), or null. */
  static unavailable(): string | null {
    if (process.platform !== 'linux') return 'network namespaces need Linux';
    if (process.getuid?.() !== 0) return 'network namespaces need root (ip netns add)';
    try {
      ip('-V');
    } catch {
      return 'iproute2 (the ip command) is not installed';
    }
    const probe = `rtp${randomBytes(3).toString('hex')}`;
    try {
      ip('netns', 'add', probe);
      ip('link', 'add', `${probe}a`, 'type', 'veth', 'peer', 'name', `${probe}b`);
      ip('link', 'set', `${probe}b`, 'netns', probe);
    } catch (e) {
      return `cannot create a network namespace with a veth pair: ${(e as Error).message.split('\n')[0]}`;
    } finally {
      try {
        ip('netns', 'del', probe);
      } catch {
        /* never made */
      }
      try {
        ip('link', 'del', `${probe}a`);
      } catch {
        /* went with the namespace */
      }
    }
    return null;
  }

  /** A lab on a 169.254.X.0/24 that no address of this host uses. */
  static create(): NetLab {
    const used = new Set([...ip('-o', '-4', 'addr', 'show').matchAll(/inet 169\.254\.(\d+)\./g)].map((m) => Number(m[1])));
    let octet = 0;
    for (let i = 0; i < 100 && !octet; i++) {
      const x = randomInt(64, 250);
      if (!used.has(x)) octet = x;
    }
    if (!octet) throw new Error('no free 169.254.X.0/24 for the test namespaces');
    const lab = new NetLab(octet);
    process.once('exit', lab.onExit);
    try {
      ip('link', 'add', lab.anchorIf, 'type', 'veth', 'peer', 'name', `r${lab.id}ag`);
      ip('link', 'set', lab.anchorIf, 'up');
      ip('link', 'set', `r${lab.id}ag`, 'up');
    } catch (e) {
      lab.cleanup();
      throw e;
    }
    return lab;
  }

  /**
   * A root-namespace address for services (etcd, a receiver) that namespaces reach through the
   * links given a route to it. It stays reachable from the root namespace whatever the links do.
   */
  anchor(): string {
    const a = `169.254.${this.octet}.${254 - this.anchors.length}`;
    ip('addr', 'add', `${a}/32`, 'dev', this.anchorIf);
    this.anchors.push(a);
    return a;
  }

  /** A new namespace with its loopback up. */
  namespace(tag: string): string {
    const ns = `rota-${this.id}-${tag}`;
    ip('netns', 'add', ns);
    this.namespaces.push(ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    return ns;
  }

  /** A veth pair from the root namespace into `ns` with a /30 of its own; `routes` (anchors) go over it. */
  link(ns: string, tag: string, routes: string[] = []): Link {
    const base = 4 * this.nextSubnet++;
    if (base + 3 >= 200) throw new Error('out of /30 subnets');
    const l: Link = {
      ns,
      hostIf: `r${this.id}${tag}h`,
      nsIf: `r${this.id}${tag}n`,
      hostAddr: `169.254.${this.octet}.${base + 1}`,
      nsAddr: `169.254.${this.octet}.${base + 2}`,
    };
    if (l.hostIf.length > 15) throw new Error(`interface name too long: ${l.hostIf}`);
    ip('link', 'add', l.hostIf, 'type', 'veth', 'peer', 'name', l.nsIf);
    this.links.push(l);
    ip('link', 'set', l.nsIf, 'netns', ns);
    ip('addr', 'add', `${l.hostAddr}/30`, 'dev', l.hostIf);
    ip('link', 'set', l.hostIf, 'up');
    ip('-n', ns, 'addr', 'add', `${l.nsAddr}/30`, 'dev', l.nsIf);
    ip('-n', ns, 'link', 'set', l.nsIf, 'up');
    for (const r of routes) ip('-n', ns, 'route', 'add', `${r}/32`, 'via', l.hostAddr, 'dev', l.nsIf);
    return l;
  }

  /** The partition: the link's root side goes down; nothing crosses it, nothing is reset. */
  cut(l: Link): void {
    ip('link', 'set', l.hostIf, 'down');
  }

  /** Up again; the kernel restores the /30 route in the root namespace (routes inside `ns` never went away). */
  heal(l: Link): void {
    ip('link', 'set', l.hostIf, 'up');
  }

  /** The command prefix that runs a program inside `ns` (ip execs it in place: same pid). */
  wrap(ns: string): string[] {
    return ['ip', 'netns', 'exec', ns];
  }

  /** Pids of every process inside `ns`. */
  pids(ns: string): number[] {
    try {
      return ip('netns', 'pids', ns)
        .split('\n')
        .filter((x) => /^\d+$/.test(x.trim()))
        .map(Number);
    } catch {
      return [];
    }
  }

  /** Kills every process in the lab's namespaces, then deletes the namespaces and every link. Idempotent. */
  cleanup(): void {
    for (const ns of this.namespaces) {
      for (const pid of this.pids(ns)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    for (const ns of this.namespaces.splice(0)) {
      try {
        ip('netns', 'del', ns);
      } catch {
        /* gone */
      }
    }
    // Deleting a namespace destroys its veth ends and so their peers; delete whatever is left.
    for (const name of [...this.links.splice(0).map((l) => l.hostIf), this.anchorIf]) {
      try {
        ip('link', 'del', name);
      } catch {
        /* gone */
      }
    }
    process.removeListener('exit', this.onExit);
  }
}

/** A TCP forwarder in the test process: `host:port` -> 127.0.0.1:`targetPort` (a loopback-only receiver made reachable from the namespaces). */
export class Forwarder {
  private server: Server | null = null;
  private readonly socks = new Set<Socket>();
  port = 0;

  async start(host: string, targetPort: number): Promise<this> {
    this.server = createServer((inbound) => {
      const out = createConnection(targetPort, '127.0.0.1');
      for (const s of [inbound, out]) {
        this.socks.add(s);
        s.once('close', () => this.socks.delete(s));
        s.on('error', () => {
          inbound.destroy();
          out.destroy();
        });
      }
      inbound.pipe(out);
      out.pipe(inbound);
    });
    this.port = await freePort();
    await new Promise<void>((r, j) => {
      this.server!.once('error', j);
      this.server!.listen(this.port, host, () => r());
    });
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.socks) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/** One Rota node inside its own namespace: `app` carries its API and callbacks, `etcd` its etcd traffic. */
export interface NetNode {
  node: RotaProcess;
  ns: string;
  app: Link;
  etcd: Link;
}

/**
 * Three etcd members in the root namespace (on loopback and on an anchor) and three Rota nodes,
 * each in a namespace of its own with two links: one to etcd, one for its API and its callbacks
 * to the receiver (reached through a forwarder on a second anchor). Cutting a node's etcd link
 * partitions it from etcd while the test still sees its API and the receiver still hears it.
 */
export async function netnsCluster(lab: NetLab, rxPort: number, over: Record<string, unknown> = {}): Promise<{ c: TestCluster; nodes: NetNode[]; rxUrl: string; fwd: Forwarder }> {
  const etcdAnchor = lab.anchor();
  const appAnchor = lab.anchor();
  const fwd = await new Forwarder().start(appAnchor, rxPort);
  const etcd = await EtcdCluster.start([0, 1, 2].map(() => ({ extraClientHosts: [etcdAnchor] })));
  const nodes: NetNode[] = [];
  try {
    for (let i = 1; i <= 3; i++) {
      const ns = lab.namespace(`n${i}`);
      const etcdLink = lab.link(ns, `n${i}e`, [etcdAnchor]);
      const app = lab.link(ns, `n${i}a`, [appAnchor]);
      const port = await freePort();
      const node = new RotaProcess(
        `n${i}`,
        port,
        {
          listen: { host: app.nsAddr, port },
          auth: { required: false },
          node: { id: `n${i}`, attributes: { rack: `r${i}` } },
          etcd: { endpoints: [0, 1, 2].map((m) => etcd.endpointOn(m, etcdAnchor)), prefix: '/rota/' },
          shutdown: { graceMs: 10_000 },
          process: { killGraceMs: 1_000 },
          log: { level: 'info' },
          ...over,
        },
        { host: app.nsAddr, wrap: lab.wrap(ns) },
      );
      nodes.push({ node, ns, app, etcd: etcdLink });
    }
    await Promise.all(nodes.map((n) => n.node.start()));
  } catch (e) {
    for (const n of nodes) n.node.cleanup();
    await etcd.stop();
    await fwd.stop();
    throw e;
  }
  return { c: new TestCluster(etcd, nodes.map((n) => n.node)), nodes, rxUrl: `http://${appAnchor}:${fwd.port}`, fwd };
}

/** Waits until a node that was cut off answers /readyz 200 again (it registered a new incarnation). */
export async function rejoined(n: RotaProcess, timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => (await fetch(`${n.url}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200, `${n.id} ready again`, timeoutMs, 200);
}

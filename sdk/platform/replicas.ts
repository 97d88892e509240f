import type { NatsConnection, ServerInfo } from '@nats-io/nats-core';
import type { JetStreamManager } from '@nats-io/jetstream';

/**
 * How many replicas Stratus gives the streams, KV buckets and object store it creates, and why.
 * Chosen once at start-up by each program's main.ts from the NATS cluster it connects to.
 */
export interface ReplicaChoice {
  replicas: number;
  /** "configured": STRATUS_REPLICAS said so; "detected": counted from the cluster. */
  source: 'configured' | 'detected';
  /** Client URLs of the cluster's servers (the connected one included), as its INFO lists them. */
  servers: string[];
  /** Name of the NATS cluster, or undefined for a single server. */
  cluster: string | undefined;
}

/**
 * Replicas for a cluster of `serverCount` servers. Three from three servers up; otherwise one.
 * NATS recommends R3 (survives losing one server) and advises against R2, which survives nothing
 * R1 does not and doubles the writes; more than three buys little for Stratus' data.
 */
export function replicasFor(serverCount: number): number {
  return serverCount >= 3 ? 3 : 1;
}

/**
 * The servers of the cluster, from a server's INFO: `connect_urls` lists the client URLs of every
 * server routed to it, itself included (nats-server 2.x). A server configured with
 * `no_advertise: true` sends none; it counts as one, and STRATUS_REPLICAS must say more.
 */
export function clusterServers(info: Pick<ServerInfo, 'host' | 'port' | 'cluster' | 'connect_urls'> | undefined): string[] {
  if (!info) return [];
  const self = `${info.host}:${info.port}`;
  if (!info.cluster) return [self];
  const urls = new Set(info.connect_urls ?? []);
  if (urls.size === 0) urls.add(self);
  return [...urls].sort();
}

/** Options for {@link chooseReplicas}. */
export interface ChooseReplicasOptions {
  /** STRATUS_REPLICAS, when set: used as is. */
  configured: number | undefined;
  /**
   * A server that has just started may not have routed to all its peers yet, so its INFO lists
   * fewer servers than the cluster has. While fewer than three are listed, wait up to this long
   * for more (INFO updates arrive as routes form). Default 5000.
   */
  settleMs?: number;
}

/**
 * Picks the replica count: STRATUS_REPLICAS when given, else counted from the cluster the
 * connection found. No system-account access is needed: the count comes from the server INFO
 * every client receives (and that nats.js keeps current as routes come and go).
 */
export async function chooseReplicas(nc: NatsConnection, options: ChooseReplicasOptions): Promise<ReplicaChoice> {
  const cluster = nc.info?.cluster;
  if (options.configured !== undefined) {
    if (!Number.isInteger(options.configured) || options.configured < 1 || options.configured > 5) {
      throw new Error(`STRATUS_REPLICAS=${options.configured}: JetStream allows 1 to 5 replicas (1, 3 and 5 are the useful ones)`);
    }
    return { replicas: options.configured, source: 'configured', servers: clusterServers(nc.info), cluster };
  }
  const until = Date.now() + (options.settleMs ?? 5000);
  let servers = clusterServers(nc.info);
  while (cluster && servers.length < 3 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    servers = clusterServers(nc.info);
  }
  return { replicas: replicasFor(servers.length), source: 'detected', servers, cluster };
}

/** The start-up log line that says which replica count is used and why. */
export function describeReplicaChoice(c: ReplicaChoice): string {
  const what = `replicas ${c.replicas} for Stratus streams, KV buckets and the object store`;
  if (c.source === 'configured') return `${what} (STRATUS_REPLICAS)`;
  if (!c.cluster) return `${what}: the NATS server is not clustered (STRATUS_REPLICAS overrides)`;
  return `${what}: NATS cluster '${c.cluster}' has ${c.servers.length} server(s) (STRATUS_REPLICAS overrides)`;
}

/** Stratus' own streams: KV buckets, the code object store and the STRATUS_* streams. */
function isStratusStream(name: string): boolean {
  return name.startsWith('KV_stratus_') || name.startsWith('OBJ_stratus_') || name.startsWith('STRATUS_');
}

/**
 * Stratus streams that already exist with a replica count other than `replicas` (made when the
 * cluster was smaller, or by another setting). They are left as they are — changing replication
 * under a live cluster is the operator's call — and listed so start-up can say how to fix them.
 */
export async function mismatchedStreams(jsm: JetStreamManager, replicas: number): Promise<Array<{ stream: string; replicas: number }>> {
  const found: Array<{ stream: string; replicas: number }> = [];
  for await (const si of jsm.streams.list()) {
    const r = si.config.num_replicas || 1;
    if (isStratusStream(si.config.name) && r !== replicas) found.push({ stream: si.config.name, replicas: r });
  }
  return found;
}

import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { Objm } from '@nats-io/obj';
import { StratusError } from './errors';
import { BUCKETS } from './nats-layout';
import { CodeStore } from './code-store';
import type { Logger } from './logger';

/** How a Stratus program reaches NATS. */
export interface NatsOptions {
  /** Comma-separated or list of server URLs. */
  servers: string | string[];
  /** Connection name, shown by the NATS server's monitoring. */
  name: string;
  /** Optional user credentials: token, or user and password. */
  token?: string;
  user?: string;
  pass?: string;
  /** How long the first connection may take before start-up fails. */
  connectTimeoutMs: number;
}

/** Connects, reconnecting forever afterwards; start-up fails with ServiceUnavailable naming the servers. */
export async function connectNats(options: NatsOptions, logger: Logger): Promise<NatsConnection> {
  const servers = Array.isArray(options.servers) ? options.servers : options.servers.split(',').map((s) => s.trim());
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name: options.name,
      token: options.token,
      user: options.user,
      pass: options.pass,
      timeout: options.connectTimeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
  } catch (cause) {
    throw new StratusError('ServiceUnavailable', `cannot reach NATS at ${servers.join(', ')}: start nats-server with JetStream (-js) or fix STRATUS_NATS_URL`, { cause });
  }
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect') logger.warn(`nats ${s.type}`, { server: 'server' in s ? s.server : undefined });
    }
  })().catch(() => undefined);
  return nc;
}

/**
 * Refuses a server whose max_payload is under `minBytes`: otherwise events Stratus promises to
 * accept would fail at publish time with an error that points nowhere near the cause.
 */
export function requireMaxPayload(nc: NatsConnection, minBytes: number): void {
  const max = nc.info?.max_payload ?? 0;
  if (max < minBytes) {
    throw new StratusError('InvalidRequest', `nats-server allows messages of at most ${max} bytes, too small for 1 MB async events and their invocation records: set max_payload: ${minBytes} (or more) in the nats-server configuration`);
  }
}

/** Opens (creating when missing) the Object Store bucket holding code bundles. */
export async function openCodeStore(nc: NatsConnection, replicas: number): Promise<CodeStore> {
  const objm = new Objm(nc);
  const store = await objm.create(BUCKETS.code, { replicas, description: 'Stratus code bundles and layers, by sha256' });
  return new CodeStore(store);
}

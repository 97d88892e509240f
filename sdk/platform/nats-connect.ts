import { connect } from '@nats-io/transport-node';
import { AuthorizationError, type NatsConnection } from '@nats-io/nats-core';
import { Objm } from '@nats-io/obj';
import { StratusError } from '../core/errors';
import { BUCKETS } from './nats-layout';
import { CodeStore } from './code-store';
import type { Logger } from './logger';
import { loadCaBundle, loadTlsIdentity, natsTlsWanted, type NatsTlsFiles } from './tls';

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
  /** TLS to NATS: with any file set the connection is TLS (verified against the CA) or fails. */
  tls?: NatsTlsFiles;
}

/** nats.js TLS options from the configured files, read and checked now so a bad file fails start-up by name. */
function natsTlsOptions(files: NatsTlsFiles | undefined): { ca?: string; cert?: string; key?: string } | undefined {
  if (!files || !natsTlsWanted(files)) return undefined;
  const ca = loadCaBundle(files.caFile, 'STRATUS_NATS_CA_FILE');
  const identity = loadTlsIdentity(files.certFile, files.keyFile, { cert: 'STRATUS_NATS_CERT_FILE', key: 'STRATUS_NATS_KEY_FILE' });
  return { ca: ca?.toString(), cert: identity?.cert.toString(), key: identity?.key.toString() };
}

/** Whether a failed connection failed in the TLS handshake or negotiation rather than reaching the server. */
function isTlsFailure(err: unknown): boolean {
  for (let e = err as { message?: string; code?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (/tls|certificate|self[- ]signed|SSL/i.test(`${e.code ?? ''} ${e.message ?? ''}`)) return true;
  }
  return false;
}

/** Connects, reconnecting forever afterwards; start-up fails with ServiceUnavailable naming the servers. */
export async function connectNats(options: NatsOptions, logger: Logger): Promise<NatsConnection> {
  const servers = Array.isArray(options.servers) ? options.servers : options.servers.split(',').map((s) => s.trim());
  if (Boolean(options.user) !== Boolean(options.pass)) {
    throw new StratusError('InvalidRequest', 'a NATS user needs its password and a password its user: set both STRATUS_NATS_USER and STRATUS_NATS_PASSWORD, or neither');
  }
  const tls = natsTlsOptions(options.tls);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name: options.name,
      token: options.token,
      user: options.user,
      pass: options.pass,
      // Set, nats.js upgrades to TLS and refuses a server that offers none; unset, a tls:// URL still asks for it.
      ...(tls ? { tls } : {}),
      timeout: options.connectTimeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // A server whose host drops off the network never closes the connection: without pings
      // answered, the client notices only by these. nats.js waits 2 x 2 min by default, which
      // leaves a router deaf to heartbeats (so with no agents) for minutes; this moves it to
      // another server within about 6-8 s.
      pingInterval: 2000,
      maxPingOut: 3,
      // nats.js otherwise builds an Error (a stack capture) up front for every request, JetStream
      // publish and fetch, in case it times out: about 7% of a router's CPU on the async path. Our
      // NATS errors are wrapped with what was being done (viaNats), which is what a reader needs.
      noAsyncTraces: true,
    });
  } catch (cause) {
    if (cause instanceof AuthorizationError) {
      throw new StratusError('Unauthenticated', `NATS at ${servers.join(', ')} refused the credentials: check STRATUS_NATS_USER and STRATUS_NATS_PASSWORD (or STRATUS_NATS_TOKEN) against the nats-server authorization block`, { cause });
    }
    if (isTlsFailure(cause)) {
      const detail = (cause as Error).message;
      throw new StratusError('ServiceUnavailable', `TLS with NATS at ${servers.join(', ')} failed (${detail}): ${tls ? 'check that the server has tls {} configured and that STRATUS_NATS_CA_FILE holds the CA that signed its certificate' : 'the server requires TLS: set STRATUS_NATS_CA_FILE to the CA that signed its certificate'}`, { cause });
    }
    throw new StratusError('ServiceUnavailable', `cannot reach NATS at ${servers.join(', ')}: start nats-server with JetStream (-js) or fix STRATUS_NATS_URL`, { cause });
  }
  (async () => {
    let serverErrors = 0;
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect') logger.warn(`nats ${s.type}`, { server: 'server' in s ? s.server : undefined });
      // A permission violation leaves the connection open and the operation silently unanswered:
      // say which subject the NATS user lacks (logged once per hundred, so it cannot flood the log).
      if (s.type === 'error' && serverErrors++ % 100 === 0) logger.error('nats server error (a permissions violation names the subject this NATS user lacks: see deploy/nats)', { err: s.error, errors: serverErrors });
    }
  })().catch((err: unknown) => {
    // The status stream ends with the connection; failing early only loses these log lines, so say so.
    logger.warn('nats status watch stopped: disconnects and server errors are no longer logged', { err });
  });
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

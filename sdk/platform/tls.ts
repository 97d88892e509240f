import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { StratusError } from '../core/errors';

/** A server's certificate chain and private key, PEM, checked to belong together. */
export interface TlsIdentity {
  cert: Buffer;
  key: Buffer;
  /** The leaf certificate's subject and names, for the start-up log line. */
  subject: string;
  validTo: Date;
}

/** Which variables a file came from, so an error names the one to fix. */
export interface TlsFileNames {
  cert: string;
  key: string;
}

/** The variables routers and agents read their serving certificate from. */
export const TLS_FILE_VARIABLES: TlsFileNames = { cert: 'STRATUS_TLS_CERT_FILE', key: 'STRATUS_TLS_KEY_FILE' };

/** Whether a bind address keeps traffic on this machine (plain text is then no exposure). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function readPem(file: string, variable: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (cause) {
    throw new StratusError('InvalidRequest', `${variable}=${file}: cannot read the ${what} (${(cause as Error).message}): point ${variable} at a readable PEM file`, { cause });
  }
}

/**
 * Loads a TLS identity from PEM files, refusing at start-up what would otherwise fail at the
 * first handshake with an error no caller can act on: a missing half, a key that does not match
 * the certificate, an expired certificate.
 */
export function loadTlsIdentity(certFile: string | undefined, keyFile: string | undefined, names: TlsFileNames, now = new Date()): TlsIdentity | undefined {
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) {
    throw new StratusError('InvalidRequest', `TLS needs a certificate and its key: set both ${names.cert} and ${names.key}, or neither to serve without TLS`);
  }
  const cert = readPem(certFile, names.cert, 'certificate');
  const key = readPem(keyFile, names.key, 'private key');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (cause) {
    throw new StratusError('InvalidRequest', `${names.cert}=${certFile} is not a PEM certificate: give the server certificate (chain), leaf first`, { cause });
  }
  let matches: boolean;
  try {
    matches = leaf.checkPrivateKey(createPrivateKey(key));
  } catch (cause) {
    throw new StratusError('InvalidRequest', `${names.key}=${keyFile} is not a PEM private key (an encrypted key needs decrypting first: openssl pkey -in key.pem -out key.pem)`, { cause });
  }
  if (!matches) throw new StratusError('InvalidRequest', `${names.key}=${keyFile} is not the key of the certificate in ${names.cert}=${certFile}: give the matching pair`);
  const validTo = new Date(leaf.validTo);
  if (validTo.getTime() <= now.getTime()) {
    throw new StratusError('InvalidRequest', `the certificate in ${names.cert}=${certFile} expired on ${validTo.toISOString()}: renew it`);
  }
  const altNames = leaf.subjectAltName ? ` (${leaf.subjectAltName})` : '';
  return { cert, key, subject: `${leaf.subject.replace(/\n/g, ', ')}${altNames}`, validTo };
}

/** Loads a CA bundle (PEM) peers are verified against. */
export function loadCaBundle(caFile: string | undefined, variable: string): Buffer | undefined {
  if (!caFile) return undefined;
  const ca = readPem(caFile, variable, 'CA certificate');
  try {
    new X509Certificate(ca);
  } catch (cause) {
    throw new StratusError('InvalidRequest', `${variable}=${caFile} is not a PEM certificate: give the CA certificate(s) that signed the peers' certificates`, { cause });
  }
  return ca;
}

/** gRPC server credentials: TLS with the identity, else plain text. */
export function grpcServerCredentials(identity: TlsIdentity | undefined): grpc.ServerCredentials {
  if (!identity) return grpc.ServerCredentials.createInsecure();
  // Client certificates are not asked for: callers authenticate with bearer tokens (API tokens, the cluster token).
  return grpc.ServerCredentials.createSsl(null, [{ cert_chain: identity.cert, private_key: identity.key }], false);
}

/** How a router dials agents: TLS verified against `ca`, optionally checking one shared name instead of each agent's address. */
export interface AgentDialTls {
  ca: Buffer;
  /** The name every agent's certificate carries (STRATUS_AGENT_TLS_SERVER_NAME), for clusters whose agents share one certificate. */
  serverName: string | undefined;
}

/** Channel credentials and options for dialing an agent. */
export function agentChannelCredentials(tls: AgentDialTls | undefined): { credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions } {
  if (!tls) return { credentials: grpc.credentials.createInsecure(), options: {} };
  return {
    credentials: grpc.credentials.createSsl(tls.ca),
    options: tls.serverName ? { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName } : {},
  };
}

/** NATS TLS settings (STRATUS_NATS_CA_FILE, STRATUS_NATS_CERT_FILE, STRATUS_NATS_KEY_FILE). */
export interface NatsTlsFiles {
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
}

/** No NATS TLS file set: plain text unless the URL says tls://. */
export const NO_NATS_TLS: NatsTlsFiles = Object.freeze({ caFile: undefined, certFile: undefined, keyFile: undefined });

/** Whether any NATS TLS file is set: then the connection must be TLS, never plain text. */
export function natsTlsWanted(files: NatsTlsFiles): boolean {
  return Boolean(files.caFile || files.certFile || files.keyFile);
}

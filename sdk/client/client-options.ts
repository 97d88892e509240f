import { readFileSync } from 'node:fs';
import { StratusError } from '../core/errors';

/** TLS to the routers. The server's certificate is always verified: against `ca`/`caFile` when given, else the system's roots. */
export interface ClientTlsOptions {
  /** CA certificate(s), PEM, that signed the routers' certificates. */
  ca?: string | Buffer;
  /** The same, read from a file (e.g. the ca.pem `stratus dev --tls` writes). */
  caFile?: string;
  /** Name to check in the router's certificate instead of the endpoint's host. */
  serverName?: string;
}

/** TLS settings after resolution. */
export interface ResolvedClientTls {
  ca: Buffer | undefined;
  serverName: string | undefined;
}

/** How a StratusClient reaches and talks to routers. */
export interface StratusClientOptions {
  /** Router gRPC addresses (host:port; grpcs://host:port or https://host:port turns TLS on). With several, the client fails over when one is unreachable. */
  endpoints: string | string[];
  /** TLS to the routers: true (system roots) or options; implied by a grpcs:// or https:// endpoint. Default off. */
  tls?: boolean | ClientTlsOptions;
  /**
   * API bearer token, or a function returning it on every call: inside a function the credentials
   * change with each invocation (STRATUS_TOKEN), so StratusClient.fromFunctionEnvironment reads them per call.
   */
  token: string | (() => string);
  /** Deadline for calls that set none, in ms. Default 30000; invocations default to the function timeout plus this slack. */
  defaultTimeoutMs?: number;
  /** Longest to wait for a connection to one router before trying the next. Default 2000. */
  connectTimeoutMs?: number;
  /** Attempts for calls that are safe to retry (reads, uploads, throttled invocations). Default 3. */
  maxAttempts?: number;
  /** First backoff delay in ms (full jitter, doubling). Default 100. */
  backoffBaseMs?: number;
  /** Longest backoff delay in ms. Default 2000. */
  backoffCapMs?: number;
}

/** Options after defaults. */
export interface ResolvedClientOptions {
  endpoints: string[];
  tls: ResolvedClientTls | undefined;
  token: () => string;
  defaultTimeoutMs: number;
  connectTimeoutMs: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffCapMs: number;
}

/** Applies defaults and validates; the one place client options are resolved. */
export function resolveClientOptions(o: StratusClientOptions): ResolvedClientOptions {
  const given = (Array.isArray(o.endpoints) ? o.endpoints : o.endpoints.split(',')).map((e) => e.trim()).filter(Boolean);
  const secureScheme = given.some((e) => /^(grpcs|https):\/\//.test(e));
  if (secureScheme && given.some((e) => /^(grpc|http):\/\//.test(e))) {
    throw new StratusError('InvalidRequest', `endpoints ${given.join(', ')} mix TLS (grpcs://, https://) and plain text (grpc://, http://): routers of one cluster serve alike, so use one scheme`);
  }
  const endpoints = given.map((e) => e.replace(/^(grpcs?|https?):\/\//, ''));
  if (endpoints.length === 0) throw new StratusError('InvalidRequest', 'no router endpoint: pass --endpoint, set STRATUS_ENDPOINT, or run stratus dev');
  if (!o.token) throw new StratusError('Unauthenticated', 'no API token: pass --token, set STRATUS_TOKEN, or run stratus dev (it writes a profile)');
  const token = o.token;
  return {
    endpoints,
    tls: resolveTls(o.tls ?? secureScheme),
    token: typeof token === 'function' ? token : () => token,
    defaultTimeoutMs: o.defaultTimeoutMs ?? 30_000,
    connectTimeoutMs: o.connectTimeoutMs ?? 2000,
    maxAttempts: Math.max(1, o.maxAttempts ?? 3),
    backoffBaseMs: o.backoffBaseMs ?? 100,
    backoffCapMs: o.backoffCapMs ?? 2000,
  };
}

function resolveTls(tls: boolean | ClientTlsOptions): ResolvedClientTls | undefined {
  if (tls === false) return undefined;
  if (tls === true) return { ca: undefined, serverName: undefined };
  let ca = typeof tls.ca === 'string' ? Buffer.from(tls.ca) : tls.ca;
  if (!ca && tls.caFile) {
    try {
      ca = readFileSync(tls.caFile);
    } catch (cause) {
      throw new StratusError('InvalidRequest', `cannot read the CA file ${tls.caFile} (${(cause as Error).message}): pass --ca-file (or STRATUS_CA_FILE) a readable PEM file`, { cause });
    }
  }
  return { ca, serverName: tls.serverName };
}

import { StratusError } from '../core/errors';

/** How a StratusClient reaches and talks to routers. */
export interface StratusClientOptions {
  /** Router gRPC addresses (host:port). With several, the client fails over when one is unreachable. */
  endpoints: string | string[];
  /** API bearer token. */
  token: string;
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
  token: string;
  defaultTimeoutMs: number;
  connectTimeoutMs: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffCapMs: number;
}

/** Applies defaults and validates; the one place client options are resolved. */
export function resolveClientOptions(o: StratusClientOptions): ResolvedClientOptions {
  const endpoints = (Array.isArray(o.endpoints) ? o.endpoints : o.endpoints.split(','))
    .map((e) => e.trim().replace(/^(grpc|http):\/\//, ''))
    .filter(Boolean);
  if (endpoints.length === 0) throw new StratusError('InvalidRequest', 'no router endpoint: pass --endpoint, set STRATUS_ENDPOINT, or run stratus dev');
  if (!o.token) throw new StratusError('Unauthenticated', 'no API token: pass --token, set STRATUS_TOKEN, or run stratus dev (it writes a profile)');
  return {
    endpoints,
    token: o.token,
    defaultTimeoutMs: o.defaultTimeoutMs ?? 30_000,
    connectTimeoutMs: o.connectTimeoutMs ?? 2000,
    maxAttempts: Math.max(1, o.maxAttempts ?? 3),
    backoffBaseMs: o.backoffBaseMs ?? 100,
    backoffCapMs: o.backoffCapMs ?? 2000,
  };
}
